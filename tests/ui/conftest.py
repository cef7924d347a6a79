"""The web catalogue's bed: a real ``repohub serve`` with the real Distribution registry, images pushed
with skopeo, and headless Debian Chromium driven by Playwright (async API, on the session's loop).

One catalogue per database for the module (``catalogue``): namespace acme (carol its admin, alice a
member), mallory an outsider; public acme/web (tags scratch, v1, multi, v2 pushed in that order, so v2
is the newest; v1 pulled once and protected by an immutable rule; a Markdown full description with
a script and an onerror in it) and private acme/secret (tag v1); carol's namespace bulk holds BULK private
repositories, for paging. Every request any page makes is logged in ``Catalogue.requests`` so the
last test can check that none left the served host.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, Page, Request, async_playwright

from repohub.config import Settings
from repohub.domain.accounts import project_id_for
from repohub.domain.entities import Role
from tests import needs
from tests.e2e.oci import Image, Index, write_image, write_index
from tests.e2e.registry import Registry, Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import eventually, ok
from tests.immutable_rules import rule
from tests.server import Server, cli, free_port, serve
from tests.world import World, empty_tables

__all__ = ["BULK", "PASSWORD", "README", "Catalogue", "artifact_dir"]

PASSWORD = "pw-" + "u" * 10
README = """# Web server image

A small image for the catalogue's tests.

- first point
- second point

<script>alert(1)</script>

<img src=x onerror=alert(1)>
"""
DESCRIPTION = "The acme web server"
BULK = 120  # private repositories of carol's namespace bulk: more than a page of the list
CHROMIUM_ARGS = list(needs.CHROMIUM_FLAGS)
# Short: a missing element fails its test in seconds, not after Playwright's default 30 s.
TIMEOUT_MS = 5_000


def require_chromium() -> str:
    return needs.chromium()


def artifact_dir() -> Path:
    """``$REPOHUB_TEST_ARTIFACTS`` if set, else ``<repo>/.artifacts/ui`` (ignored by git)."""
    configured = os.environ.get("REPOHUB_TEST_ARTIFACTS")
    root = Path(configured) if configured else Path(__file__).resolve().parents[2] / ".artifacts"
    directory = root / "ui" if not configured else root
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@dataclass
class Catalogue:
    """What the tests drive: the served repohub, the registry, what was pushed, and the request log."""

    server: Server
    registry: Registry
    tokens: dict[str, str]
    images: dict[str, Image]  # acme/web's image tags
    multi: Index  # acme/web:multi
    requests: list[str] = field(default_factory=list)  # every URL any page requested

    @property
    def url(self) -> str:
        return self.server.url

    def v1(self, method: str, path: str, user: str = "carol", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Token {self.tokens[user]}"}
        return httpx.request(method, f"{self.url}/v1{path}", headers=headers, timeout=30, **kwargs)

    def swr(self, method: str, path: str, user: str = "carol", **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.tokens[user]}
        return httpx.request(method, f"{self.url}/v2{path}", headers=headers, timeout=30, **kwargs)

    def v1_tags(self, repo: str = "web") -> dict[str, dict[str, Any]]:
        response = self.v1("GET", f"/repositories/acme/{repo}/tags")
        assert response.status_code == 200, response.text
        return {item["tag"]: item for item in response.json()}

    def swr_sizes(self, repo: str = "web") -> dict[str, int]:
        """Each tag's size as the catalogue keeps it (v1's tag list has no size; SWR's has)."""
        response = self.swr("GET", f"/manage/namespaces/acme/repos/{repo}/tags")
        assert response.status_code == 200, response.text
        return {item["tag"]: int(item["size"]) for item in response.json()}


async def _people(world: World) -> dict[str, str]:
    tokens = {name: await world.user(name, password=PASSWORD) for name in ("carol", "alice", "mallory")}
    await world.org("acme", owner="carol", members={"alice": Role.MEMBER})
    # Enough private repositories for several list pages, seen by carol only (she owns bulk).
    await world.org("bulk", owner="carol")
    for number in range(BULK):
        await world.repository(f"bulk/r{number:03}", by="carol")
    return tokens


async def _instance_rules_path(world: World, settings: Settings) -> str:
    async with world.service("carol") as service:
        user = service.principal.user
        assert user is not None
        project = project_id_for(user)
    instance = settings.resolved_swr_instance_id
    return f"/{project}/instances/{instance}/namespaces/acme/immutabletagrules"


def _create_repositories(hub: Catalogue) -> None:
    web = {"repo_name": "web", "is_public": True, "description": DESCRIPTION, "full_description": README}
    secret = {"repo_name": "secret", "is_public": False, "description": "not for outsiders"}
    for body in (web, secret):
        created = hub.v1("POST", "/repositories/acme", json=body)
        assert created.status_code == 201, created.text


