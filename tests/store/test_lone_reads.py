"""Lone reads on the store's reader give what the session gives: the same domain objects, same types.

Each read runs twice on each database: on a store whose session cannot be made (so the read can only
have run on the reader), and on a store without a reader (the same SQL text on the session's own
connection, as inside a transaction that wrote: ``readers.Reads``). The
results are compared by ``repr``, which tells ``True`` from ``1`` and an aware datetime from a naive
one, where ``==`` would not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from repohub.domain.clock import utcnow
from repohub.domain.entities import NamespaceKind, Role
from repohub.domain.queries import RepoOrder, RepoQuery, TagOrder, TagQuery, Visibility
from repohub.store.session import LazySession
from repohub.store.tables import RepositoryRow
from repohub.store.unit import Store
from tests.world import World as Builder

Read = Callable[[Store], Awaitable[Any]]
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class World:
    alice: int  # admin of "team", has starred "team/app"
    bob: int  # viewer of "team"
    carol: int  # no membership in "team"
    team: int
    app: int  # private, created by alice, with 4 tags (v1, v2, latest, v3 oldest first) and times set
    orphan: int  # public, no creator


def _no_session() -> Any:
    raise AssertionError("a lone read made a session")


async def both(app: FastAPI, read: Read) -> Any:
    """``read`` as a lone read and through the session; they must agree, and the answer is returned."""
    state = app.state.repohub
    assert state.reader is not None, "the test databases are files: they have a reader"
    lone = await read(Store(LazySession(_no_session, state.engine.dialect.name), state.reader))
    async with state.sessions() as session:
        via_session = await read(Store(session))
    assert _shown(lone) == _shown(via_session)
    return lone


def _shown(value: Any) -> str:
    # A dict's order is its rows' order, which neither query asks for.
    return repr(sorted(value.items()) if isinstance(value, dict) else value)


@pytest.fixture
async def world(app: FastAPI, world: Builder) -> World:
    alice, bob, carol = [(await world.account(name)).id for name in ("alice", "bob", "carol")]
    team = await world.org("team", owner="alice", members={"bob": Role.VIEWER})
    made = await world.repository(
        "team/group/app", by="alice", description="an app", full_description="# App", category="app_server"
    )
    repo = made.id
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        async with store.transaction():
            orphan = await store.repositories.add(
                namespace_id=team, name="orphan", description="", full_description="",
                category="other", is_public=True, creator_id=None,
            )  # fmt: skip
            # Times with microseconds, one left NULL: both paths must parse them alike.
            await session.execute(
                update(RepositoryRow)
                .where(RepositoryRow.id == repo)
                .values(pulled_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC), download_count=3)
            )
            await store.repositories.set_star(repo, alice, True)
    tags = [("v1", "alice"), ("v2", "bob"), ("latest", None), ("v3", "alice")]
    for number, (tag, creator) in enumerate(tags):
        await world.tag(
            repo, tag, digest=f"sha256:{number:064x}", image_id=f"{number:064x}",
            media_type=MANIFEST, size=1000 + number, manifest="{}" if number % 2 == 0 else None,
            creator=creator, at=datetime(2024, 1, 1, 0, 0, number, 250 * number, tzinfo=UTC),
        )  # fmt: skip
    return World(alice, bob, carol, team, repo, orphan)


async def test_a_repository_by_id_and_by_name(app: FastAPI, world: World) -> None:
    found = await both(app, lambda store: store.repositories.get(world.app))
    assert found.path == "team/group/app" and found.creator.username == "alice"
    assert found.is_public is False and found.pulled_at.tzinfo is not None and found.pushed_at is None
    assert found.star_count == 1 and found.download_count == 3
    by_name = await both(app, lambda store: store.repositories.by_name(world.team, "group/app"))
    assert by_name == found
    assert await both(app, lambda store: store.repositories.by_path("team", "group/app")) == found
    namespace, with_namespace = await both(
        app, lambda store: store.repositories.get_with_namespace(world.app)
    )
    assert with_namespace == found
    assert repr(namespace) == repr(await both(app, lambda store: store.namespaces.get(world.team)))
    assert await both(app, lambda store: store.repositories.get_with_namespace(world.app + 1000)) is None
    orphan = await both(app, lambda store: store.repositories.by_name(world.team, "orphan"))
    assert orphan.creator is None and orphan.is_public is True


async def test_missing_repositories_are_none(app: FastAPI, world: World) -> None:
    assert await both(app, lambda store: store.repositories.get(world.app + 1000)) is None
    assert await both(app, lambda store: store.repositories.by_name(world.team, "nothing")) is None
    assert await both(app, lambda store: store.repositories.by_name(world.team + 1000, "orphan")) is None
    # A NUL never reaches the database (PostgreSQL refuses to compare with one).
    assert await both(app, lambda store: store.repositories.by_name(world.team, "app\x00")) is None
    missing = [("team", "nothing"), ("nobody", "orphan"), ("team\x00", "orphan"), ("team", "app\x00")]
    for path in missing:
        assert await both(app, lambda store, path=path: store.repositories.by_path(*path)) is None


async def test_stars(app: FastAPI, world: World) -> None:
    assert await both(app, lambda store: store.repositories.is_starred(world.app, world.alice)) is True
    assert await both(app, lambda store: store.repositories.is_starred(world.app, world.bob)) is False
    assert await both(app, lambda store: store.repositories.is_starred(world.orphan, world.alice)) is False


async def test_inside_a_transaction_reads_see_what_it_wrote(app: FastAPI, world: World) -> None:
    state = app.state.repohub
    async with state.sessions() as session:
        store = Store(session, state.reader)
        async with store.transaction():
            await store.repositories.update(world.app, {"description": "changed"})
            await store.repositories.set_star(world.app, world.bob, True)
            assert (await store.repositories.get(world.app)).description == "changed"  # type: ignore[union-attr]
            assert (await store.repositories.by_name(world.team, "group/app")).star_count == 2  # type: ignore[union-attr]
            assert await store.repositories.is_starred(world.app, world.bob) is True
        # Committed: the lone read on the reader sees it too.
        assert not session.in_transaction()
        assert (await store.repositories.get(world.app)).description == "changed"  # type: ignore[union-attr]


async def test_namespaces_by_id_and_by_name(app: FastAPI, world: World) -> None:
    team = await both(app, lambda store: store.namespaces.get(world.team))
    assert (team.name, team.kind, team.creator_id) == ("team", NamespaceKind.ORG, world.alice)
    assert team.created_at.tzinfo is not None
    assert await both(app, lambda store: store.namespaces.by_name("team")) == team
    personal = await both(app, lambda store: store.namespaces.by_name("carol"))
    assert personal.kind is NamespaceKind.USER
    assert await both(app, lambda store: store.namespaces.get(world.team + 1000)) is None
    assert await both(app, lambda store: store.namespaces.by_name("nobody")) is None


async def test_roles(app: FastAPI, world: World) -> None:
    assert await both(app, lambda store: store.namespaces.role(world.team, world.alice)) is Role.ADMIN
    assert await both(app, lambda store: store.namespaces.role(world.team, world.bob)) is Role.VIEWER
    assert await both(app, lambda store: store.namespaces.role(world.team, world.carol)) is None
    everyone = [world.alice, world.bob, world.carol, world.carol + 1000]
    roles = await both(app, lambda store: store.namespaces.roles(world.team, everyone))
    assert roles == {world.alice: Role.ADMIN, world.bob: Role.VIEWER}
    assert await both(app, lambda store: store.namespaces.roles(world.team, [world.bob])) == {
        world.bob: Role.VIEWER
    }
    assert await both(app, lambda store: store.namespaces.roles(world.team, [])) == {}


async def test_access_facts_of_several_paths_match_one_by_one(app: FastAPI, world: World) -> None:
    """The token's batched lookup gives, for each path, what ``access_facts`` gives for it alone."""
    paths = [("team", "group/app"), ("team", "orphan"), ("team", "missing"), ("carol", "x"), ("nobody", "x")]
    for user_id in (world.alice, world.bob, world.carol, None):
        batched = await both(app, lambda store, u=user_id: store.registry.access_facts_of(paths, u))
        one_by_one = {}
        for path in paths:
            facts = await both(app, lambda store, p=path, u=user_id: store.registry.access_facts(*p, u))
            if facts is not None:
                one_by_one[path] = facts
        assert batched == one_by_one
        assert ("nobody", "x") not in batched and batched[("team", "group/app")].repository_id == world.app


