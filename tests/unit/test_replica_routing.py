"""Where a lone read goes among the replicas (``store.replicas``), how their health is judged and
their pools closed, and the settings that name them: the decisions that need no database (stand-ins
answer for the pools; the reads themselves: ``tests/ops/test_read_replicas.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from repohub.config import Settings
from repohub.store import replicas as replicas_module
from repohub.store.pg_reader import PgReader
from repohub.store.replicas import (
    WINDOW_MARGIN,
    Freshness,
    Replica,
    ReplicaReader,
    ReplicaState,
    WalHistory,
    replica_name,
)

PG = "postgresql+asyncpg://app:secret@db:5432/repohub"


@dataclass
class Caller:
    user: str | None
    client: str = "127.0.0.1"
    request_id: str = "r"
    background: bool = False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _reader(*states: ReplicaState, caller: Caller | None = Caller("alice")) -> ReplicaReader:
    # choose() never touches a pool: a placeholder stands for each PgReader.
    replicas = []
    for number, state in enumerate(states):
        replica = Replica(f"standby{number}:5432/repohub", cast(PgReader, object()))
        replica.state = state
        replicas.append(replica)
    return ReplicaReader(cast(PgReader, object()), replicas, max_lag=5, actor=lambda: caller, check_timeout=1)


def test_reads_take_the_healthy_replicas_in_turn():
    reader = _reader(ReplicaState.UP, ReplicaState.DOWN, ReplicaState.UP)
    chosen = [cast(Replica, reader.choose()).name for _ in range(4)]
    assert chosen == ["standby0:5432/repohub", "standby2:5432/repohub"] * 2


def test_no_healthy_replica_means_the_primary():
    assert _reader(ReplicaState.DOWN, ReplicaState.LAGGING).choose() is None


def test_replicas_start_down_until_a_check_answers():
    replica = Replica("standby:5432/repohub", cast(PgReader, object()))
    assert replica.state is ReplicaState.DOWN and replica.lag is None


def test_work_outside_a_request_reads_the_primary():
    assert _reader(ReplicaState.UP, caller=None).choose() is None


def test_an_anonymous_request_reads_a_replica():
    assert _reader(ReplicaState.UP, caller=Caller(None)).choose() is not None


def test_a_caller_who_wrote_reads_the_primary_within_the_window_only():
    clock = Clock()
    reader = _reader(ReplicaState.UP)
    reader.freshness = Freshness(5 + WINDOW_MARGIN, clock)
    reader.freshness.wrote("alice")
    assert reader.choose() is None
    clock.now += 5 + WINDOW_MARGIN - 0.1
    assert reader.choose() is None
    clock.now += 0.2
    assert reader.choose() is not None


def test_the_window_is_the_writers_own():
    clock = Clock()
    freshness = Freshness(7, clock)
    freshness.wrote("alice")
    assert freshness.recent("alice") and not freshness.recent("bob")


def test_the_window_outlasts_the_max_lag():
    assert _reader().freshness.window > 5


def test_forgotten_writers_are_dropped_past_a_thousand():
    clock = Clock()
    freshness = Freshness(1, clock)
    for number in range(1100):
        freshness.wrote(f"user{number}")
    clock.now += 2
    freshness.wrote("last")
    assert freshness.recent("last") and not freshness.recent("user0")
    assert len(cast(dict[str, Any], freshness._until)) == 1


@pytest.mark.parametrize(
    ("lag", "state"),
    [
        (0.0, ReplicaState.UP),
        (5.0, ReplicaState.UP),
        (5.01, ReplicaState.LAGGING),
        (None, ReplicaState.LAGGING),
    ],
)
def test_a_check_judges_by_the_max_lag(lag: float | None, state: ReplicaState):
    replica = Replica("standby:5432/repohub", cast(PgReader, object()))
    replica.judge(lag, 5)
    assert replica.state is state and replica.lag == lag


def test_a_failed_replica_is_down_with_no_lag():
    replica = Replica("standby:5432/repohub", cast(PgReader, object()))
    replica.judge(0.2, 5)
    replica.fail()
    assert replica.state is ReplicaState.DOWN and replica.lag is None


def test_a_replica_is_named_without_its_credentials():
    assert replica_name(PG) == "db:5432/repohub"
    assert replica_name("postgresql://u:p@10.0.0.7/app") == "10.0.0.7:5432/app"


def test_replica_urls_are_split_on_commas():
    settings = Settings(
        database_url=PG, database_replica_urls=f" {PG}, postgresql://r2/repohub ,", _env_file=None
    )
    assert settings.replica_url_list == [PG, "postgresql://r2/repohub"]
    assert settings.replica_max_lag == 5.0


def test_no_replicas_by_default():
    assert Settings(database_url=PG, _env_file=None).replica_url_list == []


def test_a_replica_that_is_not_postgresql_stops_the_start():
    with pytest.raises(ValidationError, match="replica URL #1 must be a postgresql URL"):
        Settings(database_url=PG, database_replica_urls="mysql://r/app", _env_file=None)


@pytest.mark.parametrize(
    "urls",
    [
        f"{PG},postgresql://app:pa,ss9w0rd@db2/repohub",  # an unencoded comma splits the URL
        "postgresql://app:pa@ss9w0rd@db2/repohub",  # an unencoded @: the host would be "ss9w0rd@db2"
        "postgresql://app:pass9w0rd@db2:99999/repohub",
        "postgresql://app:pass9w0rd@db2:port/repohub",
        "pa ss9w0rd",
    ],
)
def test_a_bad_replica_url_stops_the_start_without_showing_the_password(urls: str):
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=PG, database_replica_urls=urls, _env_file=None)
    message = str(refused.value)
    assert "percent-encode" in message
    assert "ss9w0rd" not in message


def test_a_percent_encoded_password_is_taken():
    url = "postgresql://app:p%40ss%2Cw0rd@[::1]:5433/repohub"
    settings = Settings(database_url=PG, database_replica_urls=url, _env_file=None)
    assert settings.replica_url_list == [url]
    assert replica_name(url) == "::1:5433/repohub"


def test_replicas_of_sqlite_stop_the_start():
    with pytest.raises(ValidationError, match="need a PostgreSQL database_url"):
        Settings(database_url="sqlite+aiosqlite:///x.db", database_replica_urls=PG, _env_file=None)


def test_a_negative_max_lag_stops_the_start():
    with pytest.raises(ValidationError):
        Settings(database_url=PG, replica_max_lag=-1, _env_file=None)


def test_a_background_context_reads_the_primary():
    assert _reader(ReplicaState.UP, caller=Caller("retention", background=True)).choose() is None


# -- lag, measured against the primary's WAL ---------------------------------------------------------
def test_a_replica_that_replayed_the_latest_primary_position_has_no_lag():
    clock = Clock()
    history = WalHistory(60, clock)
    history.saw(100)
    clock.now += 30  # an idle primary: its position does not move, the replica is not behind
    history.saw(100)
    assert history.lag(100) == 0.0


def test_lag_is_the_age_of_the_oldest_primary_position_not_replayed():
    clock = Clock()
    history = WalHistory(60, clock)
    for lsn in (100, 200, 300):
        history.saw(lsn)
        clock.now += 1
    assert history.lag(150) == 2.0  # 200 was seen 2 s ago and is not replayed
    assert history.lag(99) == 3.0


def test_lag_is_unknown_before_the_primary_was_read_or_without_a_replay_position():
    history = WalHistory(60, Clock())
    assert history.lag(100) is None
    history.saw(100)
    assert history.lag(None) is None


def test_the_history_keeps_its_horizon_and_the_latest_position():
    clock = Clock()
    history = WalHistory(10, clock)
    history.saw(100)
    clock.now += 20
    history.saw(200)
    assert history.lag(150) == 0.0 and history.lag(50) == 0.0  # 100 is forgotten, 200 is new
    clock.now += 20
    history.saw(200)
    assert history.lag(150) == 20.0


class Answering:
    """A pool's stand-in: answers ``rows`` (or raises ``error``, or never answers) and counts calls."""

    def __init__(self, rows: Sequence[Any] = (), error: BaseException | None = None, hang: bool = False):
        self.rows, self.error, self.hang = list(rows), error, hang
        self.calls = 0
        self.closed = self.terminated = False

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        return self.rows

    async def close(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        if self.error is not None:
            raise self.error
        self.closed = True

    def terminate(self) -> None:
        self.terminated = True


def _wired(replica: Answering, primary: Answering, probe: Answering | None = None) -> ReplicaReader:
    standby = Replica("standby:5432/repohub", cast(PgReader, replica), cast(PgReader | None, probe))
    standby.state = ReplicaState.UP
    return ReplicaReader(
        cast(PgReader, primary), [standby], max_lag=5, actor=lambda: Caller("alice"), check_timeout=0.2
    )


STANDBY = {"recovery": True, "receiving": True, "replayed": 500}


async def test_a_replica_is_measured_against_the_primarys_position():
    reader = _wired(Answering([STANDBY]), Answering([{"lsn": 900}]))
    await reader.check_all()  # a receiver that stalled has replayed all it got: 500 < the primary's 900
    assert reader.replicas[0].state is ReplicaState.UP  # 900 was first seen just now
    reader.wal = WalHistory(60, clock := Clock())
    reader.wal.saw(900)
    clock.now += 6
    await reader.check(reader.replicas[0])
    assert reader.replicas[0].state is ReplicaState.LAGGING and reader.replicas[0].lag == 6


@pytest.mark.parametrize(
    ("row", "lag"),
    [
        ({"recovery": False, "receiving": False, "replayed": None}, 0.0),
        ({**STANDBY, "receiving": False}, None),
    ],
)
async def test_a_promoted_replica_has_no_lag_and_one_without_receiver_an_unknown_one(
    row: dict[str, Any], lag: float | None
):
    reader = _wired(Answering([row]), Answering([{"lsn": 900}]))
    await reader.check_all()
    assert reader.replicas[0].lag == lag


async def test_the_health_check_does_not_wait_behind_reads():
    busy = Answering(hang=True)  # every connection of the read pool taken
    reader = _wired(busy, Answering([{"lsn": 500}]), probe=Answering([STANDBY]))
    await reader.check_all()
    assert reader.replicas[0].state is ReplicaState.UP and busy.calls == 0


@pytest.mark.parametrize(
    "error",
    [
        PoolTimeout("no free connection"),
        DBAPIError("SELECT", [], type("UndefinedColumnError", (Exception,), {"sqlstate": "42703"})()),
        DBAPIError("SELECT", [], type("UndefinedTableError", (Exception,), {"sqlstate": "42P01"})()),
    ],
)
async def test_a_busy_pool_or_a_schema_behind_reads_the_primary_and_keeps_the_replica_up(error: Exception):
    primary = Answering([{"n": 1}])
    reader = _wired(Answering(error=error), primary)
    assert await reader.fetch("SELECT", ()) == [{"n": 1}]
    assert reader.replicas[0].state is ReplicaState.UP and primary.calls == 1


async def test_a_lost_connection_reads_the_primary_and_marks_the_replica_down():
    primary = Answering([{"n": 1}])
    reader = _wired(
        Answering(error=OperationalError("SELECT", [], ConnectionError(), connection_invalidated=True)),
        primary,
    )
    assert await reader.fetch("SELECT", ()) == [{"n": 1}]
    assert reader.replicas[0].state is ReplicaState.DOWN


async def test_the_statements_own_failure_is_raised():
    error = DBAPIError("SELECT", [], type("DivisionByZeroError", (Exception,), {"sqlstate": "22012"})())
    primary = Answering([{"n": 1}])
    reader = _wired(Answering(error=error), primary)
    with pytest.raises(DBAPIError):
        await reader.fetch("SELECT", ())
    assert primary.calls == 0 and reader.replicas[0].state is ReplicaState.UP


async def test_the_health_loop_outlives_a_failing_report():
    reader = _wired(Answering([STANDBY]), Answering([{"lsn": 500}]))
    reports: list[int] = []
    thrice = asyncio.Event()

    def report(_statuses: object) -> None:
        reports.append(1)
        if len(reports) == 3:
            thrice.set()
        raise RuntimeError("metrics broke")

    watching = asyncio.create_task(reader.watch_forever(report, interval=0))
    async with asyncio.timeout(5):
        await thrice.wait()
    assert not watching.done()
    watching.cancel()


async def test_closing_goes_on_past_a_pool_that_fails_and_terminates_one_that_hangs(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(replicas_module, "CLOSE_TIMEOUT", 0.05)
    failing, hanging, primary = Answering(error=OSError()), Answering(hang=True), Answering()
    reader = _wired(failing, primary, probe=hanging)
    await reader.close()
    assert primary.closed and hanging.terminated
