"""The webhook outbox, written in the transaction of the change, on SQLite and on PostgreSQL.

Registry events applied, deletes through the catalogue and retention's deletions each leave one
delivery per (hook, event) the hook selects and its creator may read; an envelope applied twice
leaves them once; a namespace without hooks costs the envelope no statement (the ids read says so).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from repohub.domain.entities import Role
from repohub.domain.errors import PermissionDenied
from repohub.domain.immutability.rules import Selector
from repohub.domain.webhooks.hooks import FORMAT_ALAUDA, FORMAT_HARBOR, HookSpec, Scope
from repohub.domain.webhooks.outbox import Notice
from repohub.store.tables import WebhookDeliveryRow
from tests.domain.test_tag_pulls import D1, D2, D3, T0, apply, delete, pull, push, statements

# The fixture: acme/app (private) with a and b on D1, c on D2; alice admin of acme, bob a viewer.
from tests.domain.test_tag_pulls import world as world
from tests.world import World

EVERYTHING = frozenset({"push", "pull", "delete"})


async def add_hook(world: World, spec: HookSpec, *, by: str = "alice", namespace: str = "acme") -> int:
    async with world.service() as service:
        store = service.store
        found = await store.namespaces.by_name(namespace)
        assert found is not None
        user = await store.users.by_username(by)
        async with store.transaction():
            return await store.webhooks.add(found.id, spec, creator_id=user.id if user else None, creator=by)


def alauda(events: frozenset[str] = EVERYTHING, repository: str | None = None) -> HookSpec:
    return HookSpec(FORMAT_ALAUDA, "http://example.test/hook", events, repository=repository)


def harbor(repository: str = "**", tag: str = "**", events: frozenset[str] = EVERYTHING) -> HookSpec:
    scope = Scope(Selector("repoMatches", repository), Selector("matches", tag))
    return HookSpec(FORMAT_HARBOR, "http://example.test/policy", events, scope=scope)


async def deliveries(world: World) -> list[tuple[int, Notice]]:
    """Every delivery written so far: (hook id, the event), in the order written."""
    async with world.app.state.repohub.sessions() as session:
        rows = await session.execute(
            select(WebhookDeliveryRow.hook_id, WebhookDeliveryRow.event, WebhookDeliveryRow.state).order_by(
                WebhookDeliveryRow.id
            )
        )
        found = [(hook_id, Notice.from_json(event), state) for hook_id, event, state in rows]
    assert all(state == "pending" for _, _, state in found)
    return [(hook_id, notice) for hook_id, notice, _ in found]


def summary(notice: Notice) -> tuple[str, str, list[tuple[str | None, str]], str]:
    return (
        notice.action,
        notice.path,
        [(resource.tag, resource.digest) for resource in notice.resources],
        notice.operator,
    )


async def test_a_users_push_becomes_one_delivery_per_hook_that_selects_it(world) -> None:
    everything = await add_hook(world, alauda())
    only_app = await add_hook(world, alauda(frozenset({"push"}), repository="app"))
    await add_hook(world, alauda(repository="other"))  # another repository's
    await add_hook(world, alauda(frozenset({"delete"})))  # another action's
    release = await add_hook(world, harbor(tag="v*"))

    await apply(world, push("v1", D3, actor="alice"), push("latest", D3, actor="alice"))

    written = [(hook, summary(notice)) for hook, notice in await deliveries(world)]
    assert written == [
        (everything, ("push", "acme/app", [("v1", D3)], "alice")),
        (only_app, ("push", "acme/app", [("v1", D3)], "alice")),
        (release, ("push", "acme/app", [("v1", D3)], "alice")),
        (everything, ("push", "acme/app", [("latest", D3)], "alice")),
        (only_app, ("push", "acme/app", [("latest", D3)], "alice")),
    ]
    [(_, notice), *_] = await deliveries(world)
    assert notice.public is False and notice.at == T0


async def test_pulls_and_deletes_by_users_are_delivered_and_repohubs_own_calls_are_not(world) -> None:
    hook = await add_hook(world, alauda())

    await apply(
        world,
        pull(tag="a"),
        pull(tag="a", method="HEAD"),  # an existence check: no pull
        pull(tag="b", actor="@repohub"),  # repohub's own read
        delete(tag="c", actor="bob"),
        delete(digest=D1, actor="@repohub"),  # repohub deleted it and tells the hooks itself
    )

    assert [summary(notice) for _, notice in await deliveries(world)] == [
        ("pull", "acme/app", [("a", D1)], "bob"),
        ("delete", "acme/app", [("c", D2)], "bob"),  # the digest it had, read before the delete
    ]
    assert {hook_id for hook_id, _ in await deliveries(world)} == {hook}


async def test_an_envelope_delivered_twice_is_announced_once(world) -> None:
    await add_hook(world, alauda())
    event = push("v1", D3, actor="alice")

    await apply(world, event)
    await apply(world, event)  # the registry's retry of the same envelope

    assert len(await deliveries(world)) == 1


async def test_a_disabled_hook_and_a_protected_tags_refused_push_deliver_nothing(world) -> None:
    from tests.immutable_rules import add_rule, rule

    await add_hook(world, HookSpec(FORMAT_ALAUDA, "http://example.test/", EVERYTHING, enabled=False))
    live = await add_hook(world, alauda())
    await add_rule(world.app, "acme", rule("a"))

    await apply(world, push("a", D3, actor="bob", at=T0 + timedelta(hours=1)))  # kept as recorded

    assert await deliveries(world) == []
    await apply(world, push("d", D3, actor="bob"))
    assert [hook for hook, _ in await deliveries(world)] == [live]


async def test_a_hook_never_reports_a_private_repository_its_creator_cannot_read(world) -> None:
    await world.account("carol")  # no role in acme
    by_outsider = await add_hook(world, alauda(), by="carol")
    by_viewer = await add_hook(world, alauda(), by="bob")

    await apply(world, push("v1", D3, actor="alice"))
    assert [hook for hook, _ in await deliveries(world)] == [by_viewer]

    await world.repository("acme/site", by="alice", public=True)
    await apply(world, push("v1", D3, actor="alice", repository="acme/site"))
    site = [hook for hook, notice in await deliveries(world) if notice.repository == "site"]
    assert sorted(site) == sorted([by_outsider, by_viewer])
    assert all(notice.public for _, notice in await deliveries(world) if notice.repository == "site")


async def test_a_site_admins_hook_reports_every_repository(world) -> None:
    await world.account("root", admin=True)
    hook = await add_hook(world, alauda(), by="root")

    await apply(world, push("v1", D3, actor="alice"))

    assert [hook_id for hook_id, _ in await deliveries(world)] == [hook]


async def test_deleting_a_tag_or_a_repository_through_the_catalogue_is_announced_by_the_caller(world) -> None:
    hook = await add_hook(world, harbor(events=frozenset({"delete"})))
    async with world.service("alice") as service:
        repository = await service.catalog.repository("acme", "app")
        await service.catalog.delete_tag(repository, "c")
    async with world.service("alice") as service:
        repository = await service.catalog.repository("acme", "app")
        await service.catalog.delete_repository(repository)

    written = [(hook_id, summary(notice)) for hook_id, notice in await deliveries(world)]
    assert written == [
        (hook, ("delete", "acme/app", [("c", D2)], "alice")),
        (hook, ("delete", "acme/app", [("a", D1), ("b", D1)], "alice")),
    ]


async def test_a_retag_is_a_push_by_the_caller_and_repohubs_own_push_event_is_not(world) -> None:
    hook = await add_hook(world, alauda(frozenset({"push"})))
    async with world.service("alice") as service:
        repository = await service.catalog.repository("acme", "app")
        await service.catalog.retag(repository, "c", "release", override=False)
    await apply(world, push("release", D2, actor="@repohub"))  # the registry's event of that PUT

    written = [(hook_id, summary(notice)) for hook_id, notice in await deliveries(world)]
    assert written == [(hook, ("push", "acme/app", [("release", D2)], "alice"))]


async def test_a_tag_selector_keeps_only_the_resources_it_selects(world) -> None:
    hook = await add_hook(world, harbor(tag="a", events=frozenset({"delete"})))
    async with world.service("alice") as service:
        repository = await service.catalog.repository("acme", "app")
        await service.catalog.delete_repository(repository)

    [(hook_id, notice)] = await deliveries(world)
    assert (hook_id, summary(notice)) == (hook, ("delete", "acme/app", [("a", D1)], "alice"))


async def test_a_failed_change_writes_no_delivery(world) -> None:
    await add_hook(world, alauda())
    async with world.service("bob") as service:  # a viewer may not delete
        repository = await service.catalog.repository("acme", "app")
        with pytest.raises(PermissionDenied):
            await service.catalog.delete_tag(repository, "c")
    assert await deliveries(world) == []


async def test_an_envelope_in_a_namespace_without_hooks_costs_no_statement_more(world) -> None:
    await world.account("dave")
    await world.org("other", owner="dave")
    await add_hook(world, alauda(), namespace="other")
    events = [pull(tag="a", timestamp=T0 + timedelta(seconds=n)) for n in range(50)]

    with statements(world) as seen:
        await apply(world, *events)

    hooks_read = [text for text, _ in seen if "FROM webhooks" in text]
    assert len(hooks_read) == 1 and "EXISTS (SELECT 1 FROM webhooks" in hooks_read[0]  # the ids read
    assert not [text for text, _ in seen if "webhook_deliveries" in text]
    assert await deliveries(world) == []


async def test_many_deliveries_are_one_insert(world) -> None:
    for _ in range(3):
        await add_hook(world, alauda())
    events = [pull(tag="a", timestamp=T0 + timedelta(seconds=n)) for n in range(20)]

    with statements(world) as seen:
        await apply(world, *events)

    inserts = [text for text, _ in seen if text.startswith("INSERT INTO webhook_deliveries")]
    assert len(inserts) == 1, inserts
    assert len(await deliveries(world)) == 60


async def test_members_role_is_read_once_per_hook_not_per_event(world) -> None:
    await world.member("acme", "bob", Role.MEMBER)
    await add_hook(world, alauda(), by="bob")
    with statements(world) as seen:
        await apply(world, *(push(f"t{n}", D2, actor="alice") for n in range(5)))
    hooks_read = [text for text, _ in seen if "FROM webhooks" in text and "EXISTS" not in text]
    assert len(hooks_read) == 1
    assert len(await deliveries(world)) == 5
