"""The store's SQL answers what the access policy says, for every caller × repository of a small world.

The world: a site admin, a namespace owner, a member, a viewer, an outsider (admin elsewhere), users
with repository grants only, a member of an access domain, two robot accounts (one disabled: its
patterns must not matter, for it never authenticates; it is a principal here all the same, its
patterns are what the SQL sees) and an anonymous caller; namespaces with public and private
repositories, one with private ones only, one empty; repository grants weaker and stronger than the
grantee's namespace role; shares with an access domain forever, until a future date and until a past
one. The same facts are kept in memory (``Model``), where the policy (``domain.access``) decides;
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
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from repohub.domain import access
from repohub.domain.access import DELETE, FOREVER, PULL, PUSH, AccessFacts, Action
from repohub.domain.entities import ANONYMOUS, NamespaceKind, Principal, Robot, Role
from repohub.domain.queries import RepoQuery, Visibility
from repohub.store.session import LazySession
from repohub.store.tables import RepositoryGrantRow, RepositoryShareRow, RobotAccessRow, RobotRow
from repohub.store.unit import Store
from tests.world import quick_user

USERS = {
    "root": True,
    "owner": False,
    "member": False,
    "viewer": False,
    "outsider": False,
    "granted": False,  # no membership anywhere but its personal namespace: repository grants only
    "partner": False,  # a member of the access domain "epsilon"
}
ORGS = {
    "alpha": {"owner": Role.ADMIN, "member": Role.MEMBER, "viewer": Role.VIEWER},
    "beta": {"outsider": Role.ADMIN, "viewer": Role.VIEWER},
    "gamma": {"owner": Role.ADMIN},  # private repositories only
    "delta": {},  # no members, no repositories
    "epsilon": {"partner": Role.VIEWER, "outsider": Role.MEMBER},  # an access domain
}
NOW = datetime.now(UTC)
# (user, namespace, name): the user's role on that repository alone
GRANTS = {
    ("granted", "alpha", "priv"): Role.VIEWER,
    ("granted", "gamma", "secret"): Role.ADMIN,
    ("viewer", "alpha", "priv"): Role.MEMBER,  # stronger than its namespace role
    ("member", "alpha", "group/app"): Role.VIEWER,  # weaker: the membership wins
    ("granted", "beta", "open"): Role.MEMBER,  # public, and now writable by it
}
# (namespace, name, access domain): the share's end (None: forever)
SHARES = {
    ("alpha", "priv", "epsilon"): None,
    ("beta", "hidden", "epsilon"): NOW - timedelta(days=1),  # over
    ("gamma", "secret", "epsilon"): NOW + timedelta(days=1),
    ("owner", "tool", "epsilon"): NOW - timedelta(seconds=1),  # just over
}
# robot: namespace, pull patterns, push patterns
ROBOTS = {
    "ci": ("alpha", ("group/*",), ("pr?v",)),
    "reader": ("beta", ("*",), ()),
    "builder": ("gamma", (), ("*",)),
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

    def role_on(self, caller: str | None, namespace: str, name: str) -> Role | None:
        """The policy's role on a repository, from the model's facts."""
        facts = self.facts(caller, namespace, name)
        return access.repository_role(self.principals[caller], facts, name, NOW) if facts else None

    def readable(self, caller: str | None) -> Iterator[tuple[str, str, str]]:
        """Namespace, name and category of each repository the caller may read."""
        for namespace, name, public, category in REPOSITORIES:
            if access.may_read(self.role_on(caller, namespace, name), is_public=public):
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
        the grant's written-out form; here they are what the store's facts must lead to). A robot's
        are its patterns', written out here once more."""
        if namespace not in self.namespace_ids:
            return []
        exists = (namespace, name) in self.repository_ids
        public = any(r[:3] == (namespace, name, True) for r in REPOSITORIES)
        robot = self.principals[caller].robot
        if robot is not None:
            return _robot_granted(robot, namespace, name, exists=exists, public=public)
        role = self.role_on(caller, namespace, name) if exists else self.role(caller, namespace)
        actions = [PULL] if access.may_read(role, is_public=public and exists) else []
        if access.allows(role, Action.WRITE) and (exists or access.creatable(name)):
            actions.append(PUSH)
        if access.allows(role, Action.DELETE):
            actions.append(DELETE)
        return actions

    def facts(self, caller: str | None, namespace: str, name: str) -> AccessFacts | None:
        if namespace not in self.namespace_ids:
            return None
        public = any(r[:3] == (namespace, name, True) for r in REPOSITORIES)
        user = caller if caller and self.principals[caller].user else None
        role = self.roles.get((user, namespace)) if user else None
        repository_id = self.repository_ids.get((namespace, name))
        grant = GRANTS.get((user, namespace, name)) if user and repository_id else None
        ends = [
            FOREVER if end is None else end
            for (ns, repo, domain), end in SHARES.items()
            if (ns, repo) == (namespace, name) and user and (user, domain) in self.roles and repository_id
        ]
        return AccessFacts(
            self.namespace_ids[namespace], role, repository_id, public, grant, max(ends, default=None)
        )

    def member_of(self, caller: str) -> set[str]:
        """The namespaces whose role settles all of the caller's grants there (``member_roles``)."""
        return {
            namespace
            for (user, namespace), role in self.roles.items()
            if user == caller
            and (role is Role.ADMIN or not any(g[:2] == (caller, namespace) for g in GRANTS))
        }


