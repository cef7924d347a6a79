"""Engine and session factory for the configured database URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from repohub import defaults
from repohub.private_files import private_dir, private_file, tighten
from repohub.store.audit import ActorOf, audited_session_class
from repohub.store.memory import INFO_KEY, Memory

# Files SQLite keeps beside the database in WAL mode. It creates them with the database file's own
# permissions, so a 0600 database gets 0600 journals.
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def sqlite_file(database_url: str) -> Path | None:
    """The database file of an SQLite URL (None for PostgreSQL or an in-memory SQLite)."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def prepare_sqlite_file(path: Path) -> None:
    """Before SQLite opens ``path``: its directory made 0700 if missing, the file created 0600 (SQLite
    would make it 0644), and files left readable by others by an older version tightened."""
    private_dir(path.parent)
    private_file(path)
    for suffix in _SQLITE_COMPANIONS:
        tighten(path.with_name(path.name + suffix))


def create_engine(
    database_url: str,
    *,
    pool_size: int = defaults.DB_POOL_SIZE,
    max_overflow: int = defaults.DB_MAX_OVERFLOW,
    connect_timeout: float = defaults.DB_CONNECT_TIMEOUT,
    command_timeout: float = defaults.DB_COMMAND_TIMEOUT,
    pool_timeout: float = defaults.DB_POOL_TIMEOUT,
) -> AsyncEngine:
    """The engine of ``database_url``; the defaults are ``Settings``' own (``repohub.defaults``), for
    callers without settings (tests, scripts): the app and the CLI pass their settings' values."""
    if database_url.startswith("sqlite"):
        path = sqlite_file(database_url)
        if path is not None:  # every command opens the database here: migrate, serve, the CLI
            prepare_sqlite_file(path)
        # Writers queue on SQLite's lock instead of failing at once under concurrent requests.
        engine = create_async_engine(
            database_url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            connect_args={"timeout": defaults.SQLITE_WRITE_BUSY_TIMEOUT},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        # No pre-ping (a round trip at every checkout): a connection that died raises on use, is
        # invalidated with every older one, the request gets a 503, and the next one a fresh connection.
        pool_pre_ping=False,
        pool_recycle=1800,
        pool_timeout=pool_timeout,
        # asyncpg: seconds to establish a connection, and default per-statement timeout.
        connect_args={
            "timeout": connect_timeout,
            "command_timeout": command_timeout,
            "server_settings": dict(defaults.PG_SESSION_SETTINGS),
        },
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_sessionmaker(
    engine: AsyncEngine, *, actor: ActorOf | None = None, memory: Memory | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose writes are audited as ``actor()``'s (``store.audit``; none: as the CLI's), and
    that carry ``memory`` (a new one if none is given) to every ``Store`` made over them."""
    audited = audited_session_class(actor) if actor is not None else audited_session_class()
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        sync_session_class=audited,
        info={INFO_KEY: memory if memory is not None else Memory()},
    )
