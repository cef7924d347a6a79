"""The store's SQL answers what the access policy says, for every caller × repository of a small world.

The world: a site admin, a namespace owner, a member, a viewer, an outsider (admin elsewhere) and an
anonymous caller; namespaces with public and private repositories, one with private ones only, one
empty. The same facts are kept in memory (``Model``), where the policy (``domain.access``) decides;
the store decides in SQL: list pages (``RepositoryStore.page``/``summaries`` with the policy's
``Visibility``, with and without namespace, name and category filters) and registry grants
(``RegistryStore.access_facts``/``access_facts_of``/``member_roles`` fed to the policy's grant),
the facts a namespace's disclosure rests on, and namespace lists.
Each read runs as a lone read on the store's reader and through a session (as inside a
transaction), on SQLite and on PostgreSQL (the ``app`` fixture's databases).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI

from repohub.domain import access
from repohub.domain.access import DELETE, PULL, PUSH, AccessFacts, Action
from repohub.domain.entities import ANONYMOUS, NamespaceKind, Principal, Role
from repohub.domain.queries import RepoQuery, Visibility
from repohub.store.session import LazySession
from repohub.store.unit import Store
from tests.world import quick_user

USERS = {"root": True, "owner": False, "member": False, "viewer": False, "outsider": False}
ORGS = {
    "alpha": {"owner": Role.ADMIN, "member": Role.MEMBER, "viewer": Role.VIEWER},
    "beta": {"outsider": Role.ADMIN, "viewer": Role.VIEWER},
    "gamma": {"owner": Role.ADMIN},  # private repositories only
    "delta": {},  # no members, no repositories
}
# namespace, name, public, category
REPOSITORIES = [
    ("alpha", "pub", True, "other"),
    ("alpha", "priv", False, "database"),
    ("alpha", "group/app", False, "app_server"),
    ("beta", "open", True, "database"),
    ("beta", "hidden", False, "other"),
    ("gamma", "secret", False, "other"),
    ("owner", "tool", False, "lang"),
    ("outsider", "mine", True, "app_server"),
]
ALL = (PULL, PUSH, DELETE)
Read = Callable[[Store], Awaitable[Any]]


@dataclass
class Model:
    """The world as plain facts, and the policy's answers on them."""

    principals: dict[str | None, Principal] = field(default_factory=dict)  # None: anonymous
    namespace_ids: dict[str, int] = field(default_factory=dict)
    repository_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    roles: dict[tuple[str, str], Role] = field(default_factory=dict)  # (user, namespace): membership

    def user_id(self, caller: str) -> int:
        user = self.principals[caller].user
        assert user is not None
        return user.id

    def role(self, caller: str | None, namespace: str) -> Role | None:
        membership = self.roles.get((caller, namespace)) if caller else None
        return access.effective_role(self.principals[caller], membership)

    def readable(self, caller: str | None) -> Iterator[tuple[str, str, str]]:
        """Namespace, name and category of each repository the caller may read."""
        for namespace, name, public, category in REPOSITORIES:
            if access.may_read(self.role(caller, namespace), is_public=public):
                yield namespace, name, category

    def listed(self, caller: str | None, query: RepoQuery) -> list[str]:
        return sorted(
            f"{namespace}/{name}"
            for namespace, name, category in self.readable(caller)
            if query.namespace in (None, namespace)
            and (query.name_contains is None or query.name_contains.lower() in name.lower())
            and query.category in (None, category)
        )

    def disclosed(self, caller: str | None, namespace: str) -> bool:
        readable = any(ns == namespace for ns, _, _ in self.readable(caller))
        return access.discloses(self.role(caller, namespace), readable=readable)

    def granted(self, caller: str | None, namespace: str, name: str) -> list[str]:
        """The registry actions the general rules give (``tests/unit/test_access.py`` ties them to
        the grant's written-out form; here they are what the store's facts must lead to)."""
        if namespace not in self.namespace_ids:
            return []
        role = self.role(caller, namespace)
        exists = (namespace, name) in self.repository_ids
        public = any(r[:3] == (namespace, name, True) for r in REPOSITORIES)
        actions = [PULL] if access.may_read(role, is_public=public) else []
        if access.allows(role, Action.WRITE) and (exists or access.creatable(name)):
            actions.append(PUSH)
        if access.allows(role, Action.DELETE):
            actions.append(DELETE)
        return actions

    def facts(self, caller: str | None, namespace: str, name: str) -> AccessFacts | None:
        if namespace not in self.namespace_ids:
            return None
        public = any(r[:3] == (namespace, name, True) for r in REPOSITORIES)
        role = self.roles.get((caller, namespace)) if caller else None
        repository_id = self.repository_ids.get((namespace, name))
        return AccessFacts(self.namespace_ids[namespace], role, repository_id, public)


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
    world = Model(principals={None: ANONYMOUS})
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        for name, is_admin in USERS.items():
            await quick_user(store, name, is_admin=is_admin)
            user = await store.users.by_username(name)
            assert user is not None
            world.principals[name] = Principal(user, via="token")
            world.roles[(name, name)] = Role.ADMIN  # the personal namespace quick_user made
        async with store.transaction():
            for org, members in ORGS.items():
                made = await store.namespaces.add(name=org, kind=NamespaceKind.ORG, creator_id=None)
                for member, role in members.items():
                    await store.namespaces.set_member(made.id, world.user_id(member), role)
                    world.roles[(member, org)] = role
        for namespace in [*USERS, *ORGS]:
            found = await store.namespaces.by_name(namespace)
            assert found is not None
            world.namespace_ids[namespace] = found.id
        async with store.transaction():
            for namespace, name, public, category in REPOSITORIES:
                world.repository_ids[(namespace, name)] = await store.repositories.add(
                    namespace_id=world.namespace_ids[namespace], name=name, description="",
                    full_description="", category=category, is_public=public, creator_id=None,
                )  # fmt: skip
    return world


