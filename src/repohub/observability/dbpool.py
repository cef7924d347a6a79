"""Database pool gauges, label ``pool``: ``session`` (SQLAlchemy's) and ``reader`` (the asyncpg pool of
lone hot reads on PostgreSQL). Works the same with several workers.

What it reads of the pools comes in from the app's wiring (``Pools``: the store's ``Database``; the
reader figures: ``store.database.reader_pool_stats``): observability imports nothing of the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from repohub.observability import metrics
from repohub.observability.metrics import DB_POOL_IN_USE, DB_POOL_SIZE

__all__ = ["READER", "SESSION", "PoolFigures", "Pools", "instrument", "release", "sample_readers"]

SESSION, READER = "session", "reader"
# With several workers, how often each writes its reader pool's figures (see ``instrument``).
SAMPLE_INTERVAL_SECONDS = 5.0


class PoolFigures(Protocol):
    @property
    def size(self) -> int: ...  # the most connections the pool opens
    @property
    def in_use(self) -> int: ...  # connections handed out right now


class Pools(Protocol):
    """What a database offers its metrics (``store.database.Database``)."""

    def session_pool_size(self) -> int | None: ...

    def watch_session_pool(self, checkout: Callable[..., None], checkin: Callable[..., None]) -> None: ...


ReaderFigures = Callable[[], Iterable[PoolFigures]]


def _no_readers() -> Iterable[PoolFigures]:
    return ()


# The process's lone-read pools, as the wiring said to read them (the same function for every app).
_reader_figures: ReaderFigures = _no_readers
_samplers: dict[int, asyncio.Task[None]] = {}


def instrument(pools: Pools, reader_figures: ReaderFigures) -> None:
    global _reader_figures
    _reader_figures = reader_figures
    in_use = DB_POOL_IN_USE.labels(SESSION)  # the child once: a checkout pays no label lookup
    size = pools.session_pool_size()
    if size is not None:
        DB_POOL_SIZE.labels(SESSION).inc(size)

    def on_checkout(*_args: Any) -> None:
        in_use.inc()

    def on_checkin(*_args: Any) -> None:
        in_use.dec()

    pools.watch_session_pool(on_checkout, on_checkin)
    if metrics.is_multiprocess():
        # A scrape is answered by one worker, which cannot read the other workers' reader pools:
        # each worker writes its own figures on a timer instead (never per request).
        _samplers[id(pools)] = asyncio.get_running_loop().create_task(_sample_every(SAMPLE_INTERVAL_SECONDS))


def release(pools: Pools) -> None:
    sampler = _samplers.pop(id(pools), None)
    if sampler is not None:
        sampler.cancel()
    size = pools.session_pool_size()
    if size is not None:
        DB_POOL_SIZE.labels(SESSION).dec(size)


def sample_readers() -> None:
    """Set the reader gauges from this process's open asyncpg pools (0 on SQLite: there is none)."""
    found = list(_reader_figures())
    DB_POOL_SIZE.labels(READER).set(sum(stats.size for stats in found))
    DB_POOL_IN_USE.labels(READER).set(sum(stats.in_use for stats in found))


async def _sample_every(seconds: float) -> None:
    while True:  # until release() cancels it
        sample_readers()
        await asyncio.sleep(seconds)


metrics.before_scrape(sample_readers)  # the answering process's own figures are exact at a scrape
