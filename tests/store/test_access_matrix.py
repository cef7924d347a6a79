"""The store's SQL answers what the access policy says, for every caller × repository of a small world.

The world (``tests/access_world.py``): users in every role, repository grants, shares with an access
domain forever, until a future date and until a past one, robot accounts, written to the tables; the
same facts kept in memory (``Model``), where the policy (``domain.access``) decides. The store decides
in SQL: list pages (``RepositoryStore.page``/``summaries`` with the policy's ``Visibility``, with and
without namespace, name and category filters) and registry grants
(``RegistryStore.access_facts``/``access_facts_of``/``member_facts`` fed to the policy's grant),
the facts a namespace's disclosure rests on, and namespace lists. List pages are also asked for
public or private repositories alone (``RepoQuery.is_public``: within what the caller may read,
never beyond), past their last page (the total counted alone) and by pulls (``RepoOrder.DOWNLOADS``,
ties broken by id, page after page). A robot is a principal here by its
patterns, whether its secret would authenticate or not: that is the dialects' matter
(``tests/api/test_access_dialects.py``).
Each read runs as a lone read on the store's reader and through a session (as inside a
transaction), on SQLite and on PostgreSQL (the ``app`` fixture's databases).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import update

from repohub.domain import access
from repohub.domain.access import DELETE, PULL, PUSH, AccessFacts
from repohub.domain.entities import Principal, Role
from repohub.domain.grant_facts import MemberFacts
from repohub.domain.queries import RepoOrder, RepoQuery, Visibility
from repohub.store.session import LazySession
from repohub.store.tables import RepositoryRow
from repohub.store.unit import Store
from tests.access_world import ALL, CALLERS, NOW, ORGS, REPOSITORIES, USERS, Model, build_world

PUBLIC_PATHS = {f"{namespace}/{name}" for namespace, name, public, _ in REPOSITORIES if public}
# Pulls of each repository of the world (REPOSITORIES' order): ties within and across namespaces,
# public and private, so that only the id can order them.
DOWNLOADS = [5, 0, 5, 2, 0, 7, 2, 5, 0, 5]

Read = Callable[[Store], Awaitable[Any]]


def _no_session() -> Any:
    raise AssertionError("a lone read made a session")


async def _both(app: FastAPI, read: Read) -> list[Any]:
    """``read`` as a lone read on the reader and through a session: both answers."""
    state = app.state.repohub
    assert state.reader is not None, "the test databases are files: they have a reader"
    lone = await read(Store(LazySession(_no_session, state.engine.dialect.name), state.reader))
    return [lone, await _via_session(app, read)]


async def _via_session(app: FastAPI, read: Read) -> Any:
    async with app.state.repohub.sessions() as session:
        return await read(Store(session))


@pytest.fixture
async def model(app: FastAPI, clean: None) -> Model:
    return await build_world(app)


def _queries() -> list[RepoQuery]:
    namespaces = [*USERS, *ORGS, "nowhere"]
    filters: list[dict[str, Any]] = [
        {},
        {"name_contains": "P"},  # case-insensitive, across namespaces: probes each private match
        {"name_contains": "app"},
        {"category": "database"},
        {"name_contains": "i", "category": "other"},
    ]
    queries = [RepoQuery(limit=100, **given) for given in filters]
    queries += [RepoQuery(namespace=ns, limit=100, **given) for ns in namespaces for given in filters[:3]]
    # Public or private alone, across namespaces (totals from the kept counts' parts, or counted) and
    # within the namespaces that hold both, either, or none, with a category too (counted).
    within = [{}, {"name_contains": "app"}, {"category": "other"}]
    for public in (True, False):
        queries += [RepoQuery(limit=100, is_public=public, **given) for given in filters]
        queries += [
            RepoQuery(namespace=ns, limit=100, is_public=public, **given)
            for ns in ("alpha", "beta", "gamma", "owner", "delta", "nowhere")
            for given in within
        ]
    return queries


def _expected(model: Model, caller: str | None, query: RepoQuery) -> list[str]:
    """What the policy lets ``caller`` read, filtered as ``query`` asks."""
    listed = model.listed(caller, query)
    if query.is_public is None:
        return listed
    return [path for path in listed if (path in PUBLIC_PATHS) is query.is_public]


async def _pages(query: RepoQuery, visibility: Visibility, store: Store) -> tuple[Any, Any]:
    page = await store.repositories.page(query, visibility)
    return page, await store.repositories.summaries(query, visibility)


async def _disclosure_facts(
    namespace_id: int, principal: Principal, store: Store
) -> tuple[bool, Role | None]:
    readable = await store.repositories.visible_exists_in(namespace_id, access.visibility(principal, NOW))
    user_id = _user_id(principal)
    return readable, await store.namespaces.role(namespace_id, user_id) if user_id is not None else None


async def _facts_one_by_one(
    paths: list[tuple[str, str]], user_id: int | None, store: Store
) -> dict[tuple[str, str], AccessFacts]:
    found = {path: await store.registry.access_facts(*path, user_id) for path in paths}
    return {path: facts for path, facts in found.items() if facts is not None}


async def _facts_together(
    paths: list[tuple[str, str]], user_id: int | None, store: Store
) -> dict[tuple[str, str], AccessFacts]:
    return await store.registry.access_facts_of(paths, user_id)


async def _member_facts(user_id: int, store: Store) -> MemberFacts:
    return await store.registry.member_facts(user_id)


def _user_id(principal: Principal) -> int | None:  # a robot's facts are anonymous ones
    return principal.user.id if principal.user else None


async def test_list_pages_show_what_the_policy_lets_each_caller_read(app: FastAPI, model: Model) -> None:
    for caller in CALLERS:
        visibility = access.visibility(model.principals[caller], NOW)
        for query in _queries():
            expected = _expected(model, caller, query)
            for page, summaries in await _both(app, partial(_pages, query, visibility)):
                shown = (sorted(r.path for r in page.items), page.total)
                assert shown == (expected, len(expected)), (caller, query)
                listed = sorted(f"{s.namespace}/{s.name}" for s in summaries.items)
                assert (listed, summaries.total) == (expected, len(expected)), (caller, query)


async def test_totals_past_the_last_page_are_the_policy_s(app: FastAPI, model: Model) -> None:
    """A page past the end has no row to carry its total: it is counted alone, with the parameters
    its statement takes (a public part's total takes none of the caller's)."""
    for caller in CALLERS:
        visibility = access.visibility(model.principals[caller], NOW)
        for query in _queries():
            past = RepoQuery(**{**_fields(query), "offset": 100})
            expected = len(_expected(model, caller, query))
            for page, summaries in await _both(app, partial(_pages, past, visibility)):
                assert (page.items, page.total) == ([], expected), (caller, query)
                assert (summaries.items, summaries.total) == ([], expected), (caller, query)


def _fields(query: RepoQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in query.__slots__}


async def _set_downloads(app: FastAPI, model: Model) -> dict[str, tuple[int, int]]:
    """Each repository's pulls set from DOWNLOADS; its sort key (pulls, id) by path."""
    keys = {}
    async with app.state.repohub.sessions() as session, session.begin():
        for (namespace, name, _, _), downloads in zip(REPOSITORIES, DOWNLOADS, strict=True):
            repository_id = model.repository_ids[(namespace, name)]
            await session.execute(
                update(RepositoryRow)
                .where(RepositoryRow.id == repository_id)
                .values(download_count=downloads)
            )
            keys[f"{namespace}/{name}"] = (downloads, repository_id)
    return keys


