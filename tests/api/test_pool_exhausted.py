"""No free database connection: a 503 in the dialect's format that still passes through the app's own
middleware (request id on the response, the real status in metrics and the access log)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from repohub.app import create_app
from repohub.config import Settings
from repohub.store import migrate
from tests.postgres import create_database


@pytest.fixture
def one_connection(tmp_path) -> Settings:
    """PostgreSQL with a pool of one connection and a short wait for it."""
    url = create_database()
    migrate.upgrade(url)
    return Settings(
        database_url=url,
        data_dir=tmp_path,
        secret_key="k",
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=0.3,
        _env_file=None,
    )


async def test_an_exhausted_pool_is_a_503_with_a_request_id(one_connection: Settings) -> None:
    app = create_app(one_connection)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            async with app.state.repohub.engine.connect() as held:  # the pool's only connection
                await held.execute(text("SELECT 1"))
                # A login reads through the session's pool (lone catalogue reads have a pool of their own).
                v1 = await client.post(
                    "/v1/generate-api-token/",
                    json={"username": "ann", "password": "pw"},
                    headers={"X-Request-Id": "held-1"},
                )
                swr = await client.get("/v2/manage/namespaces/acme", headers={"X-Auth-Token": "t"})
            metrics = (await client.get("/metrics")).text
    assert v1.status_code == 503, v1.text
    assert v1.headers["x-request-id"] == "held-1"
    assert v1.json()["code"] == "unavailable" and "retry later" in v1.json()["detail"]
    assert swr.status_code == 503 and swr.json()["error_code"].startswith("SVCSTG.SWR.503"), swr.text
    assert swr.headers["x-request-id"]
    # Metrics are per process and other tests count there too: look at this test's two routes only.
    routes = ("/v1/generate-api-token", "/v2/manage/namespaces/{namespace:segment}")
    counted = [
        line
        for line in metrics.splitlines()
        if line.startswith("repohub_http_requests_total{") and any(f'route="{r}"' in line for r in routes)
    ]
    assert any('status="503"' in line for line in counted), counted
    assert not any('status="500"' in line for line in counted), counted
