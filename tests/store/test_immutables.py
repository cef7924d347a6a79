"""The immutable-tag rules' SQL on both databases: the rules, the push check's reads, and what a
process remembers of the rules while PostgreSQL's notices keep it true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from repohub.domain.errors import Conflict
from repohub.domain.immutability import NamespaceRules, parse_rule
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


async def test_the_push_check_reads_a_namespaces_enabled_rules_and_the_tags_a_reference_names(
    world: World,
) -> None:
    namespace_id = await _acme(world)
    async with world.service() as service:
        store = service.store
        empty = await store.immutables.namespace_rules("acme")
        async with store.transaction():
            first = await store.immutables.add(namespace_id, parse_rule(rule("v*")))
            await store.immutables.add(namespace_id, parse_rule(rule("x*", disabled=True)))
        found = await store.immutables.namespace_rules("acme")
        elsewhere = await store.immutables.namespace_rules("other")
        by_tag = await store.immutables.tags_named(namespace_id, "app", "v1")
        by_digest = await store.immutables.tags_named(namespace_id, "app", "sha256:" + "1" * 64)
        new_tag = await store.immutables.tags_named(namespace_id, "app", "v9")
        other_repository = await store.immutables.tags_named(namespace_id, "nothing", "v1")
    assert empty is not None and empty.namespace_id == namespace_id and empty.rules == ()
    assert found is not None and [rule_id for rule_id, _ in found.rules] == [first]  # the enabled one
    assert found.rules[0][1].tag.pattern == "v*"
    assert elsewhere is None
    assert by_tag == ["v1"] and sorted(by_digest) == ["also", "v1"]
    assert new_tag == [] and other_repository == []


def _ids(found: NamespaceRules | None) -> list[int]:
    assert found is not None
    return [rule_id for rule_id, _ in found.rules]


async def test_a_process_sees_its_own_rule_changes_at_once(world: World) -> None:
    """What ``namespace_rules`` remembers (on PostgreSQL, while the listener is up) is forgotten when
    this process commits a rule change, before any notice arrives: the next read sees the change."""
    namespace_id = await _acme(world)
    async with world.service() as service:
        store = service.store
        assert _ids(await store.immutables.namespace_rules("acme")) == []  # remembered from here on
        async with store.transaction():
            rule_id = await store.immutables.add(namespace_id, parse_rule(rule("v*")))
        assert _ids(await store.immutables.namespace_rules("acme")) == [rule_id]
        async with store.transaction():
            await store.immutables.delete(rule_id)
        assert _ids(await store.immutables.namespace_rules("acme")) == []


async def _until(condition: Callable[[], Awaitable[bool]], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_a_rule_written_by_anyone_else_is_seen_at_the_triggers_notice(app: Any, world: World) -> None:
    """Another replica's change (here: plain SQL on a connection of its own, as another process's
    would be) reaches this process's memory through the trigger's NOTIFY and the listener. On SQLite
    nothing is remembered, so every read sees it."""
    namespace_id = await _acme(world)
    memory = app.state.repohub.database.memory.immutable_rules
    postgres = app.state.repohub.engine.dialect.name == "postgresql"
    assert await _until(lambda: _true(memory.trusted is postgres))
    async with world.service() as service:
        store = service.store
        assert _ids(await store.immutables.namespace_rules("acme")) == []
        assert memory.get("acme")[0] is postgres  # remembered only where a listener keeps it true
        async with app.state.repohub.engine.begin() as connection:  # not through the Store
            await connection.execute(
                text(
                    "INSERT INTO immutable_rules (namespace_id, priority, disabled, tag_decoration,"
                    " tag_pattern, repo_decoration, repo_pattern, created_at, updated_at) VALUES"
                    " (:ns, 0, false, 'matches', 'v*', 'repoMatches', '**', :at, :at)"
                ),
                {"ns": namespace_id, "at": datetime.now(UTC)},
            )

        async def seen() -> bool:
            return len(_ids(await store.immutables.namespace_rules("acme"))) == 1

        assert await _until(seen, seconds=5)


async def _true(value: bool) -> bool:
    return value


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
