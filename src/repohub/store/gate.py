"""First come, first served admission to a pool of database connections.

Both pools hand a returned connection to whichever coroutine asks next, not to the one that has
waited longest: under sustained load a few waiters were passed over again and again until their pool
timeout (a 503 after 2 s while the others were served in 60 ms). A gate of the pool's size in front of
it queues them fairly instead (asyncio's semaphore wakes waiters in order and lets nobody jump the
queue), so the pool itself never has a waiter; a wait past the timeout is the pool timeout it replaces.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import TimeoutError as PoolTimeout


class Gate:
    def __init__(self, size: int, timeout: float) -> None:
        self._slots = asyncio.Semaphore(size)
        self._size = size
        self._timeout = timeout

    async def acquire(self) -> None:
        """Wait for a slot, at most the pool's timeout (then the pool's own TimeoutError)."""
        try:
            if self._slots.locked():
                # asyncio.timeout, not wait_for: a timer on this task rather than a new task per wait.
                async with asyncio.timeout(self._timeout):
                    await self._slots.acquire()
            else:  # a free slot: no timer at all
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(
                f"all {self._size} database connections stayed busy for {self._timeout:g} s"
            ) from None

    def release(self) -> None:
        self._slots.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()
