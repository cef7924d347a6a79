"""Retag through huaweicloudsdkswr's own ``create_repo_tag`` (AK/SK) against a real ``repohub serve``
wired to the real Distribution registry; images pushed and inspected with skopeo.

One registry and one server for the module (per database); the steps build on each other, so they run
in order inside one test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from huaweicloudsdkcore.exceptions.exceptions import ServerResponseException
from huaweicloudsdkswr.v2 import (
    CreateRepoTagRequest,
    CreateRepoTagRequestBody,
    ListRepositoryTagsRequest,
    ShowRepositoryRequest,
    SwrClient,
)

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.api.swr.helpers import add_tag
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.e2e.oci import Image, write_image
from tests.e2e.registry import Registry, Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import PASSWORD, Hub, eventually, ok
from tests.server import Server, cli, free_port, serve
from tests.world import World


@dataclass(frozen=True)
class Stack:
    registry: Registry
    server: Server
    skopeo: Skopeo
    images: dict[str, Image]


@pytest.fixture(scope="module")
def stack(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_binaries()
    root = tmp_path_factory.mktemp("retag")
    registry_port, hub_port = free_port(), free_port()
    env = {
        "REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
        "REPOHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
    }
    config = root / "registry.yml"
    config.write_text(
        registry_config(cli(settings, "registry", "config", extra_env=env), root / "data", registry_port)
    )
    images = {name: write_image(root / name, f"retag {name}\n") for name in ("one", "two")}
    with (
        running_registry(config, registry_port) as registry,
        serve(settings, extra_env=env, port=hub_port) as server,
    ):
        yield Stack(registry, server, Skopeo(root), images)


def retag(client: SwrClient, source: str, destination: str, override: bool | None = None) -> None:
    body = CreateRepoTagRequestBody(source_tag=source, destination_tag=destination, override=override)
    client.create_repo_tag(CreateRepoTagRequest(namespace="acme", repository="app", body=body))


def sdk_tags(client: SwrClient) -> dict[str, str]:
    listed = client.list_repository_tags(ListRepositoryTagsRequest(namespace="acme", repository="app"))
    return {item.tag: item.digest for item in listed.body}


async def test_retag_through_the_sdk_reaches_the_registry_and_every_dialect(
    stack: Stack, accounts: World, app, tmp_path: Path
) -> None:
    tokens = {
        name: await accounts.user(name, password=PASSWORD) for name in ("alice", "bob", "carol", "dave")
    }
    org_id = await accounts.org("acme", owner="carol", members={"alice": Role.MEMBER, "bob": Role.VIEWER})
    alice = swr_client(stack.server.url, await access_key(accounts, "alice"))
    bob = swr_client(stack.server.url, await access_key(accounts, "bob"))
    dave = swr_client(stack.server.url, await access_key(accounts, "dave"))
    hub = Hub(stack.server.url, tokens)
    host, one, two = stack.registry.host, stack.images["one"], stack.images["two"]
    creds = ("--dest-creds", f"alice:{tokens['alice']}")

    def inspected(tag: str) -> str | None:
        done = stack.skopeo.inspect(f"{host}/acme/app:{tag}", "--creds", f"carol:{PASSWORD}")
        return json.loads(done.stdout)["Digest"] if done.returncode == 0 else None

    ok(stack.skopeo.push(one.layout, f"{host}/acme/app:v1", *creds))
    ok(stack.skopeo.push(two.layout, f"{host}/acme/app:v2", *creds))
    eventually(lambda: hub.v1_tags("app") == {"v1": one.digest, "v2": two.digest}, "both pushes")

    # A new tag: in the registry and in every dialect's list at once (no waiting for the event).
    retag(alice, "v1", "stable")
    assert inspected("stable") == one.digest
    expected = {"v1": one.digest, "v2": two.digest, "stable": one.digest}
    assert sdk_tags(alice) == expected
    assert hub.v1_tags("app") == expected
    assert hub.abeja_tags(org_id, "app")["stable"] == (one.digest, one.size)
    shown = alice.show_repository(ShowRepositoryRequest(namespace="acme", repository="app"))
    assert (shown.num_images, shown.size) == (3, 2 * one.size + two.size)

    # An existing destination: refused without override, nothing changed; moved with it.
    refused(lambda: retag(alice, "v1", "v2"), 409)
    refused(lambda: retag(alice, "v1", "v2", override=False), 409)
    assert inspected("v2") == two.digest
    assert sdk_tags(alice) == expected
    retag(alice, "v1", "v2", override=True)
    assert inspected("v2") == one.digest
    expected = {"v1": one.digest, "v2": one.digest, "stable": one.digest}
    assert sdk_tags(alice) == expected
    assert hub.swr_tags("app")["v2"] == (one.digest, one.size)

    # Missing sources (in the catalogue; in the registry only), a viewer, an outsider.
    assert refused(lambda: retag(alice, "nope", "new"), 404).error_code == "SVCSTG.SWR.4040001"
    await add_tag(app, "acme", "app", "ghost")  # the catalogue knows it, the registry does not
    refused(lambda: retag(alice, "ghost", "new"), 404)
    refused(lambda: retag(bob, "v1", "new"), 403)
    refused(lambda: retag(dave, "v1", "new"), 404)  # a private repository dave cannot see
    assert inspected("new") is None
    assert set(sdk_tags(alice)) == {*expected, "ghost"}

    # The registry's push events for repohub's own PUTs leave the tags as they are.
    pulled = tmp_path / "pulled"
    ok(stack.skopeo.pull(f"{host}/acme/app:stable", pulled, "--src-creds", f"bob:{PASSWORD}"))
    eventually(lambda: hub.v1("GET", "/repositories/acme/app").json()["download"] >= 1, "the pull event")
    assert {tag: digest for tag, digest in hub.v1_tags("app").items() if tag != "ghost"} == expected

    # The registry down: 503, and the catalogue did not change either.
    stack.registry.stop()
    try:
        with pytest.raises(ServerResponseException) as caught:
            retag(alice, "v1", "later")
        assert caught.value.status_code == 503 and caught.value.error_code.startswith("SVCSTG.SWR.503")
        assert "later" not in sdk_tags(alice)
    finally:
        stack.registry.start()


async def test_bad_retag_bodies_are_400_through_the_server(stack: Stack, accounts: World) -> None:
    token = await accounts.user("alice")
    await accounts.repository("alice/app", by="alice")
    url = f"{stack.server.url}/v2/manage/namespaces/alice/repos/app/tags"
    bodies = (
        {"source_tag": "v1"},
        {"source_tag": "v1", "destination_tag": "new", "override": "yes"},
        {"source_tag": "v1", "destination_tag": "new", "force": True},
        {"source_tag": "v1", "destination_tag": "no spaces"},
    )
    async with httpx.AsyncClient(headers={"X-Auth-Token": token}, timeout=30) as http:
        for body in bodies:
            answer = await http.post(url, json=body)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error_code"].startswith("SVCSTG.SWR.400"), answer.text
