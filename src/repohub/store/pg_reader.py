"""A small asyncpg pool of its own for the hot reads on PostgreSQL (list pages, registry token grants).

Taking a connection through a SQLAlchemy session (a greenlet hop, the pool's checkout and reset
events, the session's own bookkeeping) cost more CPU than the page query itself; asyncpg's pool hands
one out in microseconds and prepares each statement once per connection. Only lone reads come here,
outside any transaction: a use case that writes keeps its session, so it always reads what it wrote.

A lost database surfaces as SQLAlchemy's ``OperationalError`` with ``connection_invalidated``, as it
does on the session path, so every dialect answers 503; the pool's idle connections are dropped with
it, and the next request after the database is back connects anew.

Inside a transaction the same SQL runs on the session's own asyncpg connection (``fetch_on``).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from repohub import defaults
from repohub.store.faults import is_unavailable
from repohub.store.gate import Gate

__all__ = ["PgReader", "PoolStats", "asyncpg_dsn", "fetch_on", "open_pool_stats"]


def asyncpg_dsn(database_url: str) -> str:
    """``postgresql+asyncpg://...`` (SQLAlchemy's form) as the plain DSN asyncpg takes."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _no_reset(_connection: asyncpg.Connection) -> None:
    """Reads change no session state, so the pool's reset query (a round trip per release) is skipped."""


@dataclass(frozen=True, slots=True)
class PoolStats:
    size: int  # the most connections the pool opens
    in_use: int  # connections handed out right now


# The open readers, for metrics read at scrape time (weak: a reader's lifetime is its application's).
_open: weakref.WeakSet[PgReader] = weakref.WeakSet()


def open_pool_stats() -> list[PoolStats]:
    return [reader.stats() for reader in list(_open)]


class PgReader:
    def __init__(self, pool: asyncpg.Pool, size: int, acquire_timeout: float) -> None:
        self._pool = pool
        self._gate = Gate(size, acquire_timeout)  # the pool's own queue lets late comers pass
        _open.add(self)

    def stats(self) -> PoolStats:
        """Counted from the pool's holders on demand: nothing is kept up to date per request."""
        pool = self._pool
        return PoolStats(size=pool.get_max_size(), in_use=pool.get_size() - pool.get_idle_size())

    @classmethod
    async def open(
        cls,
        database_url: str,
        *,
        size: int,
        connect_timeout: float,
        command_timeout: float,
        acquire_timeout: float,
    ) -> PgReader:
        """A pool that connects lazily: the service starts, and answers 503, while the database is down."""
        pool = await asyncpg.create_pool(
            asyncpg_dsn(database_url),
            min_size=0,
            max_size=size,
            reset=_no_reset,
            timeout=connect_timeout,
            command_timeout=command_timeout,
            server_settings=dict(defaults.PG_SESSION_SETTINGS),
        )
        return cls(pool, size, acquire_timeout)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[asyncpg.Record]:
        async with self._gate.slot():
            try:
                async with self._pool.acquire() as connection:
                    return list(await connection.fetch(sql, *params))
            except Exception as error:
                if is_unavailable(error):
                    await self._pool.expire_connections()  # the idle ones died with this one
                    raise OperationalError(sql, list(params), error, connection_invalidated=True) from error
                raise DBAPIError(sql, list(params), error) from error

    async def close(self) -> None:
        _open.discard(self)
        await self._pool.close()

    def terminate(self) -> None:
        """Close every connection at once, queries under way or not (a close that took too long)."""
        _open.discard(self)
        self._pool.terminate()


async def fetch_on(connection: AsyncConnection, sql: str, params: Sequence[Any]) -> list[asyncpg.Record]:
    """Rows of one statement on the session's asyncpg connection (prepared and cached by asyncpg),
    the same records the pool's ``fetch`` gives.

    Driver errors come back as SQLAlchemy's, as every other query's do: a lost connection is
    invalidated with the pool's idle ones (the next request connects anew) and rendered as 503 by
    the error mapping.
    """
    fairy = await connection.get_raw_connection()
    try:
        # driver_connection is None only on a connection the pool has let go; the AttributeError
        # that would raise is mapped below like any driver failure, so no check is added here.
        return list(await fairy.driver_connection.fetch(sql, *params))  # type: ignore[union-attr]
    except Exception as error:
        if is_unavailable(error):
            await connection.invalidate(error)
            # As SQLAlchemy does on a disconnect: the pooled connections are as dead as this one.
            await connection.engine.dispose(close=False)
            raise OperationalError(sql, list(params), error, connection_invalidated=True) from error
        raise DBAPIError(sql, list(params), error) from error
