"""SQL behind the webhook outbox: deliveries written in a change's transaction, claimed by workers,
and the job row of each attempt.

Writing is one INSERT per change (:meth:`OutboxStore.add`), whatever the number of hooks and
events. The workers' statements are here too, so the outbox's SQL is read in one place:

- :meth:`OutboxStore.claim` takes the oldest due pending rows in one UPDATE, moving
  their due time on by a lease (the row's ``next_attempt_at``): a worker that dies leaves its rows due
  again when the lease ends, seconds later. On PostgreSQL the inner SELECT locks with ``FOR UPDATE
  SKIP LOCKED``, so replicas claiming at the same moment take different rows, never the same one
  (SQLite has one writer at a time: the UPDATE alone is enough). The predicate repeats the partial
  index's ``state = 'pending'`` as a literal, so the planner may use ``ix_webhook_deliveries_due``
  even for a prepared statement's generic plan.
- :meth:`OutboxStore.record` writes a batch of outcomes: one job row per attempt and the delivery
  rows' new state, one executemany per statement kind (on PostgreSQL one statement of arrays
  each). It updates only rows still pending under the same claim (``next_attempt_at`` still the
  lease that claim set: its token), so a late outcome (a lease that ran out and a second claim since,
  a second worker that delivered) changes nothing; its job row is written all the same (the attempt
  was made).
- :meth:`OutboxStore.recent` lists deliveries for ``repohub hooks deliveries``.

None of these writes is audited (``store.audit`` skips both tables): they are bookkeeping of changes
that are, and auditing them would add a row per delivery, per attempt and per idle poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, delete, insert, literal_column, select, text, update

from repohub.domain.clock import utcnow
from repohub.domain.webhooks.hooks import Hook, NewDelivery
from repohub.store.session import LazySession
from repohub.store.tables import NamespaceRow, UTCDateTime, WebhookDeliveryRow, WebhookJobRow, WebhookRow
from repohub.store.webhooks import WebhookStore

__all__ = ["Claimed", "DeliveryInfo", "OutboxStore", "Outcome"]

# A change's deliveries as one statement of four array parameters on PostgreSQL, whatever their
# number: the same text every time (compiled once, prepared once a connection). An executemany was
# one INSERT a row on asyncpg, and a VALUES list compiled anew each time: 17 ms and more for an
# envelope's 100 deliveries, where this takes 3 (``bench.webhooks``). SQLite's executemany runs in
# process and stays.
_ADD_PG = text(
    "INSERT INTO webhook_deliveries (delivery_id, hook_id, action, event, state, attempts,"
    " next_attempt_at, last_status, created_at, updated_at)"
    " SELECT d, h, a, e, 'pending', 0, :due, '', :now, :now"
    " FROM unnest(CAST(:ids AS VARCHAR[]), CAST(:hooks AS BIGINT[]), CAST(:actions AS VARCHAR[]),"
    " CAST(:events AS TEXT[])) AS u(d, h, a, e)"
).bindparams(
    bindparam("due", type_=UTCDateTime()),
    bindparam("now", type_=UTCDateTime()),
)


# A batch of outcomes on PostgreSQL, as for ``add``: three statements of array parameters, the same
# text whatever the batch's size. The executemany and IN-list forms were prepared anew for each new
# batch size and sent a statement a row: two thirds of a delivery's cost (``bench.webhooks``).
_LIVE_PG = text("SELECT id FROM webhook_deliveries WHERE id = ANY(CAST(:ids AS BIGINT[])) FOR UPDATE")
_SETTLE_PG = text(
    "UPDATE webhook_deliveries AS d SET state = u.state, attempts = d.attempts + u.tried,"
    " last_status = u.status_text, next_attempt_at = u.due, updated_at = u.at"
    " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:states AS VARCHAR[]), CAST(:tried AS INTEGER[]),"
    " CAST(:texts AS VARCHAR[]), CAST(:dues AS TIMESTAMP WITH TIME ZONE[]),"
    " CAST(:ats AS TIMESTAMP WITH TIME ZONE[]), CAST(:leases AS TIMESTAMP WITH TIME ZONE[]))"
    " AS u(id, state, tried, status_text, due, at, leased)"
    " WHERE d.id = u.id AND d.state = 'pending' AND d.next_attempt_at = u.leased"
)
_JOBS_PG = text(
    "INSERT INTO webhook_jobs (delivery_id, hook_id, action, status, status_text, response_code,"
    " duration_ms, created_at)"
    " SELECT * FROM unnest(CAST(:deliveries AS BIGINT[]), CAST(:hooks AS BIGINT[]),"
    " CAST(:actions AS VARCHAR[]), CAST(:statuses AS VARCHAR[]), CAST(:texts AS VARCHAR[]),"
    " CAST(:codes AS INTEGER[]), CAST(:durations AS INTEGER[]), CAST(:ats AS TIMESTAMP WITH TIME ZONE[]))"
)

# Each statement's array parameters, by the row keys of ``_settled`` and ``_job`` they gather.
_SETTLE_ARRAYS = {
    "ids": "row_id",
    "states": "new_state",
    "tried": "tried",
    "texts": "status_text",
    "dues": "due",
    "ats": "at",
    "leases": "leased",
}
_JOB_ARRAYS = {
    "deliveries": "delivery_id",
    "hooks": "hook_id",
    "actions": "action",
    "statuses": "status",
    "texts": "status_text",
    "codes": "response_code",
    "durations": "duration_ms",
    "ats": "created_at",
}


def _arrays(rows: Sequence[dict[str, Any]], names: dict[str, str]) -> dict[str, list[Any]]:
    """Rows as one list a column: the parameters of an unnest statement."""
    return {parameter: [row[key] for row in rows] for parameter, key in names.items()}


_PENDING: ColumnElement[str] = literal_column("'pending'")  # as the partial index states it (module doc)
_TABLE = cast(Table, WebhookDeliveryRow.__table__)  # Core: an executemany UPDATE by bound id
_STATUS_TEXT = 255  # webhook_jobs.status_text and webhook_deliveries.last_status


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery a worker holds until ``next_attempt_at`` (its lease): ``id`` the row's,
    ``delivery_id`` the stable ``X-Repohub-Delivery``, ``hook`` with its secret and header list
    still sealed, ``event`` the notice's JSON, ``attempts`` made before this one."""

    id: int
    delivery_id: str
    hook: Hook
    action: str
    event: str
    attempts: int
    created_at: datetime
    leased_until: datetime  # the claim's token: what it set ``next_attempt_at`` to


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a claimed delivery. ``status`` is the attempt's job status (Succeed,
    Failed), None when no attempt was made (it expired first): then no job row is written.
    ``state`` is the delivery's next state (delivered, pending, failed) and ``next_attempt_at``
    when a pending one is due again; ``status_text`` the HTTP status code or the error."""

    claimed: Claimed
    state: str
    status: str | None
    status_text: str
    next_attempt_at: datetime
    at: datetime
    response_code: int | None = None
    duration_ms: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    """One delivery as ``repohub hooks deliveries`` lists it."""

    delivery_id: str
    hook_id: int
    namespace: str
    url: str
    action: str
    state: str
    attempts: int
    last_status: str
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime


class OutboxStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session
        self.added = False  # deliveries written in the open transaction: its commit nudges the workers

    async def add(self, deliveries: Sequence[NewDelivery]) -> None:
        if not deliveries:
            return
        self.added = True
        now = utcnow()
        first = deliveries[0]
        uniform = all(item.due == first.due for item in deliveries)
        if self._session.dialect == "postgresql" and uniform:
            parameters = {
                "ids": [item.delivery_id for item in deliveries],
                "hooks": [item.hook_id for item in deliveries],
                "actions": [item.action for item in deliveries],
                "events": [item.event for item in deliveries],
                "due": first.due,
                "now": now,
            }
            await self._session.execute(_ADD_PG, parameters)
            return
        await self._session.execute(
            insert(WebhookDeliveryRow),
            [
                {
                    "delivery_id": item.delivery_id,
                    "hook_id": item.hook_id,
                    "action": item.action,
                    "event": item.event,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": item.due,
                    "last_status": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for item in deliveries
            ],
        )

    async def claim(self, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
        """Up to ``limit`` due deliveries, oldest due first, each now leased until ``now + lease``
        (module doc). Commit at once: the lease holds from the commit on. A disabled hook's are
        claimed too, for the worker to settle (``Claimed.hook.spec.enabled``): left pending they would
        stay in the due index for good."""
        rows = WebhookDeliveryRow
        # Most polls find nothing due: a read says so without the UPDATE, which on SQLite would take
        # the file's write lock every second of every process, idle or not.
        anything = select(rows.id).where(rows.state == _PENDING, rows.next_attempt_at <= now).limit(1)
        if (await self._session.execute(anything)).first() is None:
            return []
        leased_until = now + lease
        due = (
            select(rows.id)
            .where(rows.state == _PENDING, rows.next_attempt_at <= now)
            .order_by(rows.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=rows)  # nothing on SQLite
        )
        statement = (
            update(rows)
            .where(rows.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=leased_until, updated_at=now)
            .returning(
                rows.id,
                rows.delivery_id,
                rows.hook_id,
                rows.action,
                rows.event,
                rows.attempts,
                rows.created_at,
            )
        )
        taken = (await self._session.execute(statement)).all()
        if not taken:
            return []
        hooks = await WebhookStore(self._session).by_ids({row[2] for row in taken})
        return [
            Claimed(row[0], row[1], hooks[row[2]], row[3], row[4], row[5], row[6], leased_until)
            for row in sorted(taken, key=lambda row: row[0])
            if row[2] in hooks
        ]

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write ``outcomes`` (module doc), in the caller's transaction."""
        if not outcomes:
            return
        if self._session.dialect == "postgresql":
            await self._record_pg(outcomes)
            return
        live = await self._still_there([item.claimed.id for item in outcomes])
        kept = [item for item in outcomes if item.claimed.id in live]
        if not kept:
            return
        statement = (
            update(_TABLE)
            .where(
                _TABLE.c.id == bindparam("row_id"),
                _TABLE.c.state == _PENDING,
                _TABLE.c.next_attempt_at == bindparam("leased"),  # this claim's, not a later one's
            )
            .values(
                state=bindparam("new_state"),
                attempts=_TABLE.c.attempts + bindparam("tried"),
                last_status=bindparam("status_text"),
                next_attempt_at=bindparam("due"),
                updated_at=bindparam("at"),
            )
        )
        await self._session.execute(statement, [_settled(item) for item in kept])
        jobs = [_job(item) for item in kept if item.status is not None]
        if jobs:
            await self._session.execute(insert(WebhookJobRow), jobs)

    async def _record_pg(self, outcomes: Sequence[Outcome]) -> None:
        """``record`` on PostgreSQL: the same three steps, each one statement of arrays."""
        ids = [item.claimed.id for item in outcomes]
        live = set((await self._session.execute(_LIVE_PG, {"ids": ids})).scalars().all())
        kept = [item for item in outcomes if item.claimed.id in live]
        if not kept:
            return
        await self._session.execute(_SETTLE_PG, _arrays([_settled(item) for item in kept], _SETTLE_ARRAYS))
        jobs = [_job(item) for item in kept if item.status is not None]
        if jobs:
            await self._session.execute(_JOBS_PG, _arrays(jobs, _JOB_ARRAYS))

    async def _still_there(self, ids: Sequence[int]) -> set[int]:
        """The ids of these deliveries that still exist (their hook not deleted since the claim),
        locked on PostgreSQL until the transaction ends, so the hook's deletion cannot remove them
        between this read and the job rows that refer to them."""
        statement = (
            select(WebhookDeliveryRow.id)
            .where(WebhookDeliveryRow.id.in_(list(ids)))
            .with_for_update(of=WebhookDeliveryRow)
        )
        return set((await self._session.execute(statement)).scalars().all())

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete at most ``limit`` settled deliveries (delivered, failed) last changed before
        ``before``, their job rows with them (the foreign key cascades); how many. A batch at a time:
        the worker's claims and records wait while it runs."""
        rows = WebhookDeliveryRow
        batch = (
            select(rows.id)
            .where(rows.state.in_(("delivered", "failed")), rows.updated_at < before)
            .limit(limit)
            .scalar_subquery()
        )
        return int((await self._session.execute(delete(rows).where(rows.id.in_(batch)))).rowcount or 0)

    async def recent(self, *, failed_only: bool = False, limit: int = 100) -> list[DeliveryInfo]:
        """The newest deliveries first (only failed ones with ``failed_only``), at most ``limit``."""
        rows = WebhookDeliveryRow
        statement = (
            select(
                rows.delivery_id,
                rows.hook_id,
                NamespaceRow.name,
                WebhookRow.url,
                rows.action,
                rows.state,
                rows.attempts,
                rows.last_status,
                rows.next_attempt_at,
                rows.created_at,
                rows.updated_at,
            )
            .join(WebhookRow, WebhookRow.id == rows.hook_id)
            .join(NamespaceRow, NamespaceRow.id == WebhookRow.namespace_id)
            .order_by(rows.id.desc())
            .limit(limit)
        )
        if failed_only:
            statement = statement.where(rows.state == "failed")
        return [DeliveryInfo(*row) for row in (await self._session.execute(statement)).all()]


def _settled(outcome: Outcome) -> dict[str, Any]:
    return {
        "row_id": outcome.claimed.id,
        "new_state": outcome.state,
        "tried": 0 if outcome.status is None else 1,
        "status_text": outcome.status_text[:_STATUS_TEXT],
        "due": outcome.next_attempt_at,
        "at": outcome.at,
        "leased": outcome.claimed.leased_until,
    }


def _job(outcome: Outcome) -> dict[str, Any]:
    claimed = outcome.claimed
    return {
        "delivery_id": claimed.id,
        "hook_id": claimed.hook.id,
        "action": claimed.action,
        "status": outcome.status,
        "status_text": outcome.status_text[:_STATUS_TEXT],
        "response_code": outcome.response_code,
        "duration_ms": outcome.duration_ms,
        "created_at": outcome.at,
    }
