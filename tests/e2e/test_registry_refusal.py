"""A registry that refuses a delete (storage.delete disabled): the dialect answers 502, nothing changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from repohub.auth.registry_token import Scope, issue_token, registry_config_fragment
from repohub.config import Settings
from repohub.registry.client import RegistryClient
from repohub.registry.keys import signing_key
from tests.conftest import Accounts, token_header
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.server import free_port


@pytest.fixture
async def refusing_registry(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> AsyncIterator[RegistryClient]:
    """A real registry without delete support, wired into the in-process app for one test."""
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
            yield client
        finally:
            state.registry = None
            await client.aclose()


async def test_refused_delete_is_502_and_the_catalogue_keeps_the_repository(
    client: httpx.AsyncClient, accounts: Accounts, refusing_registry: RegistryClient
) -> None:
    token = await accounts.user("owner")
    await accounts.org("acme", owner="owner")
    created = await client.post(
        "/v1/repositories/acme/", json={"repo_name": "app"}, headers=token_header(token)
    )
    assert created.status_code == 201, created.text

    v1 = await client.delete("/v1/repositories/acme/app", headers=token_header(token))
    assert v1.status_code == 502, v1.text
    assert v1.json()["code"] == "upstream_error"
    assert "refused" in v1.json()["detail"]
    swr = await client.delete("/v2/manage/namespaces/acme/repos/app", headers={"X-Auth-Token": token})
    assert swr.status_code == 502 and "error_code" in swr.json(), swr.text
    assert (await client.get("/v1/repositories/acme/app", headers=token_header(token))).status_code == 200
    assert await refusing_registry.tags("acme/app") == ["v1"]
