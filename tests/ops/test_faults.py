"""Faults: PostgreSQL going away under load and coming back, graceful shutdown on SIGTERM."""

from __future__ import annotations

import base64
import json
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from repohub.config import Settings
from repohub.domain import grant_facts
from repohub.store import migrate
from tests.ops.pgcluster import throwaway_cluster
from tests.server import cli, serve

LEAKS = ("Traceback", "asyncpg", "sqlalchemy", "SELECT", "psycopg", 'File "')


def _settings(url: str, data_dir: Path) -> Settings:
    return Settings(database_url=url, data_dir=data_dir, secret_key="fault-secret", _env_file=None)


def _probes(base: str, token: str, org_id: str) -> dict[str, tuple[str, dict[str, str]]]:
    """One read per dialect: path and headers."""
    basic = base64.b64encode(f"dave:{token}".encode()).decode()
    return {
        "v1": ("/v1/repositories/dave/", {"Authorization": f"Token {token}"}),
        "abeja": (f"/organizations/{org_id}/registry/repositories", {"Authorization": f"Bearer {token}"}),
        "swr": ("/v2/manage/repos", {"X-Auth-Token": token}),
        "registry": (
            "/registry/token?service=repohub-registry&scope=repository:acme/app:pull",
            {"Authorization": f"Basic {basic}"},
        ),
    }


def _writes(token: str, org_id: str, events_secret: str) -> dict[str, tuple[str, dict[str, str], object]]:
    """One write per dialect (and the registry's notification): path, headers and JSON body."""
    pull = {
        "id": "outage-pull-1",
        "action": "pull",
        "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + "a" * 64,
                   "repository": "dave/app", "size": 10},
        "request": {"method": "GET"},
    }  # fmt: skip
    return {
        "v1": ("/v1/repositories/dave/", {"Authorization": f"Token {token}"}, {"repo_name": "new"}),
        "abeja": (
            f"/organizations/{org_id}/registry/repositories",
            {"Authorization": f"Bearer {token}"},
            {"name": "new"},
        ),
        "swr": (
            "/v2/manage/namespaces/dave/repos",
            {"X-Auth-Token": token},
            {"repository": "new", "is_public": False},
        ),
        "registry": ("/registry/events", {"Authorization": f"Bearer {events_secret}"}, {"events": [pull]}),
    }


def _in_dialect_format(dialect: str, body: dict[str, object]) -> bool:
    if dialect == "v1":
        return body.get("code") == "unavailable" and isinstance(body.get("detail"), str)
    if dialect == "abeja":
        return body.get("error") == "service_unavailable" and isinstance(body.get("error_description"), str)
    if dialect == "swr":
        return str(body.get("error_code", "")).startswith("SVCSTG.SWR.503") and "error_msg" in body
    errors = body.get("errors")
    return isinstance(errors, list) and errors[0]["code"] == "UNAVAILABLE"


def test_postgres_outage_gives_503_per_dialect_then_recovers(tmp_path):
    with throwaway_cluster() as pg:
        settings = _settings(pg.url, tmp_path)
        migrate.upgrade(pg.url)
        cli(settings, "users", "create", "dave", "--password", "dave-password")
        token = cli(settings, "tokens", "create", "dave").strip()
        org_id = json.loads(cli(settings, "orgs", "create", "acme", "--owner", "dave", "--json"))["id"]
        events_secret = settings.resolved_events_secret
        # Three threads ask for registry tokens as fast as they can: not the rate limit's test.
        unlimited = {"REPOHUB_TOKEN_RATE_PER_USER": "0", "REPOHUB_TOKEN_RATE_PER_CLIENT": "0"}
        with (
            serve(settings, extra_env=unlimited) as server,
            httpx.Client(base_url=server.url, timeout=10) as http,
        ):
            probes = _probes(server.url, token, org_id)
            for dialect, (path, headers) in probes.items():
                assert http.get(path, headers=headers).status_code == 200, dialect

            statuses: Counter[int] = Counter()
            stop = threading.Event()

            def load() -> None:
                with httpx.Client(base_url=server.url, timeout=10) as own:
                    while not stop.is_set():
                        for path, headers in probes.values():
                            statuses[own.get(path, headers=headers).status_code] += 1

            workers = [threading.Thread(target=load) for _ in range(3)]
            for worker in workers:
                worker.start()
            try:
                time.sleep(1)
                pg.stop()
                # Grants are remembered for a moment (domain.grant_facts): past that, every dialect
                # has to reach the database, and cannot.
                time.sleep(grant_facts.TTL_SECONDS + 0.5)
                for _ in range(2):
                    for dialect, (path, headers) in probes.items():
                        started = time.monotonic()
                        answer = http.get(path, headers=headers)
                        elapsed = time.monotonic() - started
                        assert answer.status_code == 503, (dialect, answer.text)
                        assert elapsed < 2.0, (dialect, elapsed)
                        assert _in_dialect_format(dialect, answer.json()), (dialect, answer.text)
                        assert not any(leak in answer.text for leak in LEAKS), answer.text
                for dialect, (path, headers, body) in _writes(token, org_id, events_secret).items():
                    started = time.monotonic()
                    answer = http.post(path, headers=headers, json=body)
                    elapsed = time.monotonic() - started
                    assert answer.status_code == 503, (dialect, path, answer.text)
                    assert elapsed < 2.0, (dialect, path, elapsed)
                    assert _in_dialect_format(dialect, answer.json()), (dialect, answer.text)
                    assert not any(leak in answer.text for leak in LEAKS), answer.text
                ready = http.get("/readyz")
                assert ready.status_code == 503
                assert http.get("/healthz").status_code == 200  # alive, just not ready

                pg.start()
                deadline = time.monotonic() + 15
                while http.get("/readyz").status_code != 200:
                    assert time.monotonic() < deadline, "did not recover"
                    time.sleep(0.2)
                for dialect, (path, headers) in probes.items():
                    assert http.get(path, headers=headers).status_code == 200, dialect
                path, headers, body = _writes(token, org_id, events_secret)["v1"]
                again = http.post(path, headers=headers, json=body)  # the refused write left nothing
                assert again.status_code == 201, again.text
            finally:
                stop.set()
                for worker in workers:
                    worker.join()
        assert set(statuses) <= {200, 503}, statuses
        assert statuses[200] > 0 and statuses[503] > 0, statuses
        assert "Traceback" not in server.log.read_text()


def test_sigterm_lets_an_in_flight_request_finish(settings, clean):
    """A client still uploading its request body when SIGTERM arrives still gets its answer."""
    cli(settings, "users", "create", "erin", "--password", "erin-password")
    token = cli(settings, "tokens", "create", "erin").strip()
    body = json.dumps({"repo_name": "slow", "description": "x" * 200, "is_public": True}).encode()
    with serve(settings) as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            head = (
                f"POST /v1/repositories/erin/ HTTP/1.1\r\nHost: x\r\nAuthorization: Token {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            sock.sendall(head.encode() + body[:20])
            time.sleep(0.5)  # the request is in flight: headers read, body half sent
            server.process.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            assert server.process.poll() is None, "exited with a request in flight"
            # New connections are refused while it drains.
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                refused = False
            except OSError:
                refused = True
            assert refused
            sock.sendall(body[20:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        assert b'"repo_name":"slow"' in answer
        server.process.wait(timeout=20)
        # uvicorn re-raises the signal after its graceful shutdown, so -SIGTERM is a clean exit too.
        assert server.process.returncode in (0, -signal.SIGTERM)
        assert "Finished server process" in server.log.read_text()