async def test_tag_pages(app: FastAPI, world: World) -> None:
    def page(repository: int, **query: Any) -> Read:
        return lambda store: store.tags.page(repository, TagQuery(**query))

    newest = await both(app, page(world.app))
    assert [tag.name for tag in newest.items] == ["v3", "latest", "v2", "v1"] and newest.total == 4
    v2 = newest.items[2]
    assert (v2.creator.username, v2.size, v2.manifest) == ("bob", 1001, None)  # type: ignore[union-attr]
    assert newest.items[1].creator is None and newest.items[0].created_at.microsecond == 750
    second = await both(app, page(world.app, offset=2, limit=1))
    assert ([tag.name for tag in second.items], second.total, second.has_next) == (["v2"], 4, True)
    for order in TagOrder:
        for descending in (False, True):
            await both(app, page(world.app, order=order, descending=descending))
    named = await both(app, page(world.app, name="latest"))
    assert [tag.name for tag in named.items] == ["latest"] and named.total == 1


async def test_empty_tag_pages_still_count(app: FastAPI, world: World) -> None:
    past_the_end = await both(app, lambda store: store.tags.page(world.app, TagQuery(offset=10)))
    assert (past_the_end.items, past_the_end.total) == ([], 4)
    missing = await both(app, lambda store: store.tags.page(world.app, TagQuery(name="v9", offset=1)))
    assert (missing.items, missing.total) == ([], 0)
    none = await both(app, lambda store: store.tags.page(world.orphan, TagQuery()))
    assert (none.items, none.total) == ([], 0)


