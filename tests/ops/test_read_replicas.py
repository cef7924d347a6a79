"""Read replicas (issue 19) against a real streaming standby: a throwaway primary, a hot standby made
with ``pg_basebackup -R``, and a real ``repohub serve`` reading from it.

Where a read ran is asked of the databases themselves: ``pg_stat_statements`` on the standby counts
the statements repohub's role ran there (the role ``repohub``, which nothing else connects as; the
health check's statement left out), so a read that went to the primary instead leaves it unchanged.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from abeja.common.connection import Connection
from abeja.registry import APIClient
from bench.pgcluster import Cluster, replayed
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkswr.v2 import (
    CreateRepoRequest,
    CreateRepoRequestBody,
    ShowRepositoryRequest,
    SwrClient,
)

from repohub.auth.secrets import SecretBox
from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.store import migrate
from repohub.store.engine import create_engine, create_sessionmaker
from tests.ops.pgcluster import streaming_pair
from tests.server import Server, serve
from tests.world import make_service

USERS = ("alice", "bob")  # alice owns org "team", bob is a member
SEEDED = [f"seed{i}" for i in range(5)]  # public repositories of team, made before any server starts

# What repohub ran on a database, the health check's statement and the counters' own reads left out.
_CALLS_SQL = (
    "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE userid = 'repohub'::regrole"
    " AND query NOT LIKE '%pg_is_in_recovery%'"
)


@dataclass
class Pair:
    primary: Cluster
    standby: Cluster
    settings: Settings
    tokens: dict[str, str]
    keys: dict[str, dict[str, str]]
    user_ids: dict[str, str]
    org_id: str

    def standby_url(self) -> str:
        return f"postgresql+asyncpg://repohub@127.0.0.1:{self.standby.port}/postgres"

    def standby_calls(self) -> int:
        return int(self.standby.psql(_CALLS_SQL))

    def replayed(self) -> None:
        replayed(self.primary, self.standby)


async def _setup(settings: Settings) -> tuple[dict[str, str], dict[str, dict[str, str]], dict[str, str], str]:
    """Users with an API token and an SWR access key each, org ``team`` with public repositories."""
    engine = create_engine(settings.database_url)
    tokens: dict[str, str] = {}
    keys: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    try:
        async with create_sessionmaker(engine)() as session:
            service = make_service(session, SecretBox(settings.resolved_secret_key))
            for name in USERS:
                user = await service.accounts.create_user(name, f"{name}-password")
                ids[name] = str(user.id)
                tokens[name] = (await service.accounts.create_token(name)).token
                key = await service.accounts.create_access_key(name)
                keys[name] = {"ak": key.access_key, "sk": key.secret_key, "project": key.project_id}
            org = await service.accounts.create_org("team", owner="alice")
            await service.accounts.add_member("team", "bob", Role.MEMBER)
            service.acting_as(await service.accounts.principal_of_token(tokens["alice"]))
            for name in SEEDED:
                await service.catalog.create_repository("team", name, is_public=True)
    finally:
        await engine.dispose()
    return tokens, keys, ids, str(org.id)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with streaming_pair() as (primary, standby):
        primary.psql("CREATE ROLE repohub SUPERUSER LOGIN")
        primary.psql("CREATE EXTENSION pg_stat_statements")
        url = f"postgresql+asyncpg://repohub@127.0.0.1:{primary.port}/postgres"
        migrate.upgrade(url)
        data = tmp_path_factory.mktemp("replicas")
        settings = Settings(database_url=url, data_dir=data, secret_key="replica-secret", _env_file=None)
        tokens, keys, ids, org_id = asyncio.run(_setup(settings))
        world = Pair(primary, standby, settings, tokens, keys, ids, org_id)
        world.replayed()
        yield world


@contextmanager
def replicated(pair: Pair, *, max_lag: float) -> Iterator[Server]:
    """``repohub serve`` with the standby as its replica, once the replica takes reads."""
    env = {"REPOHUB_DATABASE_REPLICA_URLS": pair.standby_url(), "REPOHUB_REPLICA_MAX_LAG": str(max_lag)}
    with serve(pair.settings, extra_env=env) as server:
        wait_state(server, "up")
        yield server
    assert '"status":500' not in server.log.read_text()


def readiness(server: Server) -> tuple[int, dict[str, object]]:
    answer = httpx.get(f"{server.url}/readyz", timeout=10)
    return answer.status_code, answer.json()


def wait_state(server: Server, state: str, timeout: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = readiness(server)
        replicas = body.get("replicas")
        if status == 200 and isinstance(replicas, list) and replicas[0]["state"] == state:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"replica never {state}: {status} {body}")
        time.sleep(0.1)


def lone_reads(server: Server) -> dict[str, float]:
    """``repohub_db_lone_reads_total`` by database, as /metrics shows it."""
    found: dict[str, float] = {}
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith("repohub_db_lone_reads_total{"):
            label, value = line.rsplit(" ", 1)
            found[label.split('"')[1]] = float(value)
    return found


def _pages(pair: Pair, user: str = "bob") -> list[tuple[str, dict[str, str]]]:
    """A list and a detail page of every dialect, as ``user``."""
    token = pair.tokens[user]
    v1 = {"Authorization": f"Token {token}"}
    return [
        ("/v1/repositories/team/", v1),
        ("/v1/repositories/team/seed1", v1),
        (f"/organizations/{pair.org_id}/registry/repositories", {"Authorization": f"Bearer {token}"}),
        ("/v2/manage/repos?namespace=team", {"X-Auth-Token": token}),
        ("/v2/manage/namespaces/team/repos/seed2", {"X-Auth-Token": token}),
    ]


def _read_all(client: httpx.Client, server: Server, pair: Pair, rounds: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    for _ in range(rounds):
        for path, headers in _pages(pair):
            statuses[client.get(f"{server.url}{path}", headers=headers).status_code] += 1
    return statuses


def test_lone_reads_land_on_the_replica_and_metrics_say_so(pair: Pair):
    with replicated(pair, max_lag=5) as server, httpx.Client(timeout=30) as client:
        name = wait_state(server, "up")["replicas"][0]["name"]  # type: ignore[index]
        assert "repohub" not in str(name) and str(name).endswith(f":{pair.standby.port}/postgres")
        before, metered = pair.standby_calls(), lone_reads(server)
        statuses = _read_all(client, server, pair, rounds=10)
        assert statuses == Counter({200: 50})
        assert pair.standby_calls() - before >= 50  # every page made at least one read there
        time.sleep(1.5)  # the health loop hands the counts to /metrics once a second
        after = lone_reads(server)
        assert after[name] - metered.get(name, 0) >= 50, after  # type: ignore[index]
        assert after.get("primary", 0) - metered.get("primary", 0) == 0, after


def _swr(pair: Pair, server: Server, user: str) -> SwrClient:
    key = pair.keys[user]
    credentials = BasicCredentials(key["ak"], key["sk"], key["project"])
    return SwrClient.new_builder().with_credentials(credentials).with_endpoints([server.url]).build()


def test_a_caller_reads_its_own_write_in_every_dialect_while_replay_is_paused(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
):
    # A generous max lag: the paused standby stays "up" and takes everybody else's reads.
    with replicated(pair, max_lag=60) as server, httpx.Client(timeout=30) as client:
        monkeypatch.setattr(Connection, "BASE_URL", server.url)
        pair.standby.psql("SELECT pg_wal_replay_pause()")
        try:
            alice = {"Authorization": f"Token {pair.tokens['alice']}"}
            made = client.post(
                f"{server.url}/v1/repositories/team/",
                json={"repo_name": "rw-v1", "is_public": True},
                headers=alice,
            )
            assert made.status_code == 201, made.text
            detail = client.get(f"{server.url}/v1/repositories/team/rw-v1", headers=alice)
            assert detail.status_code == 200 and detail.json()["repo_name"] == "rw-v1"

            abeja = APIClient(
                credential={"user_id": pair.user_ids["alice"], "personal_access_token": pair.tokens["alice"]}
            )
            created = abeja.create_repository(pair.org_id, "rw-abeja")
            assert abeja.get_repository(pair.org_id, created["id"])["name"] == "rw-abeja"

            swr = _swr(pair, server, "alice")
            swr.create_repo(
                CreateRepoRequest(
                    namespace="team", body=CreateRepoRequestBody(repository="rw-swr", is_public=True)
                )
            )
            shown = swr.show_repository(ShowRepositoryRequest(namespace="team", repository="rw-swr"))
            assert shown.name == "rw-swr"

            # The standby has none of them: a read there would have answered 404.
            there = pair.standby.psql("SELECT count(*) FROM repositories WHERE name LIKE 'rw-%'")
            assert there == "0"
            assert wait_state(server, "up")  # still taking reads: the window, not the lag, kept alice's
            bob = {"Authorization": f"Token {pair.tokens['bob']}"}  # who wrote nothing reads the replica
            assert client.get(f"{server.url}/v1/repositories/team/rw-v1", headers=bob).status_code == 404
        finally:
            pair.standby.psql("SELECT pg_wal_replay_resume()")
        pair.replayed()
        assert client.get(f"{server.url}/v1/repositories/team/rw-v1", headers=bob).status_code == 200


@contextmanager
def writes_going_on(primary: Cluster) -> Iterator[None]:
    """A commit on the primary every 50 ms, so that a paused standby falls further behind."""
    primary.psql("CREATE TABLE IF NOT EXISTS churn (at timestamptz)")
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            primary.psql("INSERT INTO churn VALUES (now())")
            stop.wait(0.05)

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()


def test_a_lagging_replica_is_skipped_and_taken_back_when_it_catches_up(pair: Pair):
    with replicated(pair, max_lag=0.5) as server, httpx.Client(timeout=30) as client:
        # The primary has been idle for longer than the max lag: the replica has everything it was sent.
        time.sleep(1.5)
        assert wait_state(server, "up")["status"] == "ready"
        pair.standby.psql("SELECT pg_wal_replay_pause()")
        try:
            with writes_going_on(pair.primary):
                body = wait_state(server, "lagging")
                assert body["status"] == "degraded"  # and still 200: the primary serves
                assert body["replicas"][0]["lag_seconds"] > 0.5  # type: ignore[index]
                before = pair.standby_calls()
                assert _read_all(client, server, pair, rounds=4) == Counter({200: 20})
                assert pair.standby_calls() == before  # not one read went to the lagging standby
        finally:
            pair.standby.psql("SELECT pg_wal_replay_resume()")
        wait_state(server, "up")
        before = pair.standby_calls()
        assert _read_all(client, server, pair, rounds=2) == Counter({200: 10})
        assert pair.standby_calls() - before >= 10


@contextmanager
def stalled_sender(primary: Cluster) -> Iterator[None]:
    """The primary's WAL sender frozen (SIGSTOP): the standby's receiver keeps its connection and
    hears nothing, what a half-open connection looks like from the standby."""
    pids = [int(pid) for pid in primary.psql("SELECT pid FROM pg_stat_replication").split()]
    assert pids, "no WAL sender on the primary"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def test_a_replica_whose_receiver_stalled_is_lagging_though_it_replayed_all_it_received(pair: Pair):
    with replicated(pair, max_lag=0.5) as server:
        time.sleep(1.5)
        assert wait_state(server, "up")
        with stalled_sender(pair.primary), writes_going_on(pair.primary):
            body = wait_state(server, "lagging")
            assert body["replicas"][0]["lag_seconds"] > 0.5  # type: ignore[index]
            # What the standby itself says: everything received is replayed (the old measure's 0).
            caught_up = "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
            assert pair.standby.psql(caught_up) == "t"
        wait_state(server, "up")


def test_stopping_the_replica_mid_run_loses_no_request(pair: Pair):
    with replicated(pair, max_lag=5) as server:
        stop = threading.Event()
        client = httpx.Client(timeout=30)

        def reader(number: int) -> Counter[int]:
            statuses: Counter[int] = Counter()
            pages = _pages(pair)
            while not stop.is_set():
                path, headers = pages[number % len(pages)]
                statuses[client.get(f"{server.url}{path}", headers=headers).status_code] += 1
                number += 1
            return statuses

        with ThreadPoolExecutor(6) as pool:
            running = [pool.submit(reader, number) for number in range(6)]
            try:
                time.sleep(1.0)
                pair.standby.stop("fast")  # mid-query for some of the readers
                try:
                    assert wait_state(server, "down")["status"] == "degraded"
                    time.sleep(1.0)
                finally:
                    pair.standby.start()
                wait_state(server, "up")
                time.sleep(1.0)
            finally:
                stop.set()
            totals = sum((future.result() for future in running), Counter())
        assert set(totals) == {200}, totals
        assert totals[200] > 50, totals
        before = pair.standby_calls()
        assert _read_all(client, server, pair, rounds=2) == Counter({200: 10})
        assert pair.standby_calls() - before >= 10  # back on the replica
        client.close()
