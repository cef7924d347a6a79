"""Database pool gauges, label ``pool``: ``session`` (SQLAlchemy's) and ``reader`` (the asyncpg pool of
lone hot reads on PostgreSQL). Works the same with several workers."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from repohub.observability import metrics
from repohub.observability.metrics import DB_POOL_IN_USE, DB_POOL_SIZE
from repohub.store.pg_reader import open_pool_stats

SESSION, READER = "session", "reader"
# With several workers, how often each writes its reader pool's figures (see ``instrument``).
SAMPLE_INTERVAL_SECONDS = 5.0

_samplers: dict[int, asyncio.Task[None]] = {}


def instrument(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    in_use = DB_POOL_IN_USE.labels(SESSION)  # the child once: a checkout pays no label lookup
    size = getattr(pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.labels(SESSION).inc(size())

    def on_checkout(*_args: Any) -> None:
        in_use.inc()

    def on_checkin(*_args: Any) -> None:
        in_use.dec()

    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)
    if metrics.is_multiprocess():
        # A scrape is answered by one worker, which cannot read the other workers' reader pools:
        # each worker writes its own figures on a timer instead (never per request).
        _samplers[id(engine)] = asyncio.get_running_loop().create_task(_sample_every(SAMPLE_INTERVAL_SECONDS))


def release(engine: AsyncEngine) -> None:
    sampler = _samplers.pop(id(engine), None)
    if sampler is not None:
        sampler.cancel()
    size = getattr(engine.sync_engine.pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.labels(SESSION).dec(size())


def sample_readers() -> None:
    """Set the reader gauges from this process's open asyncpg pools (0 on SQLite: there is none)."""
    found = open_pool_stats()
    DB_POOL_SIZE.labels(READER).set(sum(stats.size for stats in found))
    DB_POOL_IN_USE.labels(READER).set(sum(stats.in_use for stats in found))


async def _sample_every(seconds: float) -> None:
    while True:  # until release() cancels it
        sample_readers()
        await asyncio.sleep(seconds)


metrics.before_scrape(sample_readers)  # the answering process's own figures are exact at a scrape
