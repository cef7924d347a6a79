"""The gate in front of a connection pool: first come, first served, and a bounded wait."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from repohub.store.gate import Gate


async def test_a_wait_past_the_timeout_is_a_pool_timeout_and_leaks_no_slot() -> None:
    gate = Gate(1, 0.1)
    async with gate.slot():
        started = time.monotonic()
        with pytest.raises(PoolTimeout, match="1 database connections stayed busy"):
            async with gate.slot():
                pass
        assert 0.09 <= time.monotonic() - started < 1.0
    async with asyncio.timeout(1):  # the timed-out waiter left no claim behind
        async with gate.slot():
            pass


async def test_waiters_are_served_in_arrival_order() -> None:
    gate = Gate(1, 5.0)
    served: list[int] = []

    async def visit(number: int) -> None:
        async with gate.slot():
            served.append(number)
            await asyncio.sleep(0.01)

    async with gate.slot():
        visitors = []
        for number in range(5):
            visitors.append(asyncio.create_task(visit(number)))
            await asyncio.sleep(0)  # each one queues before the next arrives
    await asyncio.gather(*visitors)
    assert served == [0, 1, 2, 3, 4]
