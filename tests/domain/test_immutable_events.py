"""The event sink and immutable-tag rules, with real envelopes' events on SQLite and PostgreSQL: a
user's push moving a protected tag, or a user's delete removing one (the registry reached behind the
proxy), leaves the catalogue's tag as recorded and writes an audit entry naming the pusher; everything
else is applied as before, and an envelope costs at most one statement more, never one per event."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from repohub.domain.gateway import INTERNAL_SUBJECT
from repohub.store.tables import AuditRow
from tests.domain.test_tag_pulls import D1, D2, D3, T0, apply, delete, pull, push, statements, tags_of

# The fixture: acme/app with a and b on D1, c on D2.
from tests.domain.test_tag_pulls import world as world
from tests.immutable_rules import add_rule, delete_rule, rule
from tests.world import World


async def audited(world: World, action: str) -> list[tuple[str | None, str, str]]:
    async with world.app.state.repohub.sessions() as session:
        rows = await session.execute(
            select(AuditRow.actor, AuditRow.target, AuditRow.source).where(AuditRow.action == action)
        )
        return [tuple(row) for row in rows]


async def test_a_users_push_moving_a_protected_tag_keeps_the_recorded_digest_and_is_audited(world) -> None:
    rule_id = await add_rule(world.app, "acme", rule("{a,c}"))
    before = await tags_of(world)
    later = T0 + timedelta(hours=1)

    await apply(world, push("a", D3, actor="bob", at=later), push("b", D3, actor="bob", at=later))

    after = await tags_of(world)
    assert after["a"] == before["a"]  # digest, push time, everything as recorded
    assert after["b"].digest == D3  # not protected: moved
    [(actor, target, source)] = await audited(world, "tag.immutable_overwritten")
    assert actor == "bob" and source == "registry event"
    assert f"repository=acme/app tag=a digest={D1} new_digest={D3} rule={rule_id}" in target


async def test_a_repush_of_the_same_digest_or_a_first_push_is_applied_as_any(world) -> None:
    await add_rule(world.app, "acme", rule("**"))
    later = T0 + timedelta(hours=1)

    await apply(world, push("a", D1, actor="bob", at=later), push("new", D2, actor="bob", at=later))

    after = await tags_of(world)
    assert (after["a"].digest, after["a"].updated_at) == (D1, later)
    assert after["new"].digest == D2
    assert await audited(world, "tag.immutable_overwritten") == []


async def test_a_users_delete_of_a_protected_tag_keeps_it_and_is_audited(world) -> None:
    rule_id = await add_rule(world.app, "acme", rule("a"))

    await apply(world, delete(digest=D1, actor="mallory"))  # a and b are on D1
    assert set(await tags_of(world)) == {"a", "c"}
    await apply(world, delete(tag="a", actor="mallory"), delete(tag="c", actor="mallory"))
    assert set(await tags_of(world)) == {"a"}

    entries = await audited(world, "tag.immutable_deleted")
    assert [(actor, source) for actor, _, source in entries] == [("mallory", "registry event")] * 2
    assert all(f"repository=acme/app tag=a digest={D1} rule={rule_id}" in target for _, target, _ in entries)


async def test_repohubs_own_writes_and_lifted_rules_are_applied_as_before(world) -> None:
    await add_rule(world.app, "acme", rule("c", disabled=True))
    await add_rule(world.app, "acme", rule("a", "other"))  # another repository's
    protecting = await add_rule(world.app, "acme", rule("b"))
    later = T0 + timedelta(hours=1)

    await apply(world, push("a", D3, actor="bob", at=later), push("c", D3, actor="bob", at=later))
    await apply(world, push("b", D2, actor=INTERNAL_SUBJECT, at=later))  # repohub's own: not checked
    assert {name: tag.digest for name, tag in (await tags_of(world)).items()} == {"a": D3, "b": D2, "c": D3}

    await delete_rule(world.app, protecting)
    await apply(world, push("b", D1, actor="bob", at=later))
    assert (await tags_of(world))["b"].digest == D1
    assert await audited(world, "tag.immutable_overwritten") == []


async def test_an_envelope_costs_one_statement_more_at_most_and_reads_each_namespaces_rules_once(
    world,
) -> None:
    with statements(world) as pulls_only:
        await apply(world, *(pull(tag=name) for name in "abc"))
    assert not any("immutable_rules" in sql for sql, _ in pulls_only)

    with statements(world) as without_rules:
        await apply(world, push("a", D3, actor="bob"), push("n", D3, actor="bob"))
    assert len([sql for sql, _ in without_rules if "immutable_rules" in sql]) == 1  # the one lookup

    await add_rule(world.app, "acme", rule("*"))
    with statements(world) as guarded:
        await apply(world, *(push(name, D2, actor="bob") for name in "abc"), delete(tag="a", actor="bob"))
    assert len([sql for sql, _ in guarded if "immutable_rules" in sql]) == 2  # lookup, then the rules once
    assert {name: tag.digest for name, tag in (await tags_of(world)).items()}["a"] == D3
    assert len(await audited(world, "tag.immutable_overwritten")) == 2  # a and b; c is on D2 already
