"""The access matrix's world: who may reach which repository, as rows and as plain facts.

The world: a site admin, a namespace owner, a member, a viewer, an outsider (admin elsewhere), users
with repository grants only, a member of an access domain, three live robot accounts, and an
anonymous caller; namespaces with public and private repositories, one with private ones only, one
empty; repository grants weaker and stronger than the grantee's namespace role; shares with an access
domain forever, until a future date and until a past one. Besides them, credentials that must not
work: a disabled robot and an expired one (patterns that would reach private repositories, so that a
refusal is not an accident of their grants) and a user's expired API token (``DEAD``).

``build_world`` writes it to the tables directly (no use case runs: the matrix tests check the
policy's encodings against the policy, not the use cases' writes), and returns the same facts kept in
memory (``Model``), where the policy (``domain.access``) decides. ``tests/store/test_access_matrix.py``
compares the store's SQL with the model; ``tests/api/test_access_dialects.py`` every dialect and the
registry's token server.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from fastapi import FastAPI
from sqlalchemy import insert

from repohub.domain import access
from repohub.domain.access import DELETE, FOREVER, PULL, PUSH, AccessFacts, Action
from repohub.domain.entities import ANONYMOUS, NamespaceKind, Principal, Robot, Role
from repohub.domain.queries import RepoQuery
from repohub.domain.robots import glob_to_like
from repohub.store.tables import RepositoryGrantRow, RepositoryShareRow, RobotAccessRow, RobotRow
from repohub.store.unit import Store
from tests.world import quick_user

__all__ = [
    "ALL",
    "CALLERS",
    "DEAD",
    "DEAD_ROBOTS",
    "GRANTS",
    "NOW",
    "ORGS",
    "REPOSITORIES",
    "ROBOTS",
    "SHARES",
    "USERS",
    "Model",
    "build_world",
    "robot_granted",
    "robot_secret",
]

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
    "ci": ("alpha", ("group/*", "my_app"), ("pr?v",)),  # "_" is LIKE's "?": escaped, my-app is no match
    "reader": ("beta", ("*",), ()),
    "builder": ("gamma", (), ("*",)),
}
# robot: namespace, pull patterns, push patterns, disabled, end — robots whose secret never works
DEAD_ROBOTS = {
    "retired": ("alpha", ("*",), ("*",), True, None),
    "lapsed": ("gamma", ("*",), (), False, NOW - timedelta(hours=1)),
}
# Callers whose credentials must not work, answered as an unknown credential is everywhere: the
# dead robots, and "member" with an API token that has expired.
DEAD = [*(f"robot:{name}" for name in DEAD_ROBOTS), "expired:member"]
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
    ("alpha", "my-app", False, "other"),  # a robot's "my_app" must not reach it (LIKE's "_")
    ("alpha", "my_app", False, "other"),
]
ALL = (PULL, PUSH, DELETE)
# Everyone the policy decides for: None is anonymous, "robot:<name>" a live robot.
CALLERS: list[str | None] = [None, *USERS, *(f"robot:{name}" for name in ROBOTS)]


def robot_secret(name: str) -> str:
    """The secret of the world's robot ``name``: ``rbt_`` as robot secrets begin (a token that does
    not is an API token), the row's ``lookup`` its SHA-256 hex digest."""
    return f"rbt_{name}-secret-of-the-access-world"


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

    def may_read(self, caller: str | None, namespace: str, name: str) -> bool:
        return any((ns, repo) == (namespace, name) for ns, repo, _ in self.readable(caller))

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
            return robot_granted(robot, namespace, name, exists=exists, public=public)
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
        """The namespaces the caller belongs to (``member_facts``' roles)."""
        return {namespace for (user, namespace) in self.roles if user == caller}

    def granted_in_member_namespaces(self, caller: str) -> set[tuple[str, str]]:
        """The repositories granted to the caller in namespaces it belongs to (``member_facts``'
        granted: their whole facts, as a grant may be stronger than the role)."""
        return {(ns, name) for (user, ns, name) in GRANTS if user == caller and (caller, ns) in self.roles}


def robot_granted(robot: Robot, namespace: str, name: str, *, exists: bool, public: bool) -> list[str]:
    ours = robot.namespace == namespace
    pushes = ours and any(fnmatchcase(name, p) for p in robot.push)
    pulls = pushes or (ours and any(fnmatchcase(name, p) for p in robot.pull)) or (public and exists)
    actions = [PULL] if pulls else []
    if pushes and (exists or access.creatable(name)):
        actions.append(PUSH)
    return actions


async def build_world(app: FastAPI) -> Model:
    """The world written to ``app``'s (emptied) tables, and its model."""
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
            robot_id = await _robot(session, world, robot_name, namespace, pull, push)
            robot = Robot(robot_id, world.namespace_ids[namespace], namespace, robot_name, pull, push)
            world.principals[f"robot:{robot_name}"] = Principal(robot=robot, via="robot")
        for robot_name, (namespace, pull, push, disabled, end) in DEAD_ROBOTS.items():
            await _robot(
                session, world, robot_name, namespace, pull, push, is_disabled=disabled, expires_at=end
            )


async def _robot(
    session: Any,
    world: Model,
    name: str,
    namespace: str,
    pull: tuple[str, ...],
    push: tuple[str, ...],
    **flags: Any,
) -> int:
    """A robot row and its patterns, converted as the CLI converts them (``robots.glob_to_like``:
    ``_``, ``%`` and ``\\`` escaped); returns its id."""
    lookup = hashlib.sha256(robot_secret(name).encode()).hexdigest()
    robot_id: int = (
        await session.execute(
            insert(RobotRow)
            .values(namespace_id=world.namespace_ids[namespace], name=name, lookup=lookup, **flags)
            .returning(RobotRow.id)
        )
    ).scalar_one()
    for action, patterns in (("pull", pull), ("push", push)):
        for pattern in patterns:
            like = glob_to_like(pattern)  # the one conversion the CLI's robots are written with
            await session.execute(
                insert(RobotAccessRow).values(
                    robot_id=robot_id, action=action, pattern=pattern, like_pattern=like
                )
            )
    return robot_id
