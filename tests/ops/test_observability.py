"""Metrics, JSON access logs and readiness, against the real app and a real ``repohub serve``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from repohub.app import create_app
from repohub.store import migrate
from repohub.store.engine import create_engine
from tests.conftest import token_header
from tests.server import serve


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def value(text: str, name: str, **labels: str) -> float:
    return sum(v for found, v in samples(text, name) if all(found.get(k) == w for k, w in labels.items()))


async def test_metrics_count_requests_by_dialect_route_and_status(client, accounts):
    token = await accounts.user("mia")
    before = (await client.get("/metrics")).text
    for _ in range(3):
        assert (await client.get("/v1/repositories/mia/", headers=token_header(token))).status_code == 200
    assert (await client.get("/v1/repositories/nobody-here/")).status_code == 404
    after = await client.get("/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    labels = {"dialect": "v1", "route": "/v1/repositories/{namespace}", "method": "GET"}
    name = "repohub_http_requests_total"
    assert value(after.text, name, status="200", **labels) - value(before, name, status="200", **labels) == 3
    assert value(after.text, name, status="404", **labels) - value(before, name, status="404", **labels) == 1
    hist = "repohub_http_request_duration_seconds_count"
    assert value(after.text, hist, **labels) - value(before, hist, **labels) == 4
    # Raw paths never become label values: unknown routes share one label.
    await client.get("/no/such/path/123")
    assert "/no/such/path" not in (await client.get("/metrics")).text
    assert "repohub_db_pool_connections_in_use" in after.text


async def test_tokens_issued_counter(client, accounts):
    await accounts.user("ned", password="ned-password")
    before = value((await client.get("/metrics")).text, "repohub_tokens_issued_total", kind="api")
    login = await client.post("/v1/generate-api-token/", data={"username": "ned", "password": "ned-password"})
    assert login.status_code == 200
    after = value((await client.get("/metrics")).text, "repohub_tokens_issued_total", kind="api")
    assert after - before == 1


def test_json_access_log_one_line_per_request_without_secrets(settings, clean):
    from tests.server import cli

    cli(settings, "users", "create", "olga", "--password", "olga-secret-pw")
    token = cli(settings, "tokens", "create", "olga").strip()
    with serve(settings) as server:
        answer = httpx.get(
            f"{server.url}/v1/repositories/olga/",
            headers={"Authorization": f"Token {token}", "X-Request-Id": "trace-me-1"},
        )
        assert answer.headers["x-request-id"] == "trace-me-1"
        httpx.post(
            f"{server.url}/v1/generate-api-token/", data={"username": "olga", "password": "olga-secret-pw"}
        )
    lines = server.log.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(entries) == len([line for line in lines if line.strip()]), "every log line is JSON"
    mine = [entry for entry in entries if entry.get("request_id") == "trace-me-1"]
    assert len(mine) == 1
    assert mine[0] | {"duration_ms": 0, "time": ""} == {
        "time": "",
        "level": "info",
        "logger": "repohub.access",
        "message": "request",
        "request_id": "trace-me-1",
        "client": "127.0.0.1",
        "method": "GET",
        "dialect": "v1",
        "route": "/v1/repositories/{namespace}",
        "status": 200,
        "duration_ms": 0,
        "user": "olga",
    }
    assert mine[0]["duration_ms"] > 0
    text = server.log.read_text()
    assert token not in text and "olga-secret-pw" not in text


def test_metrics_are_summed_over_workers(settings, clean):
    with serve(settings, args=("--workers", "2")) as server, httpx.Client() as http:
        for _ in range(40):  # new connections spread over both workers
            assert http.get(f"{server.url}/healthz", headers={"Connection": "close"}).status_code == 200
        # Each live worker has its own pool; a scrape (answered by one worker) sums both once the
        # second worker has started (it may still be importing on a busy machine).
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        one_pool = engine.sync_engine.pool.size()
        deadline = time.monotonic() + 30
        while value(text := http.get(f"{server.url}/metrics").text, "repohub_db_pool_size") != 2 * one_pool:
            assert time.monotonic() < deadline, text
            time.sleep(0.5)
    labels = {"dialect": "ops", "route": "/healthz", "method": "GET", "status": "200"}
    # serve() itself polls /healthz until it answers; those count too.
    assert value(text, "repohub_http_requests_total", **labels) >= 40


async def test_readyz_checks_migrations_are_at_head(settings, tmp_path, client):
    assert (await client.get("/readyz")).json() == {"status": "ready"}
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.db'}"
    await asyncio.to_thread(migrate.upgrade, url)  # alembic runs its own event loop
    with sqlite3.connect(tmp_path / "behind.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '0000_older'")
    behind = create_app(settings.model_copy(update={"database_url": url}))
    async with behind.router.lifespan_context(behind):
        transport = httpx.ASGITransport(app=behind)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            answer = await http.get("/readyz")
            assert answer.status_code == 503
            assert answer.json() == {"status": "migrations pending"}
            assert (await http.get("/healthz")).status_code == 200
