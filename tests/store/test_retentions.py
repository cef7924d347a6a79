"""The retention SQL on both databases: keyset pages of policies, a page's tags in one statement, the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from repohub.domain.entities import Role
from repohub.domain.retention.rules import Policy, parse_policy
from tests.world import World

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEEP_2 = {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 2}, "tag_selectors": []}]}


async def _world_with_policies(world: World, count: int) -> list[int]:
    await world.account("ann")
    await world.org("acme", owner="ann")
    ids = []
    for index in range(count):
        repository = await world.repository(f"acme/r{index}", by="ann")
        async with world.service("ann") as service:
            ids.append(await service.retentions.create(repository, KEEP_2))
    return ids


async def test_due_pages_policies_by_id_with_their_repository(world: World) -> None:
    ids = await _world_with_policies(world, 5)
    async with world.service() as service:
        first = await service.store.retentions.due(0, 2)
        rest = await service.store.retentions.due(first[-1].retention.id, 10)
        only = await service.store.retentions.due(0, 10, namespace="acme", repository="r3")
        none = await service.store.retentions.due(0, 10, namespace="other")
    assert [due.retention.id for due in first + rest] == ids
    assert [due.path for due in first] == ["acme/r0", "acme/r1"]
    stored = first[0].retention
    assert Policy.from_json(stored.algorithm, stored.rules) == parse_policy(KEEP_2)
    assert [due.path for due in only] == ["acme/r3"] and none == []


async def test_tag_facts_reads_whole_repositories_or_tags_pushed_before_a_time(world: World) -> None:
    await _world_with_policies(world, 2)
    for day in range(4):
        await world.tag("acme/r0", f"v{day}", at=T0 + timedelta(days=day))
        await world.tag("acme/r1", f"w{day}", at=T0 + timedelta(days=day))
    r0, r1 = await world.repository_id("acme/r0"), await world.repository_id("acme/r1")
    async with world.service() as service:
        found = await service.store.retentions.tag_facts([(r0, None), (r1, T0 + timedelta(days=2))])
    assert sorted(tag.name for tag in found[r0]) == ["v0", "v1", "v2", "v3"]
    assert sorted(tag.name for tag in found[r1]) == ["w0", "w1"]
    assert {tag.pushed_at for tag in found[r1]} == {T0, T0 + timedelta(days=1)}


async def test_the_log_pages_newest_first_and_goes_with_its_repository(world: World) -> None:
    (retention_id,) = await _world_with_policies(world, 1)
    async with world.service() as service:
        (due,) = await service.store.retentions.due(0, 10)
        async with service.store.transaction():
            await service.store.retentions.record(retention_id, due, [("a", "tag_rule"), ("b", "tag_rule")])
            await service.store.retentions.record(retention_id, due, [("c", "date_rule")])
        page = await service.store.retentions.history(due.retention.repository_id, 0, 2)
        assert page.total == 3
        assert [(e.tag, e.rule_type, e.namespace, e.repo) for e in page.items] == [
            ("c", "date_rule", "acme", "r0"),
            ("b", "tag_rule", "acme", "r0"),
        ]
    await world.account("bob")
    await world.member("acme", "bob", Role.VIEWER)
    async with world.service("ann") as service:
        repository = await service.catalog.repository("acme", "r0")
        await service.catalog.delete_repository(repository)
    async with world.service() as service:
        assert await service.store.retentions.due(0, 10) == []
        assert (await service.store.retentions.history(repository.id, 0, 10)).total == 0
