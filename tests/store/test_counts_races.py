"""The counts under concurrent writers on PostgreSQL: two transactions adding tags to one repository
at once both count (the repository's own tag count, which the namespace's follows, is recounted after
the row is locked, not from the snapshot of a statement that waited for the lock), and transactions
that touch two categories of one namespace in opposite orders do not deadlock (one counts row per
namespace, since main's 0232e8d)."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI

from repohub.domain.catalog import RepositoryChanges
from repohub.store.unit import Store
from tests.world import EPOCH, World


@pytest.fixture
async def repository_id(world: World, database_url: str) -> int:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: its transactions cannot interleave")
    await world.account("alice")
    await world.org("acme", owner="alice")
    await world.repository("acme/app", by="alice")
    await world.repository("acme/web", by="alice", category="linux")
    return await world.repository_id("acme/app")


async def _tag(store: Store, repository_id: int, name: str) -> None:
    await store.tags.upsert(
        repository_id,
        name=name,
        digest="sha256:" + name * 64,
        image_id=name * 64,
        media_type="application/vnd.oci.image.manifest.v1+json",
        size=10,
        manifest=None,
        creator_id=None,
        at=EPOCH,
    )


async def test_tags_added_by_two_transactions_at_once_are_both_counted(
    app: FastAPI, world: World, repository_id: int
) -> None:
    sessions = app.state.repohub.sessions
    async with sessions() as first_session, sessions() as second_session:
        first, second = Store(first_session), Store(second_session)
        await _tag(first, repository_id, "a")
        await _tag(second, repository_id, "b")
        await first.tags.refresh_summary(repository_id)  # holds the repository row
        waiting = asyncio.create_task(second.tags.refresh_summary(repository_id))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await first_session.commit()
        await waiting
        await second_session.commit()
    async with world.service() as service:
        repository = await service.store.repositories.get(repository_id)
        assert repository is not None and repository.tag_count == 2
        assert await service.store.counts.drift() == []


async def test_transactions_touching_two_categories_in_opposite_orders_do_not_deadlock(
    app: FastAPI, world: World, repository_id: int
) -> None:
    await world.repository("acme/app2", by="alice")
    await world.repository("acme/web2", by="alice", category="linux")
    other = [repository_id, await world.repository_id("acme/app2")]
    linux = [await world.repository_id("acme/web"), await world.repository_id("acme/web2")]
    public = RepositoryChanges(is_public=True).as_values()
    sessions = app.state.repohub.sessions

    async def change(one: int, then: int) -> None:
        async with sessions() as session:
            store = Store(session)
            await store.repositories.update(one, public)
            await asyncio.sleep(0.3)  # the other transaction takes its first repository meanwhile
            await store.repositories.update(then, public)
            await session.commit()

    # One in "other" then "linux", the other the reverse: each waits at most for the other's commit.
    await asyncio.wait_for(asyncio.gather(change(other[0], linux[1]), change(linux[0], other[1])), timeout=20)
    async with world.service() as service:
        assert await service.store.counts.drift() == []
