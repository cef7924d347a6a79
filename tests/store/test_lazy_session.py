"""A unit of work makes its session at the first statement, and only then waits for a slot of the gate."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import literal, select, text
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from repohub.store.gate import Gate
from repohub.store.session import LazySession
from repohub.store.unit import Store


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine("sqlite+aiosqlite://")
    yield engine
    await engine.dispose()


def _counting(engine: AsyncEngine) -> tuple[list[AsyncSession], Callable[[], AsyncSession]]:
    made: list[AsyncSession] = []
    sessions = async_sessionmaker(engine)

    def make() -> AsyncSession:
        made.append(sessions())
        return made[-1]

    return made, make


async def test_no_statement_no_session_and_no_slot(engine: AsyncEngine) -> None:
    made, make = _counting(engine)
    gate = Gate(1, 0.05)
    session = LazySession(make, "sqlite", gate)
    assert (session.in_transaction(), list(session.new), session.dialect) == (False, [], "sqlite")
    await session.close()
    assert made == []
    async with gate.slot():  # never taken, so free for another request
        pass


async def test_the_first_statement_takes_a_slot_until_close(engine: AsyncEngine) -> None:
    made, make = _counting(engine)
    gate = Gate(1, 0.05)
    session = LazySession(make, "sqlite", gate)
    assert (await session.execute(text("SELECT 1"))).scalar() == 1
    assert len(made) == 1 and session.in_transaction()
    with pytest.raises(PoolTimeout):  # another request waits for the slot this one holds
        async with gate.slot():
            pass
    await session.close()  # a read-only unit of work ends early (readers.Reads): connection and slot go back
    assert not session.in_transaction()
    async with gate.slot():
        pass
    assert (await session.execute(text("SELECT 2"))).scalar() == 2  # used again: opened again
    assert len(made) == 1
    await session.close()
    async with gate.slot():
        pass


async def test_a_session_made_elsewhere_is_used_as_it_is(engine: AsyncEngine) -> None:
    async with async_sessionmaker(engine)() as given:
        store = Store(given)
        assert store.session.made is given and store.session.dialect == "sqlite"
        assert (await store.session.execute(text("SELECT 3"))).scalar() == 3


async def test_the_slot_goes_back_when_the_transaction_ends(engine: AsyncEngine) -> None:
    """A committed (or rolled back) transaction's connection is back in the pool: so is its slot."""
    made, make = _counting(engine)
    gate = Gate(1, 0.05)
    session = LazySession(make, "sqlite", gate)
    for end in (session.commit, session.rollback):
        await session.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        assert session.writing()
        await end()
        assert not session.writing() and not session.holding()
        async with gate.slot():  # free for another request
            pass
    await session.close()
    assert len(made) == 1


async def test_a_read_only_transaction_is_not_writing(engine: AsyncEngine) -> None:
    """Only SELECTs ran: the store may give the transaction back before a lone read (``readers.Reads``)."""
    _, make = _counting(engine)
    session = LazySession(make, "sqlite", Gate(1, 0.05))
    await session.execute(select(literal(1)))
    assert session.in_transaction() and session.holding() and not session.writing()
    await session.execute(text("SELECT 1"))  # text may be anything (a lock, a write): taken as a write
    assert session.writing()
    await session.close()
    assert not session.holding() and not session.writing()


async def test_sql_text_on_a_sqlite_session_comes_back_as_the_reader_gives_it(engine: AsyncEngine) -> None:
    """``LazySession.fetch``: ``$n`` parameters, rows by name and by position, the reader's types."""
    session = LazySession(async_sessionmaker(engine), "sqlite")
    await session.execute(text("CREATE TABLE t (id INTEGER, is_on BOOLEAN, made_at DATETIME, name TEXT)"))
    await session.execute(
        text("INSERT INTO t VALUES (1, 1, '2024-05-06 07:08:09.123456', 'a'), (2, 0, NULL, 'b')")
    )
    rows = await session.fetch(
        "SELECT id, is_on, made_at, name, id AS name FROM t WHERE id >= $1 ORDER BY id", [1]
    )
    first, second = rows
    assert first["made_at"] == datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert (first["is_on"], second["is_on"], second["made_at"]) == (True, False, None)
    assert first["name"] == "a" and first[4] == 1  # a repeated name: the first column, as sqlite3.Row
    assert first[:2] == (1, True) and tuple(second)[:2] == (2, False)
    await session.close()