def _robot_granted(robot: Robot, namespace: str, name: str, *, exists: bool, public: bool) -> list[str]:
    ours = robot.namespace == namespace
    pushes = ours and any(fnmatchcase(name, p) for p in robot.push)
    pulls = pushes or (ours and any(fnmatchcase(name, p) for p in robot.pull)) or (public and exists)
    actions = [PULL] if pulls else []
    if pushes and (exists or access.creatable(name)):
        actions.append(PUSH)
    return actions


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
        await _beyond_namespaces(session, world)
    return world


async def _beyond_namespaces(session: Any, world: Model) -> None:
    """The grants, shares and robots of the world, written as the tables hold them."""
    async with session.begin():
        for (user, namespace, name), role in GRANTS.items():
            repository_id = world.repository_ids[(namespace, name)]
            await session.execute(
                insert(RepositoryGrantRow).values(
                    repository_id=repository_id, user_id=world.user_id(user), role=role
                )
            )
        for (namespace, name, domain), end in SHARES.items():
            await session.execute(
                insert(RepositoryShareRow).values(
                    repository_id=world.repository_ids[(namespace, name)],
                    namespace_id=world.namespace_ids[domain],
                    expires_at=end,
                )
            )
        for robot_name, (namespace, pull, push) in ROBOTS.items():
            robot_id = (
                await session.execute(
                    insert(RobotRow)
                    .values(namespace_id=world.namespace_ids[namespace], name=robot_name, lookup=robot_name)
                    .returning(RobotRow.id)
                )
            ).scalar_one()
            for action, patterns in (("pull", pull), ("push", push)):
                for pattern in patterns:
                    like = pattern.replace("*", "%").replace("?", "_")
                    await session.execute(
                        insert(RobotAccessRow).values(
                            robot_id=robot_id, action=action, pattern=pattern, like_pattern=like
                        )
                    )
            robot = Robot(robot_id, world.namespace_ids[namespace], namespace, robot_name, pull, push)
            world.principals[f"robot:{robot_name}"] = Principal(robot=robot, via="robot")


CALLERS = [None, *USERS, *(f"robot:{name}" for name in ROBOTS)]


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


async def _member_roles(user_id: int, store: Store) -> dict[str, AccessFacts]:
    return await store.registry.member_roles(user_id)


def _user_id(principal: Principal) -> int | None:  # a robot's facts are anonymous ones
    return principal.user.id if principal.user else None


async def test_list_pages_show_what_the_policy_lets_each_caller_read(app: FastAPI, model: Model) -> None:
    for caller in CALLERS:
        visibility = access.visibility(model.principals[caller], NOW)
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


async def test_registry_grants_from_a_member_s_roles_are_the_policy_s(app: FastAPI, model: Model) -> None:
    """The grant memo answers a caller with a role from its roles alone, for any creatable name
    (``RegistryService._remembered``): the same grant as from the repository's own facts."""
    paths = [path for path in _paths(model) if access.creatable(path[1])]
    for caller in USERS:
        principal = model.principals[caller]
        user_id = _user_id(principal)
        assert user_id is not None
        for stored in await _both(app, partial(_member_roles, user_id)):
            assert set(stored) == model.member_of(caller), caller
            for namespace, name in paths:
                if namespace in stored:
                    granted = access.registry_actions(principal, stored[namespace], name, ALL, NOW)
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
    assert readable["robot:ci"] == public | {"alpha/group/app", "alpha/priv"}
    assert readable["robot:builder"] == public | {"gamma/secret"}
    assert model.role_on("viewer", "alpha", "priv") is Role.MEMBER
    assert model.role_on("member", "alpha", "group/app") is Role.MEMBER
    assert model.granted("robot:ci", "alpha", "priv") == [PULL, PUSH]
    assert model.granted("robot:ci", "alpha", "group/app") == [PULL]
    assert model.granted("robot:ci", "alpha", "newname") == []
    assert model.granted("robot:builder", "gamma", "fresh") == [PULL, PUSH]
    assert model.granted("granted", "gamma", "secret") == [PULL, PUSH, DELETE]
