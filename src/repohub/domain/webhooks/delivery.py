"""The worker inside ``repohub serve`` that delivers the outbox: claim, send, record, retry.

One worker task per process (the app's lifespan starts it and cancels it on shutdown, as it does the
retention schedule). It turns, until cancelled:

1. **Claim** as many due deliveries as it has free slots (``Tuning.concurrency``), in one short
   transaction (``store.outbox.claim``): each is leased for ``timeout + lease_margin`` seconds, the
   longest its attempt can take plus time to record it. Claiming no more than it can start at once is
   what keeps that lease true; it waits for half its slots to be free (or a moment) before claiming
   again, so a busy worker claims in batches, not row by row.
2. **Send** each in a task of its own through the ``Sender`` (``outbound.sender``: the only HTTP of
   webhooks), outside any transaction. A slow target holds one slot for at most its timeout, never
   a batch of others.
3. **Record** the outcomes in batches, one transaction each, on a task of its own
   (``store.outbox.record``): one job row per attempt, the delivery delivered, pending again after
   its backoff, or failed when that retry would come after its expiry (its creation plus
   ``REPOHUB_WEBHOOK_MAX_AGE``, ``Tuning.max_age``). A delivery already expired when claimed (its
   workers were down that long), or whose hook was disabled since, is failed without an attempt.
4. While claims come back full, turn again at once. Otherwise wait for the memory's nudge (this
   process enqueued deliveries), this worker's own next retry, or ``poll`` seconds (other replicas'
   deliveries, rows whose lease ran out), whichever comes first.

Backoff after the n-th failed attempt: ``backoff * 2**(n-1)``, plus up to a quarter of that as
jitter (receivers that went down together are not retried in step): with the defaults (10 s, 24 h)
about fourteen attempts, the last some 23 hours after the first. Delivery is at least once: a worker
killed between sending and recording leaves the row due again after its lease, and the receiver
sees the same ``X-Repohub-Delivery`` twice.

Nothing ends the loop but cancellation: a delivery that fails in an unexpected way is a failed
attempt (logged); a database error is logged, and the claim or the record is tried again after a
pause. On cancellation the attempts in flight are abandoned (their rows come back after the lease)
and what was already sent but not yet recorded is recorded, for a few seconds at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from repohub import defaults
from repohub.auth.secrets import SecretBox
from repohub.domain.clock import utcnow
from repohub.domain.webhooks import payloads
from repohub.domain.webhooks.hooks import JOB_FAILED, JOB_SUCCEEDED
from repohub.domain.webhooks.outbox import Notice
from repohub.domain.webhooks.payloads import Request
from repohub.observability import metrics
from repohub.store.outbox import Claimed, Outcome
from repohub.store.unit import Store

__all__ = [
    "DELIVERED",
    "FAILED",
    "PENDING",
    "Attempt",
    "DeliveryWorker",
    "Sender",
    "Tuning",
    "expired",
    "retry_delay",
    "settle",
]

log = logging.getLogger("repohub.webhooks")

DELIVERED, PENDING, FAILED = "delivered", "pending", "failed"  # a delivery's states
DB_PAUSE = 1.0  # seconds before a claim or a record is tried again after a database error
REFILL_WAIT = 0.05  # seconds a worker with some free slots waits for half of them before claiming
PRUNE_EVERY = 3600.0  # seconds between prunes of settled deliveries, per worker
PRUNE_BATCH = 1000  # settled deliveries deleted a statement
RECORD_BATCH = 500  # outcomes per recording transaction, at most
FLUSH_TIMEOUT = 5.0  # seconds to record what was sent, at shutdown
_MAX_DOUBLINGS = 40  # beyond this the delay exceeds any expiry anyway; no float overflow
UNREADABLE_SECRET = "the hook's secret cannot be decrypted (was REPOHUB_SECRET_KEY changed?)"
EXPIRED_TEXT = "expired: not delivered within REPOHUB_WEBHOOK_MAX_AGE"
DISABLED_TEXT = "not delivered: the hook was disabled"
_UNREADABLE = "\0unreadable"  # what _open returns for a sealed value it cannot open (no clear value is)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one request came to: the receiver's status ``code``, or the ``error`` that kept it from
    answering (unsafe target, connection refused, timeout), and how long it took."""

    code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.code is not None and 200 <= self.code < 300

    @property
    def status_text(self) -> str:
        """The job's ``status_text``: the status code as text (``500``), else the error."""
        return str(self.code) if self.code is not None else (self.error or "no response")


