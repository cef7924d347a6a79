"""Read-your-writes (``store.replicas``): which commits open a caller's window of primary reads, on
both databases' real sessions; and which reads never go to a replica, those whose results the process
remembers (the replicas themselves: ``tests/ops/test_read_replicas.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pytest
from sqlalchemy import delete, select, update

from repohub.auth.registry_token import Scope
from repohub.domain.entities import Principal
from repohub.domain.grant_facts import GrantFacts
from repohub.domain.registry.grants import Grants
from repohub.store.database import Database, Sessions
from repohub.store.engine import create_engine, create_sessionmaker
from repohub.store.gate import Gate
from repohub.store.memory import Memory
from repohub.store.pg_reader import PgReader
from repohub.store.replicas import Replica, ReplicaReader, ReplicaState
from repohub.store.session import LazySession
from repohub.store.tables import NamespaceRow, RepositoryRow
from repohub.store.unit import Store


@dataclass
class Caller:
    user: str | None
    client: str = "127.0.0.1"
    request_id: str = "r"


class Acting:
    """The request context the sessions see: set per step of a test."""

    def __init__(self) -> None:
        self.caller: Caller | None = None

    def __call__(self) -> Caller | None:
        return self.caller


@dataclass
class Wired:
    sessions: Sessions
    reader: ReplicaReader
    acting: Acting


@pytest.fixture
async def wired(database_url: str) -> AsyncIterator[Wired]:
    engine = create_engine(database_url)
    acting = Acting()
    sessions = create_sessionmaker(engine, actor=acting)
    # Its reads never run here: placeholders stand for the pools.
    reader = ReplicaReader(cast(PgReader, object()), [], max_lag=5, actor=acting, check_timeout=1)
    reader.follow_writes(sessions.kw["sync_session_class"])
    yield Wired(sessions, reader, acting)
    await engine.dispose()


NOTHING = update(RepositoryRow).where(RepositoryRow.id == -1).values(description="x")


async def test_a_committed_write_opens_its_callers_window_only(wired: Wired):
    wired.acting.caller = Caller("alice")
    async with wired.sessions() as session:
        await session.execute(NOTHING)
        assert not wired.reader.freshness.recent("alice")  # not before the commit
        await session.commit()
    assert wired.reader.freshness.recent("alice")
    assert not wired.reader.freshness.recent("bob")


async def test_a_rolled_back_write_opens_none(wired: Wired):
    wired.acting.caller = Caller("alice")
    async with wired.sessions() as session:
        await session.execute(NOTHING)
        await session.rollback()
        await session.commit()  # the next, empty transaction carries nothing of the first
    assert not wired.reader.freshness.recent("alice")


async def test_a_committed_read_opens_none(wired: Wired):
    wired.acting.caller = Caller("alice")
    async with wired.sessions() as session:
        await session.execute(select(RepositoryRow.id).limit(1))
        await session.commit()
    assert not wired.reader.freshness.recent("alice")


async def test_a_write_made_before_the_caller_is_known_opens_none(wired: Wired):
    # A token's last-use stamp: written while authenticating, the caller bound only afterwards.
    wired.acting.caller = Caller(None)
    async with wired.sessions() as session:
        await session.execute(NOTHING)
        wired.acting.caller = Caller("alice")
        await session.commit()
    assert not wired.reader.freshness.recent("alice")


async def test_a_flush_is_a_write(wired: Wired):
    wired.acting.caller = Caller("carol")
    async with wired.sessions() as session:
        session.add(NamespaceRow(name="flushed-by-carol", kind="org"))
        await session.flush()
        await session.commit()
    assert wired.reader.freshness.recent("carol")
    wired.acting.caller = None  # the clean-up, as the CLI would
    async with wired.sessions() as session:
        await session.execute(delete(NamespaceRow).where(NamespaceRow.name == "flushed-by-carol"))
        await session.commit()


class Recording:
    """A reader's stand-in that answers no rows and counts the statements it was given."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.statements.append(sql)
        return []

    async def close(self) -> None:
        return None


@dataclass
class Remembering:
    store: Store
    primary: Recording
    replica: Recording


@pytest.fixture
async def remembering(database_url: str) -> AsyncIterator[Remembering]:
    """A store whose lone reads would go to an up replica (a caller who wrote nothing)."""
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    primary, standby = Recording(), Recording()
    replica = Replica("standby:5432/repohub", cast(PgReader, standby))
    replica.state = ReplicaState.UP
    reader = ReplicaReader(
        cast(PgReader, primary), [replica], max_lag=5, actor=lambda: Caller("alice"), check_timeout=1
    )
    session = LazySession(sessions, engine.dialect.name)
    yield Remembering(Store(session, reader, Memory()), primary, standby)
    await session.close()
    await engine.dispose()


async def test_a_lone_read_goes_to_the_up_replica(remembering: Remembering):
    await remembering.store.registry.access_facts("team", "app", None)
    assert remembering.replica.statements and not remembering.primary.statements


async def test_the_immutable_rules_remembered_are_read_on_the_primary(remembering: Remembering):
    await remembering.store.immutables.namespace_rules("team")
    assert remembering.primary.statements and not remembering.replica.statements


async def test_the_member_facts_the_token_server_remembers_are_read_on_the_primary(remembering: Remembering):
    await remembering.store.registry.member_facts(7)
    assert remembering.primary.statements and not remembering.replica.statements


@pytest.mark.parametrize("names", [["app"], ["app", "web"]])
async def test_grant_facts_the_memo_keeps_are_read_on_the_primary(remembering: Remembering, names: list[str]):
    scopes = [Scope("repository", f"team/{name}", ("pull",)) for name in names]
    await Grants(remembering.store, GrantFacts()).grant(Principal(), scopes)
    assert remembering.primary.statements and not remembering.replica.statements


async def test_grant_facts_without_a_memo_may_come_from_a_replica(remembering: Remembering):
    await Grants(remembering.store).grant(Principal(), [Scope("repository", "team/app", ("pull",))])
    assert remembering.replica.statements and not remembering.primary.statements


class FailingToClose(Recording):
    async def close(self) -> None:
        raise OSError("the pool's socket is gone")


async def test_a_reader_that_fails_to_close_leaves_the_engine_to_close_all_the_same(database_url: str):
    engine = create_engine(database_url)
    async with engine.connect() as connection:  # one connection left idle in the engine's pool
        await connection.execute(select(1))
    assert engine.sync_engine.pool.checkedin() == 1
    database = Database(engine, create_sessionmaker(engine), Memory(), Gate(1, 1), FailingToClose())
    with pytest.raises(OSError):
        await database.close()
    assert engine.sync_engine.pool.checkedin() == 0  # disposed: a fresh pool, nothing open