CALLERS = [None, *USERS]


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
    return queries


async def _pages(query: RepoQuery, visibility: Visibility, store: Store) -> tuple[Any, Any]:
    page = await store.repositories.page(query, visibility)
    return page, await store.repositories.summaries(query, visibility)


async def _disclosure_facts(namespace_id: int, user_id: int | None, store: Store) -> tuple[bool, Role | None]:
    public = await store.repositories.public_exists_in(namespace_id)
    return public, await store.namespaces.role(namespace_id, user_id) if user_id is not None else None


async def _facts_one_by_one(
    paths: list[tuple[str, str]], user_id: int | None, store: Store
) -> dict[tuple[str, str], AccessFacts]:
    found = {path: await store.registry.access_facts(*path, user_id) for path in paths}
    return {path: facts for path, facts in found.items() if facts is not None}


async def _facts_together(
    paths: list[tuple[str, str]], user_id: int | None, store: Store
) -> dict[tuple[str, str], AccessFacts]:
    return await store.registry.access_facts_of(paths, user_id)


async def _member_roles(user_id: int, store: Store) -> dict[str, AccessFacts]:
    return await store.registry.member_roles(user_id)


def _user_id(principal: Principal) -> int | None:
    return principal.user.id if principal.user else None


async def test_list_pages_show_what_the_policy_lets_each_caller_read(app: FastAPI, model: Model) -> None:
    for caller in CALLERS:
        visibility = access.visibility(model.principals[caller])
        for query in _queries():
            expected = model.listed(caller, query)
            for page, summaries in await _both(app, partial(_pages, query, visibility)):
                shown = (sorted(r.path for r in page.items), page.total)
                assert shown == (expected, len(expected)), (caller, query)
                listed = sorted(f"{s.namespace}/{s.name}" for s in summaries.items)
                assert (listed, summaries.total) == (expected, len(expected)), (caller, query)


async def test_a_namespace_is_disclosed_as_the_policy_says(app: FastAPI, model: Model) -> None:
    """The facts a use case reads for it (the caller's membership, a public repository in the
    namespace) lead the policy to the answer it gives on the model."""
    for namespace, namespace_id in model.namespace_ids.items():
        for caller in CALLERS:
            principal = model.principals[caller]
            read = partial(_disclosure_facts, namespace_id, _user_id(principal))
            has_public, membership = await _via_session(app, read)  # no lone reads of these
            role = access.effective_role(principal, membership)
            disclosed = access.discloses(role, readable=has_public)
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
                granted = access.registry_actions(principal, found, path[1], ALL) if found else []
                assert granted == model.granted(caller, *path), (caller, path)


async def test_registry_grants_from_a_member_s_roles_are_the_policy_s(app: FastAPI, model: Model) -> None:
    """The grant memo answers a caller with a role from its roles alone, for any creatable name
    (``RegistryService._remembered``): the same grant as from the repository's own facts."""
    paths = [path for path in _paths(model) if access.creatable(path[1])]
    for caller in USERS:
        principal = model.principals[caller]
        user_id = _user_id(principal)
        assert user_id is not None
        member_of = {namespace for (user, namespace) in model.roles if user == caller}
        for stored in await _both(app, partial(_member_roles, user_id)):
            assert set(stored) == member_of, caller
            for namespace, name in paths:
                if namespace in stored:
                    granted = access.registry_actions(principal, stored[namespace], name, ALL)
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
