"""Keeps ``store.rule_memory`` true on PostgreSQL: LISTEN for the notices migration 0007's trigger
sends on every change to ``immutable_rules``, and forget at each one.

One connection of its own per process (not from a pool: a LISTEN lives as long as its session).
The memory is trusted only while the connection is up and answers: it is enabled after the LISTEN
and disabled (everything forgotten) when the connection ends, fails a probe (every
``PROBE_SECONDS``: a connection cut without a reset would otherwise keep the memory on while notices
go nowhere) or the listener stops; then every push check reads, and the listener connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from repohub.store.pg_reader import asyncpg_dsn
from repohub.store.rule_memory import RuleMemory

__all__ = ["CHANNEL", "PROBE_SECONDS", "RuleListener"]

CHANNEL = "repohub_immutable_rules"  # the trigger's (migration 0007)
PROBE_SECONDS = 5.0
RETRY_SECONDS = 2.0

log = logging.getLogger("repohub.rules")


class RuleListener:
    def __init__(self, database_url: str, memory: RuleMemory, *, connect_timeout: float = 5.0) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._memory = memory
        self._timeout = connect_timeout

    async def run_forever(self) -> None:
        """Listen, and listen again after each loss, until cancelled."""
        try:
            while True:
                try:
                    await self._listen_once()
                except (TimeoutError, OSError, asyncpg.PostgresError) as error:
                    log.warning("immutable-tag rule listener lost (%s): push checks read meanwhile", error)
                self._memory.listening(False)
                await asyncio.sleep(RETRY_SECONDS)
        finally:
            self._memory.listening(False)

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=self._timeout)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._notified)
            self._memory.listening(True)
            while not lost.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), PROBE_SECONDS)
                if not lost.is_set():
                    await connection.fetchval("SELECT 1", timeout=PROBE_SECONDS)
        finally:
            self._memory.listening(False)
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close(timeout=1))

    def _notified(self, *_args: Any) -> None:
        self._memory.forget()
