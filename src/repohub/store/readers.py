"""The store's readers: connections of their own for lone hot reads, outside SQLAlchemy.

One per application: an asyncpg pool on PostgreSQL (``pg_reader``), read-only ``sqlite3`` connections
on a SQLite file (``sqlite_reader``). Both take the SQL of ``pg_pages`` (``$n`` parameters) and
answer rows that index by column name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from repohub.store.engine import sqlite_file
from repohub.store.pg_reader import PgReader
from repohub.store.session import LazySession
from repohub.store.sqlite_reader import SqliteReader


class Reader(Protocol):
    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]: ...

    async def close(self) -> None: ...


def lone_reader(session: LazySession, reader: Reader | None) -> Reader | None:
    """``reader`` when a read may run on it: outside a transaction. A use case that writes reads
    through its session, so that it sees what it wrote."""
    return reader if reader is not None and not session.in_transaction() else None


async def open_reader(
    database_url: str,
    *,
    pool_size: int,
    connect_timeout: float,
    command_timeout: float,
    acquire_timeout: float,
) -> Reader | None:
    """The reader for the configured database (None for an in-memory SQLite database)."""
    if database_url.startswith("sqlite"):
        path = sqlite_file(database_url)
        return SqliteReader(path) if path is not None else None
    return await PgReader.open(
        database_url,
        size=pool_size,
        connect_timeout=connect_timeout,
        command_timeout=command_timeout,
        acquire_timeout=acquire_timeout,
    )
