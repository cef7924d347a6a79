"""The store's readers: connections of their own for lone hot reads, outside SQLAlchemy.

One per application: an asyncpg pool on PostgreSQL (``pg_reader``), read-only ``sqlite3`` connections
on a SQLite file (``sqlite_reader``). Both take the SQL of ``pg_pages`` (``$n`` parameters) and
answer rows that index by column name. With read replicas configured, the PostgreSQL reader is a
``replicas.ReplicaReader``: the same protocol over the primary's pool and one per replica.

A store's read has one SQL text and :class:`Reads` decides where it runs: on the reader unless the
session's transaction wrote something (then on the session's own connection, which sees the write).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from repohub.store.audit import ActorOf
from repohub.store.engine import sqlite_file
from repohub.store.pg_reader import PgReader
from repohub.store.replicas import Replica, ReplicaReader, replica_name
from repohub.store.session import LazySession
from repohub.store.sqlite_reader import SqliteReader

__all__ = ["Reader", "Reads", "ReplicaConfig", "open_reader"]


Fetch = Callable[[str, Sequence[Any]], Awaitable[list[Any]]]


class Reader(Protocol):
    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]: ...

    async def close(self) -> None: ...


class Reads:
    """The two executors of a store's SQL text (``$n`` parameters): the lone reader, or the session.

    A use case that writes reads through its session, so that it sees what it wrote. Any other read
    goes to the reader, and the session first gives back what it holds: a read-only transaction
    (opened by an earlier read of the session's, such as a token's lookup) and the gate's slot. So no
    connection is held while a page renders or a token is signed and sent (under load, a held
    connection is one another request waits for), and the use case need not say that it is read-only.
    Without a reader (an in-memory database) everything runs on the session."""

    __slots__ = ("_reader", "_session")

    def __init__(self, session: LazySession, reader: Reader | None) -> None:
        self._session = session
        self._reader = reader

    def fetch(self, sql: str, params: Sequence[Any]) -> Awaitable[list[Any]]:
        """The rows of ``sql``; a plain function handing over the executor's awaitable, so that a
        lone read costs no coroutine of its own on the hot paths."""
        session, reader = self._session, self._reader
        if reader is None or session.writing():
            return session.fetch(sql, params)
        if session.holding():
            return self._after_release(reader.fetch, sql, params)
        return reader.fetch(sql, params)

    def fetch_primary(self, sql: str, params: Sequence[Any]) -> Awaitable[list[Any]]:
        """``fetch``, never on a replica: for every read whose result is remembered beyond the
        request (rule memory, grant facts), which a replica behind a change would fill stale until
        the next change. Plain readers have no replica: their ``fetch`` is the primary's."""
        session, reader = self._session, self._reader
        if reader is None or session.writing():
            return session.fetch(sql, params)
        fetch = reader.fetch_primary if isinstance(reader, ReplicaReader) else reader.fetch
        if session.holding():
            return self._after_release(fetch, sql, params)
        return fetch(sql, params)

    async def _after_release(self, fetch: Fetch, sql: str, params: Sequence[Any]) -> list[Any]:
        await self._session.close()  # it opens again if a later statement needs it
        return await fetch(sql, params)


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """Where the lone reads may go besides the primary (``Settings.replica_url_list``)."""

    urls: Sequence[str]
    max_lag: float
    actor: ActorOf  # who the current request's caller is: its read-your-writes window


async def open_reader(
    database_url: str,
    *,
    pool_size: int,
    connect_timeout: float,
    command_timeout: float,
    acquire_timeout: float,
    replicas: ReplicaConfig | None = None,
) -> Reader | None:
    """The reader for the configured database (None for an in-memory SQLite database); over the
    primary and ``replicas`` when some are given (PostgreSQL only: ``Settings`` refuses the rest)."""
    if database_url.startswith("sqlite"):
        path = sqlite_file(database_url)
        return SqliteReader(path) if path is not None else None

    async def pool(url: str, size: int = pool_size) -> PgReader:
        return await PgReader.open(
            url,
            size=size,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            acquire_timeout=acquire_timeout,
        )

    primary = await pool(database_url)
    if replicas is None or not replicas.urls:
        return primary
    # The health checks' own connections (one per database): a check never queues behind reads.
    standbys = [Replica(replica_name(url), await pool(url), await pool(url, 1)) for url in replicas.urls]
    return ReplicaReader(
        primary,
        standbys,
        max_lag=replicas.max_lag,
        actor=replicas.actor,
        check_timeout=connect_timeout + 1.0,  # a check may have to connect first
        primary_probe=await pool(database_url, 1),
    )
