"""The schedule's claim (``store.schedules``) on SQLite and PostgreSQL: one claimer per due time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from repohub.store.unit import Store
from tests.world import EPOCH, World

INTERVAL = timedelta(seconds=10)
LEASE = timedelta(seconds=60)


async def _claim(world: World, holder: str, seconds: float) -> bool:
    async with world.app.state.repohub.sessions() as session:
        store = Store(session)
        claimed = await store.schedules.claim(
            "retention", holder, now=EPOCH + timedelta(seconds=seconds), interval=INTERVAL, lease=LEASE
        )
        await store.commit_bookkeeping()
        return claimed


async def _ensure(world: World, seconds: float) -> None:
    async with world.app.state.repohub.sessions() as session:
        store = Store(session)
        await store.schedules.ensure("retention", EPOCH + timedelta(seconds=seconds))
        await store.commit_bookkeeping()


async def _release(world: World, holder: str) -> None:
    async with world.app.state.repohub.sessions() as session:
        store = Store(session)
        await store.schedules.release("retention", holder)
        await store.commit_bookkeeping()


async def test_a_due_schedule_is_claimed_once_then_not_before_its_next_due_time(world: World) -> None:
    await _ensure(world, 10)
    await _ensure(world, 999)  # a second replica's insert leaves the first due time alone
    assert not await _claim(world, "a", 5)  # not due yet
    assert await _claim(world, "a", 10)
    assert not await _claim(world, "b", 10.5)  # due again only at 20, and a holds the lease
    await _release(world, "a")
    assert not await _claim(world, "b", 19)
    assert await _claim(world, "b", 20)
    async with world.app.state.repohub.sessions() as session:
        next_due, holder, lease = await Store(session).schedules.get("retention") or (None, None, None)
    assert next_due == EPOCH + timedelta(seconds=30) and holder == "b"
    assert lease == EPOCH + timedelta(seconds=80)


async def test_a_live_lease_holds_off_claims_until_it_lapses(world: World) -> None:
    await _ensure(world, 0)
    assert await _claim(world, "dead", 0)  # a holder that never releases (it crashed)
    assert not await _claim(world, "b", 30)  # due (at 10), but the lease runs to 60
    assert await _claim(world, "b", 61)
    await _release(world, "dead")  # a lapsed holder's late release leaves b's lease alone
    async with world.app.state.repohub.sessions() as session:
        assert (await Store(session).schedules.get("retention") or (None, None))[1] == "b"


async def test_replicas_claiming_at_once_get_one_claim(world: World) -> None:
    await _ensure(world, 0)
    results = await asyncio.gather(*(_claim(world, f"r{n}", 1) for n in range(6)))
    assert sum(results) == 1


async def _renew(world: World, holder: str, seconds: float) -> bool:
    async with world.app.state.repohub.sessions() as session:
        store = Store(session)
        renewed = await store.schedules.renew("retention", holder, EPOCH + timedelta(seconds=seconds))
        await store.commit_bookkeeping()
        return renewed


async def test_a_renewed_lease_holds_a_long_run_past_its_first_end(world: World) -> None:
    await _ensure(world, 0)
    assert await _claim(world, "a", 0)  # lease until 60, next due at 10
    assert await _renew(world, "a", 200)  # the run goes on
    assert not await _renew(world, "b", 999)  # only the holder renews
    assert not await _claim(world, "b", 100)  # due, but a's renewed lease is live
    assert await _claim(world, "b", 201)  # lapsed: a died
