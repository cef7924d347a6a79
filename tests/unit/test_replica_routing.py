"""Where a lone read goes among the replicas (``store.replicas``), and the settings that name them:
the decisions that need no database (the reads themselves: ``tests/ops/test_read_replicas.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest
from pydantic import ValidationError

from repohub.config import Settings
from repohub.store.pg_reader import PgReader
from repohub.store.replicas import (
    WINDOW_MARGIN,
    Freshness,
    Replica,
    ReplicaReader,
    ReplicaState,
    replica_name,
)

PG = "postgresql+asyncpg://app:secret@db:5432/repohub"


@dataclass
class Caller:
    user: str | None
    client: str = "127.0.0.1"
    request_id: str = "r"


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
    with pytest.raises(ValidationError, match="must be a postgresql URL, not 'mysql'"):
        Settings(database_url=PG, database_replica_urls="mysql://r/app", _env_file=None)


def test_replicas_of_sqlite_stop_the_start():
    with pytest.raises(ValidationError, match="need a PostgreSQL database_url"):
        Settings(database_url="sqlite+aiosqlite:///x.db", database_replica_urls=PG, _env_file=None)


def test_a_negative_max_lag_stops_the_start():
    with pytest.raises(ValidationError):
        Settings(database_url=PG, replica_max_lag=-1, _env_file=None)
