"""The immutable-tag rules' SQL on both databases: the rules, and the push check's one read."""

from __future__ import annotations

import pytest

from repohub.domain.errors import Conflict
from repohub.domain.immutability import parse_rule
from tests.immutable_rules import rule
from tests.world import World


async def _acme(world: World) -> int:
    await world.account("ann")
    await world.org("acme", owner="ann")
    await world.repository("acme/app", by="ann")
    await world.tag("acme/app", "v1", digest="sha256:" + "1" * 64)
    await world.tag("acme/app", "also", digest="sha256:" + "1" * 64)
    await world.tag("acme/app", "latest", digest="sha256:" + "2" * 64)
    async with world.service() as service:
        namespace = await service.store.namespaces.by_name("acme")
    assert namespace is not None
    return namespace.id


async def test_push_facts_read_enabled_rules_and_the_tags_a_reference_names(world: World) -> None:
    namespace_id = await _acme(world)
    async with world.service() as service:
        store = service.store
        empty = await store.immutables.push_facts("acme", "app", "v1")
        async with store.transaction():
            first = await store.immutables.add(namespace_id, parse_rule(rule("v*")))
            await store.immutables.add(namespace_id, parse_rule(rule("x*", disabled=True)))
        by_tag = await store.immutables.push_facts("acme", "app", "v1")
        by_digest = await store.immutables.push_facts("acme", "app", "sha256:" + "1" * 64)
        new_tag = await store.immutables.push_facts("acme", "app", "v9")
        elsewhere = await store.immutables.push_facts("other", "app", "v1")
    assert empty.rules == [] and empty.tags == []
    assert [rule_id for rule_id, _ in by_tag.rules] == [first] and by_tag.tags == ["v1"]
    assert sorted(by_digest.tags) == ["also", "v1"]
    assert new_tag.tags == [] and new_tag.rules == by_tag.rules
    assert elsewhere.rules == []
    assert by_tag.namespace_id == by_digest.namespace_id == new_tag.namespace_id == namespace_id
    assert empty.namespace_id is None and elsewhere.namespace_id is None


async def test_a_rule_saying_what_another_says_is_a_conflict_and_rules_page(world: World) -> None:
    namespace_id = await _acme(world)
    async with world.service() as service:
        store = service.store
        async with store.transaction():
            one = await store.immutables.add(namespace_id, parse_rule(rule("v*")))
        with pytest.raises(Conflict):
            async with store.transaction():
                await store.immutables.add(namespace_id, parse_rule({**rule("v*"), "priority": 3}))
        async with store.transaction():
            two = await store.immutables.add(namespace_id, parse_rule(rule("rc*", "app")))
            await store.immutables.update(one, parse_rule(rule("v*", disabled=True)))
        page = await store.immutables.page([namespace_id], 0, 10)
        enabled = await store.immutables.enabled(namespace_id)
        assert await store.immutables.count(namespace_id) == 2
        async with store.transaction():
            assert await store.immutables.delete(two)
        shown = await store.immutables.get(namespace_id, one)
        assert await store.immutables.get(namespace_id + 1, one) is None
    assert [item.id for item in page.items] == [one, two] and page.total == 2
    assert page.items[0].namespace_name == "acme" and page.items[0].spec.disabled
    assert [rule_id for rule_id, _ in enabled] == [two]
    assert shown is not None and shown.to_json()["tag_selectors"][0]["pattern"] == "v*"