async def _walk(query: RepoQuery, visibility: Visibility, store: Store) -> list[tuple[list[str], int]]:
    """Every page of ``query`` two by two: each page's paths (pages and summaries alike) and total."""
    pages = []
    while True:
        page, summaries = await _pages(query, visibility, store)
        paths = [repository.path for repository in page.items]
        assert [f"{s.namespace}/{s.name}" for s in summaries.items] == paths
        assert summaries.total == page.total
        pages.append((paths, page.total))
        if not page.has_next:
            return pages
        query = RepoQuery(**{**_fields(query), "offset": query.offset + query.limit})


async def test_pages_by_pulls_come_in_pulls_then_id_order(app: FastAPI, model: Model) -> None:
    keys = await _set_downloads(app, model)
    assert len({downloads for downloads, _ in keys.values()}) < len(keys), "the world needs ties"
    for caller in CALLERS:
        visibility = access.visibility(model.principals[caller], NOW)
        for query in _queries():
            expected = _expected(model, caller, query)
            for descending in (False, True):
                ordered = sorted(expected, key=keys.__getitem__, reverse=descending)
                by_pulls = RepoQuery(
                    **{**_fields(query), "order": RepoOrder.DOWNLOADS, "descending": descending, "limit": 2}
                )
                for pages in await _both(app, partial(_walk, by_pulls, visibility)):
                    assert [path for paths, _ in pages for path in paths] == ordered, (caller, by_pulls)
                    assert {total for _, total in pages} == {len(expected)}, (caller, by_pulls)