class Sender(Protocol):
    """Sends a rendered request (``outbound.sender.HttpSender``; tests may pass their own)."""

    async def send(self, request: Request, *, skip_cert_verify: bool) -> Attempt: ...


@dataclass(frozen=True, slots=True)
class Tuning:
    """The worker's settings (``REPOHUB_WEBHOOK_*``): ``timeout`` must be the sender's per-target
    timeout, the lease is built on it; ``registry_host`` is where images are pulled from."""

    registry_host: str
    backoff: float = defaults.WEBHOOK_BACKOFF
    timeout: float = defaults.WEBHOOK_TIMEOUT
    concurrency: int = defaults.WEBHOOK_CONCURRENCY
    poll: float = 1.0
    lease_margin: float = 5.0
    history: timedelta = timedelta(seconds=defaults.WEBHOOK_HISTORY)  # settled deliveries kept
    max_age: timedelta = timedelta(seconds=defaults.WEBHOOK_MAX_AGE)  # a delivery retried this long

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout + self.lease_margin)


def retry_delay(backoff: float, attempts: int, draw: Callable[[], float] = random.random) -> float:
    """Seconds until the next attempt after ``attempts`` (≥ 1) failed ones (module doc)."""
    doublings = min(max(attempts, 1), _MAX_DOUBLINGS) - 1
    return float(backoff * 2**doublings * (1 + draw() * 0.25))


def settle(claimed: Claimed, attempt: Attempt, at: datetime, now: datetime, tuning: Tuning) -> Outcome:
    """The outcome of ``attempt`` (started ``at``, over ``now``) at ``claimed``: delivered on a
    2xx; else pending again after the backoff, or failed when that retry would come after the
    delivery's expiry (its creation plus ``tuning.max_age``)."""
    retry = now + timedelta(seconds=retry_delay(tuning.backoff, claimed.attempts + 1))
    if attempt.succeeded:
        state, status, due = DELIVERED, JOB_SUCCEEDED, now
    elif retry >= claimed.created_at + tuning.max_age:
        state, status, due = FAILED, JOB_FAILED, now
    else:
        state, status, due = PENDING, JOB_FAILED, retry
    return Outcome(
        claimed,
        state,
        status,
        attempt.status_text,
        due,
        at,
        response_code=attempt.code,
        duration_ms=attempt.duration_ms,
    )


def expired(claimed: Claimed, now: datetime, why: str = EXPIRED_TEXT) -> Outcome:
    """A delivery given up before an attempt (too old, or its hook disabled): failed, no job row."""
    return Outcome(claimed, FAILED, None, why, now, now)


