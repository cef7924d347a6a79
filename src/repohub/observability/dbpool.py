"""Database pool gauges, kept current by pool events (works the same with several workers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from repohub.observability.metrics import DB_POOL_IN_USE, DB_POOL_SIZE


def instrument(engine: AsyncEngine) -> None:
    pool = engine.sync_engine.pool
    size = getattr(pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.inc(size())

    def on_checkout(*_args: Any) -> None:
        DB_POOL_IN_USE.inc()

    def on_checkin(*_args: Any) -> None:
        DB_POOL_IN_USE.dec()

    event.listen(pool, "checkout", on_checkout)
    event.listen(pool, "checkin", on_checkin)


def release(engine: AsyncEngine) -> None:
    size = getattr(engine.sync_engine.pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.dec(size())