def _push(hub: Catalogue, skopeo: Skopeo, secret_image: Image) -> None:
    """Each push waits for its tag to reach the catalogue, so push order is time order."""
    host, alice = hub.registry.host, ("--dest-creds", f"alice:{hub.tokens['alice']}")
    for tag in ("scratch", "v1"):
        ok(skopeo.push(hub.images[tag].layout, f"{host}/acme/web:{tag}", *alice))
        eventually(lambda tag=tag: tag in hub.v1_tags(), f"acme/web:{tag} in the catalogue")
    multi = f"docker://{host}/acme/web:multi"
    ok(skopeo.run("copy", "--all", "--dest-tls-verify=false", *alice, f"oci:{hub.multi.layout}", multi))
    eventually(lambda: "multi" in hub.v1_tags(), "acme/web:multi in the catalogue")
    ok(skopeo.push(hub.images["v2"].layout, f"{host}/acme/web:v2", *alice))
    eventually(lambda: "v2" in hub.v1_tags(), "acme/web:v2 in the catalogue")
    ok(skopeo.push(secret_image.layout, f"{host}/acme/secret:v1", *alice))
    eventually(lambda: "v1" in hub.v1_tags("secret"), "acme/secret:v1 in the catalogue")
    # One pull of v1 (inspect GETs its manifest once), so one row has a last-pulled time to show.
    ok(skopeo.inspect(f"{host}/acme/web:v1", "--creds", f"alice:{hub.tokens['alice']}"))
    eventually(lambda: hub.v1_tags()["v1"]["download"] == 1, "the pull of acme/web:v1 counted")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def catalogue(
    app: FastAPI, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Catalogue]:
    require_binaries()
    require_chromium()
    await empty_tables(app)
    world = World(app)
    tokens = await _people(world)
    rules_path = await _instance_rules_path(world, settings)
    work = tmp_path_factory.mktemp("ui")
    registry_port, hub_port = free_port(), free_port()
    env = {
        "REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
        "REPOHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
        # The pull command then names the registry actually serving the images.
        "REPOHUB_REGISTRY_HOST": f"127.0.0.1:{registry_port}",
        # The tests sign the same people in many times a minute; the limits have their own tests.
        "REPOHUB_LOGIN_RATE_PER_USER": "0",
        "REPOHUB_LOGIN_RATE_PER_CLIENT": "0",
    }
    config = work / "registry.yml"
    config.write_text(
        registry_config(cli(settings, "registry", "config", extra_env=env), work / "storage", registry_port)
    )
    images = {tag: write_image(work / tag, f"acme web {tag}\n") for tag in ("scratch", "v1", "v2")}
    multi = write_index(work / "multi", "acme web multi ", tag="latest")
    secret_image = write_image(work / "secret", "acme secret\n")
    with ExitStack() as stack:
        registry = stack.enter_context(running_registry(config, registry_port))
        server = stack.enter_context(serve(settings, extra_env=env, port=hub_port))
        hub = Catalogue(server, registry, tokens, images, multi)
        _create_repositories(hub)
        _push(hub, Skopeo(work), secret_image)
        protected = hub.swr("POST", rules_path, json=rule("v1"))
        assert protected.status_code == 201, protected.text
        yield hub


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


def record(catalogue: Catalogue, context: BrowserContext) -> None:
    def seen(request: Request) -> None:
        catalogue.requests.append(request.url)

    context.on("request", seen)


async def new_page(catalogue: Catalogue, browser: Browser, **options: Any) -> Page:
    """A page in a fresh context (no cookies) whose every request is logged in the catalogue."""
    context = await browser.new_context(base_url=catalogue.url, **options)
    context.set_default_timeout(TIMEOUT_MS)
    record(catalogue, context)
    return await context.new_page()


@pytest_asyncio.fixture(loop_scope="session")
async def page(catalogue: Catalogue, browser: Browser) -> AsyncIterator[Page]:
    opened = await new_page(catalogue, browser, permissions=["clipboard-read", "clipboard-write"])
    yield opened
    await opened.context.close()


def foreign(catalogue: Catalogue) -> list[str]:
    """Requested URLs whose origin is not the served repohub's (data: and about: are not requests
    to a host)."""
    served = urlsplit(catalogue.url).netloc
    hosted = [url for url in catalogue.requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    others = [
        url
        for url in catalogue.requests
        if urlsplit(url).scheme not in ("http", "https", "ws", "wss", "data", "about", "blob")
    ]
    return [url for url in hosted if urlsplit(url).netloc != served] + others


@pytest.fixture
def artifacts() -> Iterator[Path]:
    yield artifact_dir()
