"""SQL behind the webhook outbox: deliveries written in a change's transaction, claimed by workers,
and the job row of each attempt.

Writing is one multi-row INSERT per change (:meth:`OutboxStore.add`), whatever the number of hooks and
events. The workers' statements (claiming due rows, recording attempts) are in this module too, so
the outbox's SQL is read in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, text

from repohub.domain.clock import utcnow
from repohub.domain.webhooks.hooks import NewDelivery
from repohub.store.session import LazySession
from repohub.store.tables import UTCDateTime, WebhookDeliveryRow

__all__ = ["OutboxStore"]

# A change's deliveries as one statement of four array parameters on PostgreSQL, whatever their
# number: the same text every time (compiled once, prepared once a connection). An executemany was
# one INSERT a row on asyncpg, and a VALUES list compiled anew each time: 17 ms and more for an
# envelope's 100 deliveries, where this takes 3 (``bench.webhooks``). SQLite's executemany runs in
# process and stays.
_ADD_PG = text(
    "INSERT INTO webhook_deliveries (delivery_id, hook_id, action, event, state, attempts,"
    " next_attempt_at, expires_at, last_status, created_at, updated_at)"
    " SELECT d, h, a, e, 'pending', 0, :due, :expires, '', :now, :now"
    " FROM unnest(CAST(:ids AS VARCHAR[]), CAST(:hooks AS BIGINT[]), CAST(:actions AS VARCHAR[]),"
    " CAST(:events AS TEXT[])) AS u(d, h, a, e)"
).bindparams(
    bindparam("due", type_=UTCDateTime()),
    bindparam("expires", type_=UTCDateTime()),
    bindparam("now", type_=UTCDateTime()),
)


class OutboxStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def add(self, deliveries: Sequence[NewDelivery]) -> None:
        if not deliveries:
            return
        now = utcnow()
        first = deliveries[0]
        uniform = all(item.due == first.due and item.expires_at == first.expires_at for item in deliveries)
        if self._session.dialect == "postgresql" and uniform:
            parameters = {
                "ids": [item.delivery_id for item in deliveries],
                "hooks": [item.hook_id for item in deliveries],
                "actions": [item.action for item in deliveries],
                "events": [item.event for item in deliveries],
                "due": first.due,
                "expires": first.expires_at,
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
                    "expires_at": item.expires_at,
                    "last_status": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for item in deliveries
            ],
        )
