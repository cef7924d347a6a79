"""Keeps ``store.rule_memory`` true on PostgreSQL: LISTEN for the notices migration 0007's trigger
sends on every change to ``immutable_rules``, and forget at each one.

One connection of its own per process (not from a pool: a LISTEN lives as long as its session).
The memory is trusted only while the connection is up and answers, and the trigger is there and
enabled: it is enabled after the LISTEN and a check of the trigger, and each probe (every
``PROBE_SECONDS``, which checks the trigger again) renews a lease of ``LEASE_SECONDS``. A connection
cut without a reset ends no session: the lease lapses, so such a loss costs at most the lease, not an
unbounded wait. The memory is disabled (everything forgotten) when the connection ends, a probe fails
or the listener stops; then every push check reads, and the listener connects again. A database
without the trigger (or with it disabled) is never trusted: its notices would not come.
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
PROBE_SECONDS = 1.0
LEASE_SECONDS = 2.5  # two probes may be slow under load before the memory stops being trusted
RETRY_SECONDS = 2.0
NO_TRIGGER_RETRY_SECONDS = 30.0
# Whether migration 0007's trigger is there and fires ('O': on origin, 'A': always; 'D' disabled,
# 'R' only on replicas).
_TRIGGER_SQL = (
    "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'immutable_rules'::regclass"
    " AND tgname = 'immutable_rules_changed' AND tgenabled IN ('O', 'A')"
)

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
                retry = RETRY_SECONDS
                try:
                    if not await self._listen_once():
                        log.warning("immutable_rules has no enabled change trigger: push checks read")
                        retry = NO_TRIGGER_RETRY_SECONDS
                except Exception as error:  # any loss: read meanwhile, connect again
                    log.warning("immutable-tag rule listener lost (%r): push checks read meanwhile", error)
                self._memory.listening(False)
                await asyncio.sleep(retry)
        finally:
            self._memory.listening(False)

    async def _listen_once(self) -> bool:
        """Listen until the connection is lost (an exception) or the trigger is gone (False)."""
        connection = await asyncpg.connect(self._dsn, timeout=self._timeout)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._notified)
            if not await connection.fetchval(_TRIGGER_SQL, timeout=PROBE_SECONDS):
                return False
            self._memory.listening(True, lease=LEASE_SECONDS)
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), PROBE_SECONDS)
                if lost.is_set():
                    break
                if not await connection.fetchval(_TRIGGER_SQL, timeout=PROBE_SECONDS):
                    return False
                self._memory.renew(LEASE_SECONDS)
            return True
        finally:
            self._memory.listening(False)
            with contextlib.suppress(Exception):
                await asyncio.shield(connection.close(timeout=1))

    def _notified(self, *_args: Any) -> None:
        self._memory.forget()
