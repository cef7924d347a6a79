"""Tokens handed out by ``POST /v1/generate-api-token/`` expire after REPOHUB_LOGIN_TOKEN_TTL (0: never)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from repohub.domain.errors import NotAuthenticated
from tests.api.v1.test_paging import app_with, client_for
from tests.world import PASSWORD, open_service

LOGIN = "/v1/generate-api-token/"


async def login(client: httpx.AsyncClient) -> str:
    response = await client.post(LOGIN, data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


async def accepted_at(app, token: str, moment: datetime) -> bool:
    async with open_service(app) as service:
        try:
            await service.accounts.authenticate_token(token, now=moment)
        except NotAuthenticated:
            return False
        return True


async def test_a_login_token_expires_after_the_default_lifetime(client, v1):
    before = datetime.now(UTC)
    token = await login(client)
    assert await accepted_at(v1.app, token, before + timedelta(days=7) - timedelta(minutes=1))
    assert not await accepted_at(v1.app, token, datetime.now(UTC) + timedelta(days=7, seconds=1))


@pytest.mark.parametrize(("ttl", "lives"), [(60, timedelta(seconds=61)), (0, timedelta(days=36500))])
async def test_the_login_token_lifetime_is_configurable_and_0_means_never(settings, v1, ttl, lives):
    async with app_with(settings, login_token_ttl=ttl) as app, client_for(app) as client:
        token = await login(client)
        assert await accepted_at(app, token, datetime.now(UTC) + timedelta(seconds=30))
        assert await accepted_at(app, token, datetime.now(UTC) + lives) is (ttl == 0)