class DeliveryWorker:
    def __init__(
        self,
        open_store: Callable[[], Store],
        sender: Sender,
        secret_box: SecretBox,
        tuning: Tuning,
        nudge: asyncio.Event,
    ) -> None:
        """``open_store``: a new unit of work per claim and per record (closed with its session);
        ``nudge``: the database memory's ``webhook_nudge``."""
        self._open_store = open_store
        self._sender = sender
        self._box = secret_box
        self._tuning = tuning
        self._nudge = nudge
        self._refill = max(1, tuning.concurrency // 2)
        self._busy = 0
        self._freed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self._recording: list[Outcome] = []
        self._next_retry: datetime | None = None
        self._next_prune = 0.0  # the loop's time of the next prune (the first turn prunes)
        # The worker's claims and records take turns: on SQLite two write transactions at once wait
        # on its lock (tenths of a second each), and on PostgreSQL a turn is a few milliseconds.
        self._writing = asyncio.Lock()
        self.counts: Counter[str] = Counter()  # recorded outcomes: succeeded, failed, expired

    async def run_forever(self) -> None:
        """Claim, send, record, until cancelled (module doc)."""
        recorder = asyncio.create_task(self._record_forever(), name="repohub-webhook-recorder")
        try:
            while True:
                await self._turn()
        finally:
            await self._shut_down(recorder)

    async def _turn(self) -> None:
        await self._prune_when_due()
        room = await self._room()
        self._nudge.clear()  # an enqueue from here on ends the idle wait below at once
        if self._next_retry is not None and self._next_retry <= utcnow():
            self._next_retry = None  # due now: this claim takes it (or another replica did)
        claimed = await self._claim(room)
        for item in claimed:
            self._start(item)
        if len(claimed) < room:
            await self._idle()

    def _free(self) -> int:
        return self._tuning.concurrency - self._busy

    async def _room(self) -> int:
        """The free slots, once half of them are free or ``REFILL_WAIT`` has passed with one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + REFILL_WAIT
        while self._free() < self._refill:
            self._freed.clear()
            wait = None if self._free() == 0 else deadline - loop.time()
            if wait is not None and wait <= 0:
                break
            try:
                await asyncio.wait_for(self._freed.wait(), wait)
            except TimeoutError:
                break
        return self._free()

    async def _idle(self) -> None:
        timeout = self._tuning.poll
        if self._next_retry is not None:
            timeout = max(0.0, min(timeout, (self._next_retry - utcnow()).total_seconds()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudge.wait(), timeout)  # set once the enqueue committed

    async def _claim(self, room: int) -> list[Claimed]:
        store = self._open_store()
        try:
            async with self._writing:
                claimed = await store.outbox.claim(utcnow(), self._tuning.lease, room)
                await store.commit_bookkeeping()  # no remembered read depends on the outbox
            return claimed
        except Exception as error:  # the database: log, pause, the next turn tries again
            _database_failed("claiming deliveries", error)
            await asyncio.sleep(DB_PAUSE)
            return []
        finally:
            await store.session.close()

    async def _prune_when_due(self) -> None:
        """Once every ``PRUNE_EVERY`` seconds: settled deliveries older than ``history`` go (every
        replica may; the DELETE is the same whoever runs it)."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_prune:
            return
        self._next_prune = loop.time() + PRUNE_EVERY
        store = self._open_store()
        try:
            pruned = 0
            while True:  # a batch a turn of the lock, so claims and records get theirs in between
                async with self._writing:
                    batch = await store.outbox.prune(utcnow() - self._tuning.history, PRUNE_BATCH)
                    await store.commit_bookkeeping()
                pruned += batch
                if batch < PRUNE_BATCH:
                    break
            if pruned:
                log.info("webhooks: %d settled deliveries older than their history pruned", pruned)
        except Exception as error:  # the database: the next prune tries again
            _database_failed("pruning settled deliveries", error)
        finally:
            await store.session.close()

    # -- sending ----------------------------------------------------------------------------------

    def _start(self, claimed: Claimed) -> None:
        self._busy += 1
        task = asyncio.create_task(self._deliver(claimed), name=f"repohub-webhook-{claimed.delivery_id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._busy -= 1
        self._freed.set()

    async def _deliver(self, claimed: Claimed) -> None:
        at = utcnow()
        try:
            outcome = await self._attempt(claimed, at)
        except Exception as error:  # a bug in rendering or sending: a failed attempt, the loop goes on
            log.exception("webhooks: delivering failed unexpectedly", extra={"fields": _fields(claimed)})
            attempt = Attempt(None, f"internal error ({type(error).__name__})", 0)
            outcome = settle(claimed, attempt, at, utcnow(), self._tuning)
        self._outcomes.put_nowait(outcome)

    async def _attempt(self, claimed: Claimed, at: datetime) -> Outcome:
        if at >= claimed.created_at + self._tuning.max_age:
            return expired(claimed, at)
        if not claimed.hook.spec.enabled:
            return expired(claimed, at, DISABLED_TEXT)
        request = self._render(claimed)
        if isinstance(request, Request):
            attempt = await self._sender.send(request, skip_cert_verify=claimed.hook.spec.skip_cert_verify)
        else:
            attempt = Attempt(None, request, 0)
        return settle(claimed, attempt, at, utcnow(), self._tuning)

    def _render(self, claimed: Claimed) -> Request | str:
        """The request, or why there is none (a secret that cannot be opened, a bad header list)."""
        spec = claimed.hook.spec
        secret, auth_header = self._open(spec.secret), self._open(spec.auth_header)
        if _UNREADABLE in (secret, auth_header):
            return UNREADABLE_SECRET
        try:
            return payloads.render(
                claimed.hook,
                Notice.from_json(claimed.event),
                claimed.delivery_id,
                secret=secret,
                auth_header=auth_header,
                registry_host=self._tuning.registry_host,
            )
        except ValueError as error:
            return str(error)

    def _open(self, sealed: str | None) -> str | None:
        """The clear value (None: there is none), or ``_UNREADABLE`` when it cannot be opened."""
        if not sealed:
            return None
        opened = self._box.open(sealed)
        return _UNREADABLE if opened is None else opened

    # -- recording --------------------------------------------------------------------------------

    async def _record_forever(self) -> None:
        while True:
            batch = [await self._outcomes.get()]
            while len(batch) < RECORD_BATCH and not self._outcomes.empty():
                batch.append(self._outcomes.get_nowait())
            self._recording = batch
            while True:
                if await self._write(batch):
                    break
                await asyncio.sleep(DB_PAUSE)
            self._recording = []
            self._account(batch)

    async def _write(self, batch: list[Outcome]) -> bool:
        store = self._open_store()
        try:
            async with self._writing:
                await store.outbox.record(batch)
                await store.commit_bookkeeping()
                self._recording = []  # written: a cancellation from here on must not write it again
            return True
        except Exception as error:  # the database: log; the caller tries again after a pause
            _database_failed(f"recording {len(batch)} delivery outcomes", error)
            return False
        finally:
            await store.session.close()

    def _account(self, batch: list[Outcome]) -> None:
        """Count what was recorded, note the earliest retry, log what failed for good."""
        counted: Counter[str] = Counter()
        for outcome in batch:
            counted[_kind(outcome)] += 1
            if outcome.state == PENDING:
                due = outcome.next_attempt_at
                self._next_retry = due if self._next_retry is None else min(due, self._next_retry)
            elif outcome.state == FAILED:
                fields = {**_fields(outcome.claimed), "status_text": outcome.status_text}
                log.warning("webhooks: delivery failed for good", extra={"fields": fields})
        for kind, count in counted.items():
            metrics.WEBHOOK_ATTEMPTS.labels(kind).inc(count)
        self.counts.update(counted)

    async def _shut_down(self, recorder: asyncio.Task[None]) -> None:
        """Abandon the attempts in flight; record, briefly, what was sent but not yet recorded."""
        tasks = [*self._tasks, recorder]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        left = list(self._recording)
        while not self._outcomes.empty():
            left.append(self._outcomes.get_nowait())
        if not left:
            return
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                if await self._write(left):
                    self._account(left)
        except TimeoutError:
            log.warning("webhooks: %d delivery outcomes left unrecorded at shutdown", len(left))


def _database_failed(what: str, error: Exception) -> None:
    """A line saying the database failed (an outage is expected and retried: no traceback, which
    ops logs must not carry, see ``tests/ops/test_faults.py``); the traceback at debug level."""
    log.warning("webhooks: %s failed (%s): trying again", what, type(error).__name__)
    log.debug("webhooks: %s failed", what, exc_info=error)


def _kind(outcome: Outcome) -> str:
    if outcome.status is None:
        return "expired"
    return "succeeded" if outcome.status == JOB_SUCCEEDED else "failed"


def _fields(claimed: Claimed) -> dict[str, object]:
    """What a log line says of a delivery: never its secret, headers or body."""
    return {"delivery_id": claimed.delivery_id, "hook_id": claimed.hook.id, "action": claimed.action}
