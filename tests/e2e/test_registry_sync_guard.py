"""`registry sync` against an empty registry: refused unless asked for, so a wrong URL wipes nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from repohub.auth.registry_token import registry_config_fragment
from repohub.config import Settings
from repohub.domain.errors import InvalidInput
from repohub.registry.client import RegistryClient
from repohub.registry.keys import signing_key
from tests.api.swr.helpers import add_tag
from tests.e2e.registry import registry_config, require_binaries, running_registry
from tests.server import free_port
from tests.world import World, token_header


async def test_sync_with_an_empty_registry_keeps_tags_unless_allowed(
    app: FastAPI, client: httpx.AsyncClient, accounts: World, settings: Settings, tmp_path: Path
) -> None:
    require_binaries()
    token = await accounts.user("owner")
    created = await client.post(
        "/v1/repositories/owner/", json={"repo_name": "app"}, headers=token_header(token)
    )
    assert created.status_code == 201, created.text
    await add_tag(app, "owner", "app", "v1")

    port = free_port()
    fragment = registry_config_fragment(
        realm="http://127.0.0.1:9/registry/token",
        service=settings.registry_service,
        issuer=settings.registry_issuer,
        cert_path=settings.token_cert_path,
        events_url="http://127.0.0.1:9/registry/events",
        events_secret="unused",
    )
    key = signing_key(settings)
    config = tmp_path / "empty.yml"
    config.write_text(registry_config(fragment, tmp_path / "data", port))
    with running_registry(config, port) as registry:
        gateway = RegistryClient(
            registry.url, key, issuer=settings.registry_issuer, service=settings.registry_service
        )
        try:
            async with accounts.service(registry=gateway) as service:
                with pytest.raises(InvalidInput, match="refusing to remove every tag"):
                    await service.registry.sync()
            tags = await client.get("/v1/repositories/owner/app/tags", headers=token_header(token))
            assert [item["tag"] for item in tags.json()] == ["v1"]

            async with accounts.service(registry=gateway) as service:
                report = await service.registry.sync(allow_empty=True)
            assert report.removed_tags == ["owner/app:v1"]
            tags = await client.get("/v1/repositories/owner/app/tags", headers=token_header(token))
            assert tags.json() == []
        finally:
            await gateway.aclose()
