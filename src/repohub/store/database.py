"""One database as a process uses it: engine, sessionmaker, lone reader, pool gate and memory.

The app (one per ``create_app``) and the CLI (one per command) each open their own, so nothing about
a database is module- or class-level; the layers above hold a ``Database`` and never SQLAlchemy's
engine or sessionmaker types themselves (``Engine`` and ``Sessions`` name them for the few that
must, the readiness probe and tests).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from repohub.config import Settings
from repohub.store.audit import ActorOf
from repohub.store.engine import create_engine, create_sessionmaker
from repohub.store.gate import Gate
from repohub.store.memory import Memory
from repohub.store.pg_reader import PoolStats, open_pool_stats
from repohub.store.readers import Reader, ReplicaConfig, open_reader
from repohub.store.replicas import ReplicaReader
from repohub.store.session import LazySession
from repohub.store.unit import Store

__all__ = ["Database", "Engine", "PoolListener", "PoolStats", "Sessions", "reader_pool_stats"]

Engine = AsyncEngine
Sessions = async_sessionmaker[AsyncSession]
PoolListener = Callable[..., None]


def reader_pool_stats() -> list[PoolStats]:
    """The figures of every lone-read pool this process has open (none on SQLite), for metrics."""
    return open_pool_stats()


class Database:
    def __init__(
        self, engine: Engine, sessions: Sessions, memory: Memory, gate: Gate, reader: Reader | None = None
    ) -> None:
        """``sessions``: made by ``create_sessionmaker`` with ``memory``; ``gate``: fair admission
        to the engine's pool, one slot per pooled connection (``store.gate``), the pool's overflow
        left free for the rest (readiness checks)."""
        self.engine = engine
        self.sessions = sessions
        self.memory = memory
        self.gate = gate
        self.reader = reader  # connections of the store's own for lone hot reads
        # The replicas behind ``reader`` (None: every lone read on the primary), for health and probes.
        self.replicas = reader if isinstance(reader, ReplicaReader) else None
        self._dialect = engine.dialect.name

    @classmethod
    async def open(
        cls, settings: Settings, *, actor: ActorOf | None = None, lone_reads: bool = True
    ) -> Database:
        """The configured database, its pool and timeouts those of ``settings``; writes audited as
        ``actor()``'s (``store.audit``; none: the CLI's); ``lone_reads``: open the reader too."""
        engine = create_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            connect_timeout=settings.db_connect_timeout,
            command_timeout=settings.db_command_timeout,
            pool_timeout=settings.db_pool_timeout,
        )
        # Replicas serve requests only: the CLI (no actor) decides on what the primary says.
        replicas = (
            ReplicaConfig(settings.replica_url_list, settings.replica_max_lag, actor)
            if actor is not None and settings.replica_url_list
            else None
        )
        reader = (
            await open_reader(
                settings.database_url,
                pool_size=settings.db_pool_size,
                connect_timeout=settings.db_connect_timeout,
                command_timeout=settings.db_command_timeout,
                acquire_timeout=settings.db_pool_timeout,
                replicas=replicas,
            )
            if lone_reads
            else None
        )
        memory = Memory()
        sessions = create_sessionmaker(engine, actor=actor, memory=memory)
        if isinstance(reader, ReplicaReader):  # a caller's writes keep its reads on the primary a while
            reader.follow_writes(sessions.kw["sync_session_class"])
        return cls(engine, sessions, memory, Gate(settings.db_pool_size, settings.db_pool_timeout), reader)

    def store(self) -> Store:
        """A unit of work whose session is made at its first statement, after it waited its turn
        for a slot of the gate (``store.session``): requests answered from memory or by lone reads
        make none. Close it with ``store.session.close()``."""
        session = LazySession(self.sessions, self._dialect, self.gate)
        return Store(session, self.reader, self.memory)

    async def close(self) -> None:
        try:
            if self.reader is not None:
                await self.reader.close()
        finally:  # a reader that failed to close leaves the engine's pool to close all the same
            await self.engine.dispose()

    # -- what the pool metrics need (``observability.dbpool``), without SQLAlchemy above the store --
    def session_pool_size(self) -> int | None:
        size = getattr(self.engine.sync_engine.pool, "size", None)
        return size() if callable(size) else None

    def watch_session_pool(self, checkout: PoolListener, checkin: PoolListener) -> None:
        """Call ``checkout`` / ``checkin`` (with the pool event's arguments, to be ignored) as the
        engine's pool hands a connection out and takes it back: registered as they are, no wrapper
        between the pool and them on each checkout."""
        pool = self.engine.sync_engine.pool
        event.listen(pool, "checkout", checkout)
        event.listen(pool, "checkin", checkin)
