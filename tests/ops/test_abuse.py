"""Abuse and bad input: body size limit, credential rate limits, CORS, token expiry and revocation."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx

from repohub.app import create_app
from repohub.config import Settings
from tests.api.swr.test_signature import signed_headers
from tests.server import cli
from tests.world import token_header


@asynccontextmanager
async def app_with(settings: Settings, **changes: object) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with some settings changed (its own limiter state), over the test database."""
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def refused_after(allowed: int, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
    """Send ``allowed`` requests that must pass, then return the next one's response."""
    for _ in range(allowed):
        passed = await send()
        assert passed.status_code == 200, passed.text
    return await send()


async def test_body_over_the_limit_is_413_in_each_dialect_format(settings, accounts):
    token = await accounts.user("big")
    org = await accounts.org("bigorg", owner="big")
    huge = b'{"repo_name": "x", "description": "' + b"a" * 5000 + b'"}'
    async with app_with(settings, max_body_bytes=4096) as http:
        v1 = await http.post("/v1/repositories/big/", content=huge, headers=token_header(token))
        assert v1.status_code == 413
        assert v1.json()["code"] == "invalid_input" and "4096" in v1.json()["detail"]
        abeja = await http.post(
            f"/organizations/{org}/registry/repositories",
            content=huge,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert abeja.status_code == 413 and set(abeja.json()) >= {"error", "error_description"}
        swr = await http.post("/v2/manage/namespaces", content=huge, headers={"X-Auth-Token": token})
        assert swr.status_code == 413 and swr.json()["error_code"].startswith("SVCSTG.SWR.413")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it is read
            for _ in range(10):
                yield b"a" * 1000

        chunked = await http.post(
            "/v1/repositories/big/",
            content=chunks(),
            headers={**token_header(token), "Content-Type": "application/json"},
        )
        assert chunked.status_code == 413 and chunked.json()["code"] == "invalid_input"
        # Under the limit all is as usual.
        fine = await http.post("/v1/repositories/big/", json={"repo_name": "ok"}, headers=token_header(token))
        assert fine.status_code == 201


async def test_login_rate_limited_per_user_and_per_client(settings, accounts):
    await accounts.user("tess", password="tess-password")
    await accounts.user("uma", password="uma-password")
    async with app_with(settings, login_rate_per_user=3, login_rate_per_client=6) as http:
        for attempt in range(3):
            wrong = await http.post("/v1/generate-api-token/", data={"username": "tess", "password": "no"})
            assert wrong.status_code == 401, attempt
        limited = await http.post(
            "/v1/generate-api-token/", json={"username": "tess", "password": "tess-password"}
        )
        assert limited.status_code == 429
        retry_after = int(limited.headers["retry-after"])  # the seconds left of the budget's minute
        assert 1 <= retry_after <= 60
        assert limited.json() == {
            "detail": f"too many failed password checks for this user, retry in {retry_after} seconds",
            "code": "rate_limited",
        }
        # Another user from the same client is still let in, until the client's own limit.
        ok = await http.post("/v1/generate-api-token", data={"username": "uma", "password": "uma-password"})
        assert ok.status_code == 200
        for _ in range(2):
            await http.post("/v1/generate-api-token/", data={"username": "someone", "password": "x"})
        by_client = await http.post("/v1/generate-api-token/", data={"username": "uma", "password": "x"})
        assert by_client.status_code == 429 and "client" in by_client.json()["detail"]
        metrics = (await http.get("/metrics")).text
        assert 'repohub_rate_limited_total{limit="login_per_user"}' in metrics


async def test_registry_token_rate_limited_per_user_in_distribution_format(settings, accounts):
    token = await accounts.user("vic")
    basic = base64.b64encode(f"vic:{token}".encode()).decode()
    async with app_with(settings, token_rate_per_user=2) as http:
        url = "/registry/token?service=repohub-registry&scope=repository:vic/app:pull"
        for _ in range(2):
            assert (await http.get(url, headers={"Authorization": f"Basic {basic}"})).status_code == 200
        limited = await http.get(url, headers={"Authorization": f"Basic {basic}"})
        assert limited.status_code == 429
        assert limited.json()["errors"][0]["message"].startswith("too many attempts")


async def test_registry_token_with_bearer_rate_limited_per_token_in_distribution_format(settings, accounts):
    token = await accounts.user("val")
    other = await accounts.user("wyn")
    async with app_with(settings, token_rate_per_user=2) as http:
        url = "/registry/token?service=repohub-registry&scope=repository:val/app:pull"
        limited = await refused_after(2, lambda: http.get(url, headers={"Authorization": f"Bearer {token}"}))
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "60"
        assert limited.json() == {
            "errors": [
                {
                    "code": "TOOMANYREQUESTS",
                    "message": "too many attempts for this user, retry in a minute",
                    "detail": None,
                }
            ]
        }
        # Keyed on the token, not the client: another user's token from here is still served.
        assert (await http.get(url, headers={"Authorization": f"Bearer {other}"})).status_code == 200
        metrics = (await http.get("/metrics")).text
        assert 'repohub_rate_limited_total{limit="token_per_user"}' in metrics


async def test_swr_authorization_token_rate_limited_per_token_and_access_key_in_swr_format(
    settings, accounts
):
    token = await accounts.user("xia")
    async with accounts.service() as service:
        key = await service.accounts.create_access_key("xia")
    path = "/v2/manage/utils/authorizationtoken"
    expected = {
        "error_code": "SVCSTG.SWR.4290001",
        "error_msg": "too many attempts for this user, retry in a minute",
    }
    async with app_with(settings, token_rate_per_user=2) as http:
        limited = await refused_after(2, lambda: http.post(path, headers={"X-Auth-Token": token}))
        assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
        assert limited.json() == expected
        # The access key has a window of its own (each request signed anew, as an SDK does).
        limited = await refused_after(2, lambda: http.post(path, headers=signed_headers("POST", path, key)))
        assert limited.status_code == 429 and limited.json() == expected


async def test_token_requests_rate_limited_per_client_in_each_dialect_format(settings, accounts):
    tokens = [await accounts.user(name) for name in ("yan", "zoe")]
    registry = "/registry/token?service=repohub-registry"
    swr = "/v2/manage/utils/authorizationtoken"
    async with app_with(settings, token_rate_per_client=3) as http:
        # Three callers (one anonymous) share this client's window of both token endpoints.
        assert (await http.get(registry)).status_code == 200
        assert (await http.get(registry, headers={"Authorization": f"Bearer {tokens[0]}"})).status_code == 200
        assert (await http.post(swr, headers={"X-Auth-Token": tokens[1]})).status_code == 200
        message = "too many requests from this client, retry in a minute"
        limited = await http.get(registry, headers={"Authorization": f"Bearer {tokens[1]}"})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
        assert limited.json()["errors"][0] == {"code": "TOOMANYREQUESTS", "message": message, "detail": None}
        limited = await http.post(swr, headers={"X-Auth-Token": tokens[0]})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
        assert limited.json() == {"error_code": "SVCSTG.SWR.4290001", "error_msg": message}
        metrics = (await http.get("/metrics")).text
        assert 'repohub_rate_limited_total{limit="token_per_client"}' in metrics


async def test_cors_is_off_unless_origins_are_configured(settings, client):
    preflight = {"Origin": "https://ui.example", "Access-Control-Request-Method": "GET"}
    plain = await client.get("/healthz", headers={"Origin": "https://ui.example"})
    assert "access-control-allow-origin" not in plain.headers
    assert "access-control-allow-origin" not in (await client.options("/healthz", headers=preflight)).headers
    async with app_with(settings, cors_origins="https://ui.example") as http:
        allowed = await http.get("/healthz", headers={"Origin": "https://ui.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://ui.example"
        other = await http.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


async def test_tokens_expire_and_can_be_revoked_from_the_cli(settings, client, accounts):
    await accounts.user("wes")
    short = json.loads(cli(settings, "tokens", "create", "wes", "--expires-in", "2s", "--json"))
    assert "expires_at" in short
    assert (
        await client.get("/v1/repositories/wes/", headers=token_header(short["token"]))
    ).status_code == 200
    await asyncio.sleep(2.5)
    expired = await client.get("/v1/repositories/wes/", headers=token_header(short["token"]))
    assert expired.status_code == 401 and expired.json()["code"] == "not_authenticated"

    doomed = cli(settings, "tokens", "create", "wes").strip()
    assert cli(settings, "tokens", "revoke", doomed).strip() == "revoked"
    for headers in (token_header(doomed), {"X-Auth-Token": doomed}):
        path = "/v1/repositories/wes/" if "Authorization" in headers else "/v2/manage/namespaces"
        assert (await client.get(path, headers=headers)).status_code == 401
    bad = [str(cli.__name__)]  # the CLI refuses nonsense durations with a usage error
    try:
        cli(settings, "tokens", "create", "wes", "--expires-in", "soon")
    except RuntimeError as error:
        bad.append(str(error))
    assert len(bad) == 2 and "expires-in" in bad[1]
