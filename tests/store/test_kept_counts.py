"""The counts migration 0010 keeps by triggers equal a recount of the rows, after a random mix of
the changes that move them: creates, deletes, visibility and category changes, pushes, members who
join and leave. Both databases."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import text

from repohub.domain.catalog import RepositoryChanges
from repohub.domain.entities import Role
from tests.world import World

USERS = ("ann", "ben", "cat", "dan")
ORGS = ("red", "blue", "green")
CATEGORIES = ("other", "app_server", "database")

_KEPT = {
    "catalogue": "SELECT category, sum(repositories), sum(public_repositories) FROM catalogue_counts"
    " GROUP BY category HAVING sum(repositories) <> 0 OR sum(public_repositories) <> 0",
    "namespaces": "SELECT namespace_id, repositories, public_repositories, tags, size"
    " FROM namespace_counts WHERE repositories <> 0 OR tags <> 0 OR size <> 0",
    "members": "SELECT user_id, category, private_repositories FROM member_counts"
    " WHERE private_repositories <> 0",
}
_RECOUNTED = {
    "catalogue": "SELECT category, count(*), sum(CASE WHEN is_public THEN 1 ELSE 0 END)"
    " FROM repositories GROUP BY category",
    "namespaces": "SELECT namespace_id, count(*), sum(CASE WHEN is_public THEN 1 ELSE 0 END),"
    " sum(tag_count), sum(size) FROM repositories GROUP BY namespace_id",
    "members": "SELECT m.user_id, r.category, count(*) FROM memberships m"
    " JOIN repositories r ON r.namespace_id = m.namespace_id AND NOT r.is_public"
    " GROUP BY m.user_id, r.category",
}


async def _rows(world: World, sql: str) -> set[tuple[Any, ...]]:
    async with world.app.state.repohub.sessions() as session:
        return {
            tuple(int(v) if not isinstance(v, str) else v for v in row)
            for row in await session.execute(text(sql))
        }


async def _assert_kept(world: World) -> None:
    for name, sql in _KEPT.items():
        assert await _rows(world, sql) == await _rows(world, _RECOUNTED[name]), name


async def _step(world: World, rng: random.Random, live: list[str], number: int) -> None:
    choice = rng.random()
    if choice < 0.35 or not live:
        path = f"{rng.choice(ORGS)}/r{number}"
        await world.repository(path, by="ann", public=rng.random() < 0.5, category=rng.choice(CATEGORIES))
        live.append(path)
    elif choice < 0.5:
        path = live.pop(rng.randrange(len(live)))
        async with world.service("ann") as service:
            namespace, name = path.split("/")
            await service.catalog.delete_repository(await service.catalog.repository(namespace, name))
    elif choice < 0.65:
        namespace, name = rng.choice(live).split("/")
        changes = RepositoryChanges(is_public=rng.random() < 0.5, category=rng.choice(CATEGORIES))
        async with world.service("ann") as service:
            await service.catalog.update_repository(
                await service.catalog.repository(namespace, name), changes
            )
    elif choice < 0.85:
        await world.tag(rng.choice(live), f"v{rng.randrange(3)}", size=rng.randrange(1, 1000))
    else:
        await _join_or_leave(world, rng)


async def _join_or_leave(world: World, rng: random.Random) -> None:
    org, user = rng.choice(ORGS), rng.choice(USERS[1:])
    async with world.service("ann") as service:
        namespace = await service.store.namespaces.by_name(org)
        assert namespace is not None
        members = {m.user.username for m in await service.store.namespaces.members(namespace.id)}
        if user in members:
            await service.namespaces.revoke(org, [await world.user_id(user)])
        else:
            await service.accounts.add_member(org, user, rng.choice([Role.MEMBER, Role.VIEWER]))


async def test_kept_counts_equal_a_recount_after_a_random_mix_of_changes(accounts: World) -> None:
    for user in USERS:
        await accounts.account(user)
    for org in ORGS:
        await accounts.org(org, owner="ann")
    rng, live = random.Random(19), []
    for number in range(160):
        await _step(accounts, rng, live, number)
        if number % 40 == 39:
            await _assert_kept(accounts)
    await _assert_kept(accounts)
