"""Lone hot reads on SQLite (list pages, registry token grants) without SQLAlchemy in the way.

On the embedded database the page query takes a fraction of a millisecond, while building the same
statement with SQLAlchemy, compiling it, and mapping its result cost several: the same SQL text as on
PostgreSQL (``pg_pages``, with ``$n`` parameters read as SQLite's ``?n``) runs on plain ``sqlite3``
connections instead, on a thread of their own, that refuse to write. WAL mode lets them read while the
application's own connection writes. Only lone reads come here, outside any transaction: a use case
that writes keeps its session, so it always reads what it wrote.

Values come back typed as the SQLAlchemy models declare them: ``DATETIME`` columns as aware UTC
datetimes (the store keeps UTC), ``BOOLEAN`` as bools.

Inside a transaction the same SQL runs on the session's own connection (``fetch_on``), whose driver
reads no declared types: its rows are given the reader's types by the store's column names.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from repohub import defaults

__all__ = ["SqliteReader", "fetch_on", "sqlite_sql"]

# Declared column types (as the migrations create them) to Python values. Only connections opened
# with ``detect_types`` use them, which SQLAlchemy's SQLite dialect does not ask for.
sqlite3.register_converter("DATETIME", lambda raw: datetime.fromisoformat(raw.decode()).replace(tzinfo=UTC))
sqlite3.register_converter("BOOLEAN", lambda raw: raw != b"0")
Convert = Callable[[Any], Any]

_NUMBERED = re.compile(r"\$(\d+)")
# One thread: sqlite3 gives the GIL up around every step of a statement, and two reader threads
# taking it back from each other and from the event loop cost a fuzzy page twice the CPU (4.8 ms
# against 2.4 at 10k repositories, docs/benchmarks.md) and made the list pages no faster.
THREADS = 1


@lru_cache(maxsize=1024)
def sqlite_sql(sql: str) -> str:
    """PostgreSQL's numbered ``$1`` parameters as SQLite's ``?1``."""
    return _NUMBERED.sub(r"?\1", sql)


class SqliteReader:
    def __init__(
        self, path: Path, *, threads: int = THREADS, busy_timeout: float = defaults.SQLITE_READ_BUSY_TIMEOUT
    ) -> None:
        self._path = str(path)
        self._busy_timeout = busy_timeout
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="repohub-sqlite-read")
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout,
                detect_types=sqlite3.PARSE_DECLTYPES,
                check_same_thread=False,  # only so that close() may run on another thread
                cached_statements=256,
            )
            connection.row_factory = sqlite3.Row
            # Not "mode=ro": a read-only connection cannot open a WAL database whose -shm file is gone.
            connection.execute("PRAGMA query_only = ON")
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    def _fetch_here(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        return self._connection().execute(sqlite_sql(sql), tuple(params)).fetchall()

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._fetch_here, sql, params)
        except sqlite3.OperationalError as error:  # locked past the busy timeout, file gone
            raise OperationalError(sql, list(params), error) from error
        except sqlite3.Error as error:
            raise DBAPIError(sql, list(params), error) from error

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        with self._lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _bool(value: int) -> bool:
    return value != 0


def _converter(name: str) -> Convert | None:
    """The reader's conversion of a column, told by its name: every ``DATETIME`` column of the
    schema is named ``*_at`` and every ``BOOLEAN`` one ``is_*`` (``tables``), aliases included."""
    if name.endswith("_at"):
        return _utc
    if name.startswith("is_"):
        return _bool
    return None


class _Row(tuple[Any, ...]):
    """A row that indexes by position and by column name, as ``sqlite3.Row`` does."""

    __slots__ = ()
    _names: dict[str, int] = {}  # noqa: RUF012 - set per statement shape by ``_row_type``

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names[key])
        return tuple.__getitem__(self, key)


@lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> tuple[type[_Row], tuple[tuple[int, Convert], ...]]:
    """The row class of one result shape and the conversions of its columns, made once per shape."""
    first = {name: i for i, name in reversed(list(enumerate(names)))}  # as sqlite3.Row: the first of a name
    row_type = type("Row", (_Row,), {"__slots__": (), "_names": first})
    conversions = tuple((i, convert) for i, name in enumerate(names) if (convert := _converter(name)))
    return row_type, conversions


async def fetch_on(connection: AsyncConnection, sql: str, params: Sequence[Any]) -> list[_Row]:
    """Rows of one statement on the session's connection, typed and indexed as the reader's are."""
    result = await connection.exec_driver_sql(sqlite_sql(sql), tuple(params))
    row_type, conversions = _row_type(tuple(result.keys()))
    rows = []
    for raw in result.all():
        values = list(raw)
        for i, convert in conversions:
            if values[i] is not None:
                values[i] = convert(values[i])
        rows.append(row_type(values))
    return rows
