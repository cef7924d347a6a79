"""SQL behind the webhook outbox: deliveries written in a change's transaction, claimed by workers,
and the job row of each attempt.

Writing is one multi-row INSERT per change (:meth:`OutboxStore.add`), whatever the number of hooks and
events. The workers' statements (claiming due rows, recording attempts) are in this module too, so
the outbox's SQL is read in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert

from repohub.domain.clock import utcnow
from repohub.domain.webhooks.hooks import NewDelivery
from repohub.store.session import LazySession
from repohub.store.tables import WebhookDeliveryRow

__all__ = ["OutboxStore"]


class OutboxStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def add(self, deliveries: Sequence[NewDelivery]) -> None:
        if not deliveries:
            return
        now = utcnow()
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