async def test_repository_pages_with_their_tag_names(app: FastAPI, world: World) -> None:
    # SQLite's reader gets each row's tag names as a JSON array in the page's one statement; the
    # session path asks for them in a second query. Both give the newest first.
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        async with store.transaction():
            await store.repositories.add(
                namespace_id=world.team, name="zeta", description="", full_description="",
                category="other", is_public=False, creator_id=world.bob,
            )  # fmt: skip

    def page(visibility: Visibility, summaries: bool = False, **query: Any) -> Read:
        if summaries:
            return lambda store: store.repositories.summaries(RepoQuery(**query), visibility)
        return lambda store: store.repositories.page(RepoQuery(**query), visibility)

    member = Visibility(member_id=world.bob, now=utcnow())
    listed = await both(app, page(member, True, namespace="team"))
    assert [(item.name, item.tag_names) for item in listed.items] == [
        ("group/app", ("v3", "latest", "v2", "v1")),
        ("orphan", ()),
        ("zeta", ()),
    ]
    assert listed.total == 3
    for order in RepoOrder:
        for descending in (False, True):
            for summaries in (False, True):
                shown = await both(app, page(member, summaries, order=order, descending=descending))
                assert len(shown.items) == shown.total == 3
    # Filtered, paged, past the end, as an outsider (the public repository alone).
    second = await both(app, page(member, True, name_contains="P", offset=1, limit=1))
    assert ([item.name for item in second.items], second.total) == (["orphan"], 2)
    past = await both(app, page(member, True, offset=5))
    assert (past.items, past.total) == ([], 3)
    outsider = await both(app, page(Visibility(member_id=world.carol, now=utcnow()), True))
    assert [(item.name, item.tag_names) for item in outsider.items] == [("orphan", ())]
    # A name filter across namespaces probes each private match's membership (pg_pages._filtered).
    searched = await both(app, page(Visibility(member_id=world.carol, now=utcnow()), True, name_contains="p"))
    assert ([item.name for item in searched.items], searched.total) == (["orphan"], 1)
    searched = await both(app, page(member, True, name_contains="p", category="app_server"))
    assert ([item.name for item in searched.items], searched.total) == (["group/app"], 1)


async def test_a_read_only_transaction_is_given_back_before_a_lone_read(app: FastAPI, world: World) -> None:
    """No use case says it only reads: the store gives the session's read-only transaction back
    (no connection held while a page renders or a token is signed) and reads on the reader."""
    state = app.state.repohub
    async with state.sessions() as session:
        store = Store(session, state.reader)
        await store.users.count()  # a read of the session's own: its transaction is open
        assert session.in_transaction()
        assert (await store.repositories.get(world.app)) is not None
        assert not session.in_transaction()
        # A transaction that wrote keeps its reads, which see the write.
        await store.repositories.update(world.app, {"description": "unsaved"})
        assert (await store.repositories.get(world.app)).description == "unsaved"  # type: ignore[union-attr]
        assert session.in_transaction()
        await session.rollback()
        assert (await store.repositories.get(world.app)).description == "an app"  # type: ignore[union-attr]


async def test_whether_a_namespace_has_repositories(app: FastAPI, world: World) -> None:
    assert await both(app, lambda store: store.repositories.exists_in(world.team)) is True
    assert await both(app, lambda store: store.repositories.public_exists_in(world.team)) is True
    carol = (await both(app, lambda store: store.namespaces.by_name("carol"))).id
    assert await both(app, lambda store: store.repositories.exists_in(carol)) is False
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        async with store.transaction():
            await store.repositories.add(
                namespace_id=carol, name="hidden", description="", full_description="",
                category="other", is_public=False, creator_id=world.carol,
            )  # fmt: skip
    assert await both(app, lambda store: store.repositories.exists_in(carol)) is True
    assert await both(app, lambda store: store.repositories.public_exists_in(carol)) is False
