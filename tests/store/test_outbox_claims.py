"""A claim's outcome counts only while the claim holds: once its lease ran out and another worker
claimed the delivery, the late outcome leaves the row to the newer claim (its attempt is still in
the jobs). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from repohub.domain.clock import utcnow
from repohub.domain.webhooks.hooks import NewDelivery
from repohub.store.outbox import Claimed, Outcome
from repohub.store.tables import WebhookDeliveryRow, WebhookJobRow
from tests.domain.test_tag_pulls import world as world  # acme/app, alice its admin
from tests.domain.test_webhook_outbox import add_hook, alauda
from tests.world import World


async def _claim(world: World, lease: timedelta) -> list[Claimed]:
    async with world.service() as service, service.store.transaction():
        return await service.store.outbox.claim(utcnow(), lease, 10)


async def _record(world: World, outcome: Outcome) -> None:
    async with world.service() as service, service.store.transaction():
        await service.store.outbox.record([outcome])


async def _row(world: World) -> tuple[str, int, object]:
    async with world.app.state.repohub.sessions() as session:
        row = (
            await session.execute(
                select(
                    WebhookDeliveryRow.state, WebhookDeliveryRow.attempts, WebhookDeliveryRow.next_attempt_at
                )
            )
        ).one()
    return row[0], row[1], row[2]


def _failed(claimed: Claimed) -> Outcome:
    now = utcnow()
    return Outcome(claimed, "pending", "Failed", "500", now + timedelta(seconds=1), now, response_code=500)


async def test_a_late_outcome_of_an_earlier_claim_changes_nothing_but_the_jobs(world) -> None:
    hook = await add_hook(world, alauda())
    async with world.service() as service, service.store.transaction():
        await service.store.outbox.add([NewDelivery(hook, "push", "{}", utcnow())])
    [first] = await _claim(world, timedelta(0))  # its lease runs out at once
    [second] = await _claim(world, timedelta(minutes=5))
    assert second.id == first.id and second.leased_until > first.leased_until

    await _record(world, _failed(first))  # the first worker's attempt, recorded late

    assert await _row(world) == ("pending", 0, second.leased_until)  # the second claim's, as it set it
    await _record(world, _failed(second))
    state, attempts, due = await _row(world)
    assert (state, attempts) == ("pending", 1) and due != second.leased_until
    async with world.app.state.repohub.sessions() as session:
        jobs = (await session.execute(select(func.count()).select_from(WebhookJobRow))).scalar_one()
    assert jobs == 2  # both attempts were made


async def test_a_hook_deleted_while_its_outcomes_are_recorded_waits_and_neither_fails(world) -> None:
    """The recorder holds the delivery rows; the hook's DELETE cascades to them and waits. Recording
    must not then wait on the hook in turn (a job row's key once did: a deadlock on PostgreSQL)."""
    import asyncio

    hook = await add_hook(world, alauda())
    async with world.service() as service, service.store.transaction():
        await service.store.outbox.add([NewDelivery(hook, "push", "{}", utcnow())])
    [claimed] = await _claim(world, timedelta(minutes=5))
    now = utcnow()
    outcome = Outcome(claimed, "delivered", "Succeed", "200", now, now, response_code=200)

    async def delete_hook() -> None:
        async with world.service() as service, service.store.transaction():
            namespace = await service.store.namespaces.by_name("acme")
            assert namespace is not None
            assert await service.store.webhooks.delete(hook, namespace_id=namespace.id)

    async with world.service() as service, service.store.transaction():
        await service.store.outbox.record([outcome])  # its rows locked until the commit
        deleting = asyncio.create_task(delete_hook())
        await asyncio.sleep(0.3)  # the DELETE is waiting on the rows now (PostgreSQL)
        await service.store.outbox.record([outcome])  # the job INSERT again, under the wait
    await deleting
    async with world.app.state.repohub.sessions() as session:
        left = (await session.execute(select(func.count()).select_from(WebhookJobRow))).scalar_one()
    assert left == 0  # the hook's deletion took its deliveries and their jobs
