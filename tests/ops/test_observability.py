"""Metrics, JSON access logs and readiness, against the real app and a real ``repohub serve``."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from repohub.api.observe import dialect_of
from repohub.app import create_app
from repohub.store import migrate
from repohub.store.engine import create_engine
from tests.server import serve
from tests.world import token_header


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


async def test_registry_tokens_issued_counter(client, accounts):
    await accounts.user("pia", password="pia-password")
    metric = "repohub_tokens_issued_total"
    before = (await client.get("/metrics")).text
    for _ in range(2):
        issued = await client.get(
            "/registry/token",
            params={"service": "repohub-registry", "scope": "repository:pia/app:pull,push"},
            auth=("pia", "pia-password"),
        )
        assert issued.status_code == 200, issued.text
    after = (await client.get("/metrics")).text
    assert value(after, metric, kind="registry") - value(before, metric, kind="registry") == 2
    assert value(after, metric, kind="api") == value(before, metric, kind="api")


async def test_registry_events_applied_counted_by_action(client, accounts, settings):
    await accounts.user("quinn")
    digest = "sha256:" + "a" * 64

    def event(action: str, method: str, **target: object) -> dict[str, object]:
        return {
            "id": str(uuid.uuid4()),
            "action": action,
            "target": {"repository": "quinn/app", "digest": digest, **target},
            "request": {"method": method},
            "actor": {"name": "quinn"},
        }

    manifest = {"mediaType": "application/vnd.oci.image.manifest.v1+json"}
    envelope = [
        event("push", "PUT", tag="v1", size=10, **manifest),
        event("push", "PUT", tag="v2", size=10, **manifest),
        *(event("pull", "GET", tag="v1", **manifest) for _ in range(3)),
        event("mount", "POST", **manifest),  # not a word repohub knows: one bounded label for all
        event("pull", "GET", mediaType="application/octet-stream"),  # a blob: ignored, not applied
        event("delete", "DELETE", tag="v2"),
    ]
    headers = {
        "Authorization": f"Bearer {settings.resolved_events_secret}",
        "Content-Type": "application/vnd.docker.distribution.events.v1+json",
    }
    metric = "repohub_registry_events_applied_total"
    before = (await client.get("/metrics")).text
    sent = await client.post("/registry/events", json={"events": envelope}, headers=headers)
    assert sent.json() == {"applied": 7, "duplicates": 0, "ignored": 1}
    replayed = await client.post("/registry/events", json={"events": envelope}, headers=headers)
    assert replayed.json()["duplicates"] == 7  # counted once, like the catalogue's counters
    after = (await client.get("/metrics")).text
    counted = {
        action: value(after, metric, action=action) - value(before, metric, action=action)
        for action in ("push", "pull", "delete", "other", "all")
    }
    assert counted == {"push": 2, "pull": 3, "delete": 1, "other": 1, "all": 0}


async def test_db_pool_gauges_report_each_pool(app, client, settings):
    state = app.state.repohub
    text = (await client.get("/metrics")).text
    session_size = state.engine.sync_engine.pool.size()
    assert value(text, "repohub_db_pool_size", pool="session") >= session_size
    if state.engine.dialect.name != "postgresql":  # SQLite has no asyncpg pool of hot reads
        assert value(text, "repohub_db_pool_size", pool="reader") == 0
        return
    assert value(text, "repohub_db_pool_size", pool="reader") == settings.db_pool_size
    assert value(text, "repohub_db_pool_connections_in_use", pool="reader") == 0
    # A read in flight holds one reader connection; the gauge is read from the pool at the scrape.
    slow = asyncio.create_task(state.reader.fetch("SELECT pg_sleep(0.5)", []))
    deadline = time.monotonic() + 5
    while (
        value(
            text := (await client.get("/metrics")).text, "repohub_db_pool_connections_in_use", pool="reader"
        )
        != 1
    ):
        assert time.monotonic() < deadline, text
        await asyncio.sleep(0.02)
    await slow
    text = (await client.get("/metrics")).text
    assert value(text, "repohub_db_pool_connections_in_use", pool="reader") == 0


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
        # The hot reads' asyncpg pool, PostgreSQL only; each worker writes its figures on a timer.
        one_reader = settings.db_pool_size if engine.dialect.name == "postgresql" else 0
        expected = {"session": 2 * one_pool, "reader": 2 * one_reader}
        deadline = time.monotonic() + 30
        while True:
            text = http.get(f"{server.url}/metrics").text
            found = {pool: value(text, "repohub_db_pool_size", pool=pool) for pool in expected}
            if found == expected:
                break
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


class _Boom(Exception):
    pass


async def test_unhandled_error_is_a_dialect_500_with_the_request_id(settings):
    """Starlette's ServerErrorMiddleware answers an unhandled error; the id must still be on it."""

    async def explode() -> None:
        raise _Boom("SELECT password FROM users WHERE name = 'x'")

    application = create_app(settings)
    application.add_api_route("/v2/manage/test-explode", explode, methods=["GET"])
    application.add_api_route("/v1/repositories/boom/test-explode", explode, methods=["POST"])
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    errors_log = logging.getLogger("repohub.errors")
    errors_log.addHandler(handler)
    try:
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                swr = await http.get("/v2/manage/test-explode", headers={"X-Request-Id": "boom-swr-1"})
                v1 = await http.post("/v1/repositories/boom/test-explode")
    finally:
        errors_log.removeHandler(handler)

    assert swr.status_code == 500
    assert swr.json() == {"error_code": "SVCSTG.SWR.5000000", "error_msg": "internal server error"}
    assert swr.headers["x-request-id"] == "boom-swr-1"  # echoed
    assert v1.status_code == 500
    assert v1.json() == {"detail": "internal server error", "code": "internal_error"}
    assert len(v1.headers["x-request-id"]) == 32  # generated
    for answer in (swr, v1):
        assert "Traceback" not in answer.text and "SELECT" not in answer.text and "_Boom" not in answer.text
    # The error log line carries the same id as the response, so the two can be matched.
    ids = [record.__dict__.get("fields", {}).get("request_id") for record in logged]
    assert ids == ["boom-swr-1", v1.headers["x-request-id"]]
    assert all(record.exc_info for record in logged)


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("/v2/manage/repos", "swr"),
        ("/v3/projects", "swr"),  # huaweicloudsdkswr's IAM call is SWR traffic
        # route templates of SWR's enterprise-edition calls and API versions
        ("/v2/{project_id:segment}/instances/{instance_id:segment}", "swr"),
        ("/{api_version:api_version}", "swr"),
        ("/v2/acme/app/manifests/latest", "registry"),
        ("/registry/token", "registry"),
        ("/v1/repositories/acme/", "v1"),
        ("/organizations/1/registry/repositories", "abeja"),
        ("/healthz", "ops"),
        ("/docs", "docs"),
        ("/no/such/path", "other"),
    ],
)
def test_every_route_family_has_its_dialect_label(path, dialect):
    assert dialect_of(path) == dialect
