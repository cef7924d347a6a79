"""Read-your-writes (``store.replicas``): which commits open a caller's window of primary reads, on
both databases' real sessions (the replicas themselves: ``tests/ops/test_read_replicas.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import pytest
from sqlalchemy import delete, select, update

from repohub.store.database import Sessions
from repohub.store.engine import create_engine, create_sessionmaker
from repohub.store.pg_reader import PgReader
from repohub.store.replicas import ReplicaReader
from repohub.store.tables import NamespaceRow, RepositoryRow


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
