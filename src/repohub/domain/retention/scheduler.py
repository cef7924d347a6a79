"""The retention schedule every replica of a database shares: exactly one of them runs each interval.

Each replica (``repohub serve``: the app's lifespan starts ``RetentionSchedule.run_forever`` as a task
and cancels it on shutdown) wakes every 0.25–0.75 × min(interval, 60 s) — the jitter keeps replicas
started together from waking in step — and tries to claim the ``schedules`` row ``retention``
(``store.schedules``: one UPDATE that moves the due time one interval on and takes a lease). The one
whose UPDATE changed the row runs the policies now, then clears its lease; the others see it not due.
The holder renews its lease every third of ``LEASE`` while it runs (a keep-100 run over 10,000 tags
takes the registry about an hour, docs/benchmarks.md); a replica that dies mid-run leaves a lease that
lapses within ``LEASE``, and another replica takes over at the next due time.

The row is created (if missing) due one interval after the first replica starts, not at once: a new
deployment, or a restart after the row was lost, gives its operator one interval to look at what the
rules would do (``repohub retention run --dry-run``) before anything is deleted; once there, the row
keeps the cadence across restarts. Errors of a run or a claim (the database down, a bug) are logged
and the loop goes on; a registry failure is the runner's per-repository report.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from repohub.domain.clock import utcnow
from repohub.domain.gateway import RegistryGateway
from repohub.domain.retention.runner import RetentionRunner, RunReport
from repohub.observability import context, metrics
from repohub.store.unit import Store

__all__ = ["ACTOR", "LEASE", "NAME", "WAKE_CAP", "RetentionSchedule"]

log = logging.getLogger("repohub.retention")

NAME = "retention"
ACTOR = "retention"  # the audit trail's actor of a scheduled run's writes
WAKE_CAP = 60.0  # seconds: a due run starts within 45 s however long the interval
# A lease lasts this long unless its holder renews it (every third of it, while the run goes on):
# a dead holder's claim lapses within it, however long a live run takes.
LEASE = timedelta(minutes=10)


class RetentionSchedule:
    def __init__(
        self,
        open_store: Callable[[], Store],
        registry: RegistryGateway | None,
        interval: float,
        *,
        holder: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        """``open_store``: a new unit of work per claim and per run (closed with its session)."""
        self._open_store = open_store
        self._registry = registry
        self.interval = timedelta(seconds=interval)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = lease
        self._ensured = False

    def wake_period(self) -> float:
        return min(self.interval.total_seconds(), WAKE_CAP) * random.uniform(0.25, 0.75)

    async def run_forever(self) -> None:
        """Wake, claim, run, until cancelled. Writes are audited with the actor "retention"."""
        context.begin(
            context.RequestContext(
                request_id=f"retention-{self.holder}", client=ACTOR, user=ACTOR, background=True
            )
        )
        while True:
            await asyncio.sleep(self.wake_period())
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a run must never end the loop: the next wake tries again
                log.exception("retention: the scheduled run failed")

    async def tick(self) -> RunReport | None:
        """One wake-up: the run's report if this replica claimed the schedule, else None."""
        if not await self._claim():
            return None
        log.info("retention run started", extra={"fields": {"holder": self.holder}})
        started = time.perf_counter()
        outcome = "error"
        try:
            report = await self._run()
            outcome = "failed" if report.failed else "ok"
        finally:
            metrics.RETENTION_RUNS.labels("schedule", outcome).inc()
            metrics.RETENTION_DURATION.labels("schedule").observe(time.perf_counter() - started)
            await self._release()
        log.info(
            "retention run finished",
            extra={"fields": {"holder": self.holder, **_summary(report)}},
        )
        return report

    async def _claim(self) -> bool:
        store = self._open_store()
        try:
            now = utcnow()
            if not self._ensured:
                await store.schedules.ensure(NAME, now + self.interval)
                await store.commit_bookkeeping()
                self._ensured = True
            claimed = await store.schedules.claim(
                NAME, self.holder, now=now, interval=self.interval, lease=self._lease
            )
            # Bookkeeping: no remembered read depends on the schedule, so memos stay valid.
            await store.commit_bookkeeping()
            return claimed
        finally:
            await store.session.close()

    async def _run(self) -> RunReport:
        store = self._open_store()
        renewing = asyncio.create_task(self._renew_while_running())
        try:
            return await RetentionRunner(store, self._registry).run()
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            await store.session.close()

    async def _renew_while_running(self) -> None:
        """Keep the lease alive, on a session of its own, until cancelled with the run's end."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            store = self._open_store()
            try:
                await store.schedules.renew(NAME, self.holder, utcnow() + self._lease)
                await store.commit_bookkeeping()
            except Exception:  # the run goes on; at worst the lease lapses and a later claim overlaps
                log.exception("retention: renewing the schedule's lease failed")
            finally:
                await store.session.close()

    async def _release(self) -> None:
        store = self._open_store()
        try:
            await store.schedules.release(NAME, self.holder)
            await store.commit_bookkeeping()
        finally:
            await store.session.close()


def _summary(report: RunReport) -> dict[str, object]:
    return {
        "policies": report.policies,
        "deleted": report.deleted,
        "failed": [item.path for item in report.failed],
        "seconds": round(report.seconds, 3),
    }