async def test_a_namespace_is_disclosed_as_the_policy_says(app: FastAPI, model: Model) -> None:
    """The facts a use case reads for it (the caller's membership, a public repository in the
    namespace) lead the policy to the answer it gives on the model."""
    for namespace, namespace_id in model.namespace_ids.items():
        for caller in CALLERS:
            principal = model.principals[caller]
            read = partial(_disclosure_facts, namespace_id, principal)
            for readable, membership in await _both(app, read):
                role = access.effective_role(principal, membership)
                disclosed = access.discloses(role, readable=readable)
                assert disclosed is model.disclosed(caller, namespace), (caller, namespace)


def _paths(model: Model) -> list[tuple[str, str]]:
    namespaces = [*model.namespace_ids, "nowhere"]
    invented = [(ns, name) for ns in namespaces for name in ("ghost", "Bad--Name")]
    return [*model.repository_ids, *invented]


async def test_registry_grants_from_the_stored_facts_are_the_policy_s(app: FastAPI, model: Model) -> None:
    paths = _paths(model)
    for caller in CALLERS:
        principal = model.principals[caller]
        user_id = _user_id(principal)
        expected = {path: facts for path in paths if (facts := model.facts(caller, *path)) is not None}
        one_by_one = await _both(app, partial(_facts_one_by_one, paths, user_id))
        together = await _both(app, partial(_facts_together, paths, user_id))
        for stored in [*one_by_one, *together]:
            assert stored == expected, caller
            for path in paths:
                found = stored.get(path)
                granted = access.registry_actions(principal, found, path[1], ALL, NOW) if found else []
                assert granted == model.granted(caller, *path), (caller, path)


async def test_registry_grants_from_a_member_s_facts_are_the_policy_s(app: FastAPI, model: Model) -> None:
    """The grant memo answers a caller with a role from its memberships alone, for any creatable
    name (``RegistryService._remembered``): a granted repository's whole facts, else the namespace's
    role, give the same grant as the repository's own facts."""
    paths = [path for path in _paths(model) if access.creatable(path[1])]
    for caller in USERS:
        principal = model.principals[caller]
        user_id = _user_id(principal)
        assert user_id is not None
        for stored in await _both(app, partial(_member_facts, user_id)):
            assert set(stored.roles) == model.member_of(caller), caller
            assert set(stored.granted) == model.granted_in_member_namespaces(caller), caller
            for path, facts in stored.granted.items():
                assert facts == model.facts(caller, *path), (caller, path)
            for namespace, name in paths:
                if namespace in stored.roles and not stored.roles[namespace].full:
                    facts = stored.granted.get((namespace, name), stored.roles[namespace])
                    granted = access.registry_actions(principal, facts, name, ALL, NOW)
                    assert granted == model.granted(caller, namespace, name), (caller, namespace, name)


async def _namespace_names(member_id: int | None, store: Store) -> list[str]:
    return [namespace.name for namespace, _, _ in await store.namespaces.listing(member_id=member_id)]


async def test_namespace_lists_show_what_the_policy_says(app: FastAPI, model: Model) -> None:
    for caller in USERS:
        user = model.principals[caller].user
        assert user is not None
        listed = await _via_session(app, partial(_namespace_names, access.namespace_list_member(user)))
        expected = sorted(ns for ns in model.namespace_ids if model.role(caller, ns) is not None)
        assert sorted(listed) == expected, caller


def test_the_model_reaches_beyond_namespaces_as_the_issue_says(model: Model) -> None:
    """The world's grants, shares and robots mean what they should, so that the SQL is compared with
    answers that matter: a grant shows one repository and only it, a live share shows its
    repository to the access domain's members, an ended one does not, a robot sees its patterns."""
    readable = {caller: {f"{ns}/{name}" for ns, name, _ in model.readable(caller)} for caller in CALLERS}
    public = {"alpha/pub", "beta/open", "outsider/mine"}
    assert readable["granted"] == public | {"alpha/priv", "gamma/secret"}
    assert readable["partner"] == public | {"alpha/priv", "gamma/secret"}  # not beta/hidden, owner/tool
    assert readable["robot:ci"] == public | {"alpha/group/app", "alpha/priv", "alpha/my_app"}
    assert readable["robot:builder"] == public | {"gamma/secret"}
    assert model.role_on("viewer", "alpha", "priv") is Role.MEMBER
    assert model.role_on("member", "alpha", "group/app") is Role.MEMBER
    assert model.granted("robot:ci", "alpha", "priv") == [PULL, PUSH]
    assert model.granted("robot:ci", "alpha", "group/app") == [PULL]
    assert model.granted("robot:ci", "alpha", "newname") == []
    assert model.granted("robot:builder", "gamma", "fresh") == [PULL, PUSH]
    assert model.granted("granted", "gamma", "secret") == [PULL, PUSH, DELETE]
