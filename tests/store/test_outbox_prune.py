"""Settled deliveries are kept for their history, then pruned with their attempts; pending ones
never are, however old (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from repohub.domain.webhooks.hooks import NewDelivery
from repohub.store.tables import WebhookDeliveryRow, WebhookJobRow
from tests.domain.test_tag_pulls import world as world  # acme/app, alice its admin
from tests.domain.test_webhook_outbox import add_hook, alauda
from tests.world import World

OLD = datetime(2020, 1, 1, tzinfo=UTC)


async def _delivery(world: World, hook: int, state: str, at: datetime) -> int:
    async with world.service() as service:
        store = service.store
        async with store.transaction():
            made = NewDelivery(hook, "push", "{}", at)
            await store.outbox.add([made])
            row_id = (
                await store.session.execute(
                    select(WebhookDeliveryRow.id).where(WebhookDeliveryRow.delivery_id == made.delivery_id)
                )
            ).scalar_one()
            await store.session.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.id == row_id)
                .values(state=state, updated_at=at)
            )
            await store.session.execute(
                insert(WebhookJobRow).values(
                    delivery_id=row_id, hook_id=hook, action="push", status="Failed", created_at=at
                )
            )
    return row_id


async def test_settled_deliveries_older_than_the_history_go_with_their_attempts(world) -> None:
    hook = await add_hook(world, alauda())
    now = datetime.now(UTC)
    old_delivered = await _delivery(world, hook, "delivered", OLD)
    old_failed = await _delivery(world, hook, "failed", OLD)
    old_pending = await _delivery(world, hook, "pending", OLD)
    recent = await _delivery(world, hook, "delivered", now)

    async with world.service() as service, service.store.transaction():
        pruned = await service.store.outbox.prune(now - timedelta(days=7), 100)

    assert pruned == 2
    async with world.app.state.repohub.sessions() as session:
        left = set((await session.execute(select(WebhookDeliveryRow.id))).scalars())
        jobs = set((await session.execute(select(WebhookJobRow.delivery_id))).scalars())
    assert left == {old_pending, recent} and jobs == left
    assert not {old_delivered, old_failed} & left
