"""repohub as the real Distribution registry's token server and notification sink, driven by skopeo.

One scenario per database: the registry binary, a real ``repohub serve`` and skopeo, no mocks. Steps
build on each other (the registry keeps what was pushed), so they run in order inside one test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from repohub.auth.registry_token import Scope, issue_token, load_or_create_signing_key
from repohub.config import Settings
from repohub.domain.entities import Role
from tests.e2e.oci import Image, write_image
from tests.e2e.registry import Registry, Skopeo, registry_config, require_binaries, running_registry
from tests.server import cli, free_port, serve
from tests.world import World

PASSWORD = "pw-" + "x" * 8
EVENTS_TYPE = "application/vnd.docker.distribution.events.v1+json"


def eventually(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll until ``check`` returns something truthy: registry notifications arrive asynchronously."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def ok(done: Any) -> None:
    assert done.returncode == 0, f"skopeo failed:\n{done.stderr}"


def denied(done: Any) -> None:
    assert done.returncode != 0, "skopeo succeeded where it must be refused"
    assert "denied" in done.stderr or "unauthorized" in done.stderr.lower(), done.stderr


class Hub:
    """Reads the catalogue through the three dialects of a running repohub."""

    def __init__(self, url: str, tokens: dict[str, str]) -> None:
        self.url = url
        self.tokens = tokens

    def v1(self, method: str, path: str, user: str = "carol") -> httpx.Response:
        headers = {"Authorization": f"Token {self.tokens[user]}"}
        return httpx.request(method, f"{self.url}/v1{path}", headers=headers, timeout=30)

    def swr(self, method: str, path: str, user: str = "carol") -> httpx.Response:
        headers = {"X-Auth-Token": self.tokens[user]}
        return httpx.request(method, f"{self.url}/v2/manage{path}", headers=headers, timeout=30)

    def abeja(self, method: str, path: str, user: str = "carol") -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.request(method, f"{self.url}/organizations{path}", headers=headers, timeout=30)

    def v1_tags(self, repo: str) -> dict[str, str]:
        response = self.v1("GET", f"/repositories/acme/{repo}/tags")
        if response.status_code != 200:
            return {}
        return {item["tag"]: item["digest"] for item in response.json()}

    def swr_tags(self, repo: str) -> dict[str, tuple[str, int]]:
        response = self.swr("GET", f"/namespaces/acme/repos/{repo}/tags")
        assert response.status_code == 200, response.text
        return {item["tag"]: (item["digest"], item["size"]) for item in response.json()}

    def abeja_repo_id(self, org_id: int, repo: str) -> str:
        listing = self.abeja("GET", f"/{org_id}/registry/repositories").json()
        return next(item["id"] for item in listing["registry_repositories"] if item["name"] == repo)

    def abeja_tags(self, org_id: int, repo: str) -> dict[str, tuple[str, int]]:
        repo_id = self.abeja_repo_id(org_id, repo)
        response = self.abeja("GET", f"/{org_id}/registry/repositories/{repo_id}/tags")
        assert response.status_code == 200, response.text
        return {item["name"]: (item["digest"], item["size"]) for item in response.json()["tags"]}


async def test_images_pushed_pulled_and_deleted_through_the_registry(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    tokens = {
        "alice": await accounts.user("alice", password=PASSWORD),  # member of acme: pushes
        "bob": await accounts.user("bob", password=PASSWORD),  # viewer of acme: may only pull
        "carol": await accounts.user("carol", password=PASSWORD),  # admin of acme: deletes
    }
    org_id = await accounts.org("acme", owner="carol")
    await accounts.member("acme", "alice", Role.MEMBER)
    await accounts.member("acme", "bob", Role.VIEWER)

    registry_port, hub_port = free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    registry_url = f"http://127.0.0.1:{registry_port}"
    env = {"REPOHUB_REGISTRY_URL": registry_url, "REPOHUB_PUBLIC_URL": hub_url}
    fragment = cli(settings, "registry", "config", extra_env=env)
    assert f"realm: {hub_url}/registry/token" in fragment
    config = tmp_path / "registry.yml"
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))

    one = write_image(tmp_path / "one", "first image\n")
    two = write_image(tmp_path / "two", "second image\n")
    three = write_image(tmp_path / "three", "third image\n")
    skopeo = Skopeo(tmp_path)
    alice = ("--dest-creds", f"alice:{tokens['alice']}")
    with running_registry(config, registry_port) as registry:
        host = registry.host
        with serve(settings, extra_env=env, port=hub_port) as server:
            hub = Hub(server.url, tokens)
            _push_and_list(hub, skopeo, host, alice, org_id, one, two)
            _pull_counts(hub, skopeo, host, tmp_path)
            _access_rules(hub, skopeo, host, alice, one)
            _deletes_reach_the_registry(hub, skopeo, host, alice, org_id, one, two)
            _replayed_envelope_counts_once(hub, settings)

        # repohub is down: a push it never hears of (its token minted with repohub's own key).
        _push_behind_repohubs_back(settings, skopeo, host, three)
        registry.stop()  # the registry forgets the events it could not deliver
        registry.start()
        with serve(settings, extra_env=env, port=hub_port) as server:
            hub = Hub(server.url, tokens)
            assert "v9" not in hub.v1_tags("hello")
            report = cli(settings, "registry", "sync", extra_env=env)
            assert "added tag acme/hello:v9" in report, report
            assert hub.v1_tags("hello")["v9"] == three.digest
            assert hub.swr_tags("hello")["v9"] == (three.digest, three.size)
            assert cli(settings, "registry", "sync", extra_env=env).strip() == (
                "catalogue already matches the registry"
            )
            _registry_down(hub, registry)


def _push_and_list(
    hub: Hub, skopeo: Skopeo, host: str, alice: tuple[str, str], org_id: int, one: Image, two: Image
) -> None:
    ok(skopeo.push(one.layout, f"{host}/acme/hello:v1", *alice))
    ok(skopeo.push(two.layout, f"{host}/acme/hello:v2", *alice))
    ok(skopeo.push(two.layout, f"{host}/acme/hello:latest", *alice))  # shares v2's digest
    expected = {"v1": one.digest, "v2": two.digest, "latest": two.digest}
    eventually(lambda: hub.v1_tags("hello") == expected, "three tags in v1")
    sizes = {"v1": (one.digest, one.size), "v2": (two.digest, two.size), "latest": (two.digest, two.size)}
    assert hub.swr_tags("hello") == sizes
    listed = hub.swr("GET", "/namespaces/acme/repos/hello/tags").json()
    assert {item["schema"] for item in listed} == {2}  # skopeo pushed OCI manifests: schema 2
    assert hub.abeja_tags(org_id, "hello") == sizes
    detail = hub.v1("GET", "/repositories/acme/hello").json()
    assert detail["is_public"] is False  # a first push creates a private repository
    assert detail["pushed_at"] is not None
    swr_repo = hub.swr("GET", "/namespaces/acme/repos/hello").json()
    assert swr_repo["num_images"] == 3
    assert swr_repo["size"] == one.size + 2 * two.size
    assert swr_repo["creator_name"] == "alice"


def _pull_counts(hub: Hub, skopeo: Skopeo, host: str, tmp_path: Path) -> None:
    before = hub.v1("GET", "/repositories/acme/hello").json()
    assert before["pulled_at"] is None
    ok(skopeo.pull(f"{host}/acme/hello:v1", tmp_path / "pulled", "--src-creds", f"bob:{PASSWORD}"))
    after = eventually(
        lambda: (d := hub.v1("GET", "/repositories/acme/hello").json())["pulled_at"] and d, "pulled_at"
    )
    assert after["download"] == before["download"] + 1
    assert hub.swr("GET", "/namespaces/acme/repos/hello").json()["num_download"] == after["download"]


def _access_rules(hub: Hub, skopeo: Skopeo, host: str, alice: tuple[str, str], one: Image) -> None:
    denied(skopeo.inspect(f"{host}/acme/hello:v1", "--no-creds"))  # private: anonymous refused
    bob = ("--dest-creds", f"bob:{hub.tokens['bob']}")
    denied(skopeo.push(one.layout, f"{host}/acme/hello:viewer", *bob))  # a viewer may not push
    made = httpx.post(
        f"{hub.url}/v1/repositories/acme/",
        json={"repo_name": "pub", "is_public": True},
        headers={"Authorization": f"Token {hub.tokens['alice']}"},
    )
    assert made.status_code == 201, made.text
    ok(skopeo.push(one.layout, f"{host}/acme/pub:1.0", *alice))
    ok(skopeo.inspect(f"{host}/acme/pub:1.0", "--no-creds"))  # public: anonymous pulls
    denied(skopeo.push(one.layout, f"{host}/acme/pub:anon", "--dest-no-creds"))
    assert "viewer" not in hub.v1_tags("hello")
    eventually(lambda: hub.v1_tags("pub") == {"1.0": one.digest}, "the public repository's tag")


def _deletes_reach_the_registry(
    hub: Hub, skopeo: Skopeo, host: str, alice: tuple[str, str], org_id: int, one: Image, two: Image
) -> None:
    carol = ("--creds", f"carol:{PASSWORD}")
    denied_delete = hub.swr("DELETE", "/namespaces/acme/repos/hello/tags/v2", user="alice")
    assert denied_delete.status_code == 403, denied_delete.text  # members may not delete
    assert hub.swr("DELETE", "/namespaces/acme/repos/hello/tags/v2").status_code == 204
    assert skopeo.inspect(f"{host}/acme/hello:v2", *carol).returncode != 0
    ok(skopeo.inspect(f"{host}/acme/hello:latest", *carol))  # same digest, other tag: kept
    ok(skopeo.inspect(f"{host}/acme/hello:v1", *carol))
    expected = {"v1": one.digest, "latest": two.digest}
    eventually(lambda: hub.v1_tags("hello") == expected, "v2 gone, latest kept")

    repo_id = hub.abeja_repo_id(org_id, "pub")
    deleted = hub.abeja("DELETE", f"/{org_id}/registry/repositories/{repo_id}")
    assert deleted.status_code == 200, deleted.text
    assert skopeo.inspect(f"{host}/acme/pub:1.0", *carol).returncode != 0
    assert hub.v1("GET", "/repositories/acme/pub").status_code == 404
    time.sleep(1)  # the registry's delete events arrive after the catalogue forgot the repository
    assert hub.v1("GET", "/repositories/acme/pub").status_code == 404


def _replayed_envelope_counts_once(hub: Hub, settings: Settings) -> None:
    secret = Path(settings.data_dir, "registry-events.secret").read_text().strip()
    envelope = {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "timestamp": "2030-01-01T00:00:00.123456789Z",
                "action": "pull",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "repository": "acme/hello",
                    "tag": "v1",
                    "digest": "sha256:" + "0" * 64,
                },
                "request": {"method": "GET"},
                "actor": {"name": "bob"},
            }
        ]
    }
    before = hub.v1("GET", "/repositories/acme/hello").json()["download"]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": EVENTS_TYPE}
    sent_at = datetime.now(UTC)
    for expected in ({"applied": 1, "duplicates": 0}, {"applied": 0, "duplicates": 1}):
        answer = httpx.post(f"{hub.url}/registry/events", json=envelope, headers=headers)
        assert answer.status_code == 200, answer.text
        assert {key: answer.json()[key] for key in expected} == expected
    after = hub.v1("GET", "/repositories/acme/hello").json()
    assert after["download"] == before + 1
    # The event's time is in the future: it counts as the moment the envelope arrived.
    pulled_at = datetime.fromisoformat(after["pulled_at"].replace("Z", "+00:00"))
    assert sent_at - timedelta(seconds=1) <= pulled_at <= datetime.now(UTC)


def _push_behind_repohubs_back(settings: Settings, skopeo: Skopeo, host: str, image: Image) -> None:
    key = load_or_create_signing_key(
        Path(settings.data_dir, "registry-token.key"), Path(settings.data_dir, "registry-token.crt")
    )
    token = issue_token(
        key,
        issuer="repohub",
        service="repohub-registry",
        subject="alice",
        access=[Scope("repository", "acme/hello", ("pull", "push"))],
    )["token"]
    ok(skopeo.push(image.layout, f"{host}/acme/hello:v9", "--dest-registry-token", token))


def _registry_down(hub: Hub, registry: Registry) -> None:
    registry.stop()
    answer = hub.v1("DELETE", "/repositories/acme/hello")
    assert answer.status_code == 503, answer.text
    assert answer.json()["code"] == "unavailable"
    swr = hub.swr("DELETE", "/namespaces/acme/repos/hello/tags/v1")
    assert swr.status_code == 503 and "error_code" in swr.json(), swr.text
    assert hub.v1("GET", "/repositories/acme/hello").status_code == 200  # the catalogue kept it
    assert "v1" in hub.v1_tags("hello")
