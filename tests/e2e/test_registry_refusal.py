"""A registry that refuses a delete (storage.delete disabled) answers 502 in each dialect's error
format, one that is down 503; either way the catalogue changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from repohub.auth.registry_token import Scope, issue_token, registry_config_fragment
from repohub.config import Settings
from repohub.registry.client import RegistryClient
from repohub.registry.keys import signing_key
from tests.e2e.oci import write_image
from tests.e2e.registry import Registry, Skopeo, registry_config, require_binaries, running_registry
from tests.server import free_port
from tests.world import World, open_service, token_header


@dataclass(frozen=True)
class Refusing:
    client: RegistryClient  # what the app talks to
    process: Registry  # stop it to see the registry down


@pytest.fixture
async def refusing_registry(app: FastAPI, settings: Settings, tmp_path: Path) -> AsyncIterator[Refusing]:
    """A real registry without delete support holding acme/app:v1, wired into the in-process app
    for one test."""
    require_binaries()
    port = free_port()
    fragment = registry_config_fragment(
        realm="http://127.0.0.1:9/registry/token",
        service=settings.registry_service,
        issuer=settings.registry_issuer,
        cert_path=settings.token_cert_path,
        events_url="http://127.0.0.1:9/registry/events",
        events_secret="unused",
    )
    signing_key(settings)  # the certificate must exist before the registry starts
    config = tmp_path / "refusing.yml"
    config.write_text(registry_config(fragment, tmp_path / "data", port, delete=False))
    with running_registry(config, port) as registry:
        image = write_image(tmp_path / "img", "kept\n")
        token = issue_token(
            signing_key(settings),
            issuer=settings.registry_issuer,
            service=settings.registry_service,
            subject="owner",
            access=[Scope("repository", "acme/app", ("pull", "push"))],
        )["token"]
        pushed = Skopeo(tmp_path).push(
            image.layout, f"{registry.host}/acme/app:v1", "--dest-registry-token", token
        )
        assert pushed.returncode == 0, pushed.stderr
        client = RegistryClient(
            registry.url,
            signing_key(settings),
            issuer=settings.registry_issuer,
            service=settings.registry_service,
        )
        state = app.state.repohub
        state.registry = client
        try:
            yield Refusing(client, registry)
        finally:
            state.registry = None
            await client.aclose()


@pytest.fixture
async def owner(client: httpx.AsyncClient, accounts: World) -> dict[str, str]:
    """Org acme (its admin: owner) with repository app in the catalogue; the ids ABEJA names them by."""
    token = await accounts.user("owner")
    org = await accounts.org("acme", owner="owner")
    created = await client.post(
        "/v1/repositories/acme/", json={"repo_name": "app"}, headers=token_header(token)
    )
    assert created.status_code == 201, created.text
    listed = await client.get(abeja_repositories(str(org)), headers=bearer(token))
    (repo,) = listed.json()["registry_repositories"]
    return {"token": token, "org": str(org), "repo": repo["id"]}


def abeja_repositories(org: str) -> str:
    return f"/organizations/{org}/registry/repositories"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SWR_TAG = "/v2/manage/namespaces/acme/repos/app/tags/v1"


async def sync_tags(app: FastAPI, registry: RegistryClient) -> None:
    """What `repohub registry sync` does: the catalogue learns acme/app:v1 (no events were sent)."""
    async with open_service(app, registry=registry) as service:
        report = await service.registry.sync()
    assert report.added_tags == ["acme/app:v1"], report


async def test_refused_delete_is_502_and_the_catalogue_keeps_the_repository(
    client: httpx.AsyncClient, owner: dict[str, str], refusing_registry: Refusing
) -> None:
    token = owner["token"]
    v1 = await client.delete("/v1/repositories/acme/app", headers=token_header(token))
    assert v1.status_code == 502, v1.text
    assert v1.json()["code"] == "upstream_error"
    assert "refused" in v1.json()["detail"]
    swr = await client.delete("/v2/manage/namespaces/acme/repos/app", headers={"X-Auth-Token": token})
    assert swr.status_code == 502 and "error_code" in swr.json(), swr.text
    assert (await client.get("/v1/repositories/acme/app", headers=token_header(token))).status_code == 200
    assert await refusing_registry.client.tags("acme/app") == ["v1"]


async def test_refused_abeja_delete_is_502_in_abeja_format(
    client: httpx.AsyncClient, owner: dict[str, str], refusing_registry: Refusing
) -> None:
    repository = f"{abeja_repositories(owner['org'])}/{owner['repo']}"
    response = await client.delete(repository, headers=bearer(owner["token"]))
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["error"] == "bad_gateway" and "refused" in body["error_description"]
    kept = await client.get(repository, headers=bearer(owner["token"]))
    assert kept.status_code == 200 and kept.json()["name"] == "app"
    assert await refusing_registry.client.tags("acme/app") == ["v1"]


async def test_refused_swr_tag_delete_is_502_and_the_tag_stays(
    app: FastAPI, client: httpx.AsyncClient, owner: dict[str, str], refusing_registry: Refusing
) -> None:
    await sync_tags(app, refusing_registry.client)
    auth = {"X-Auth-Token": owner["token"]}
    response = await client.delete(SWR_TAG, headers=auth)
    assert response.status_code == 502, response.text
    assert set(response.json()) >= {"error_code", "error_msg"} and "refused" in response.json()["error_msg"]
    assert (await client.get(SWR_TAG, headers=auth)).status_code == 200
    assert await refusing_registry.client.tags("acme/app") == ["v1"]


async def test_a_registry_that_is_down_makes_deletes_503_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, owner: dict[str, str], refusing_registry: Refusing
) -> None:
    await sync_tags(app, refusing_registry.client)
    refusing_registry.process.stop()
    repository = f"{abeja_repositories(owner['org'])}/{owner['repo']}"
    abeja = await client.delete(repository, headers=bearer(owner["token"]))
    assert abeja.status_code == 503, abeja.text
    assert abeja.json()["error"] == "service_unavailable" and abeja.json()["error_description"]
    auth = {"X-Auth-Token": owner["token"]}
    swr = await client.delete(SWR_TAG, headers=auth)
    assert swr.status_code == 503 and "error_code" in swr.json(), swr.text
    assert (await client.get(repository, headers=bearer(owner["token"]))).status_code == 200
    assert (await client.get(SWR_TAG, headers=auth)).status_code == 200
