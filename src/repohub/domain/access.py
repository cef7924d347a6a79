"""The access policy: who may see or do what, for every dialect and the registry (pure: no I/O).

The use cases fetch the facts (the caller's membership role in a namespace, its grant on a
repository, the shares that reach it, whether a repository exists and is public) and ask this module;
the store's SQL encodes the same rules for lists (``visibility``) and for registry grants
(``AccessFacts``), and ``tests/store/test_access_matrix.py`` checks that both give the same answers for
every caller and repository of a generated world.

The rules:

* **Effective role in a namespace.** A caller's role in a namespace is its membership role; a site
  admin acts as an admin everywhere; an anonymous caller or a robot account has none.
* **Effective role on a repository** (``repository_role``): the stronger of the namespace role and the
  caller's grant on that repository alone (admin, member or viewer: SWR's per-repository access);
  ``viewer`` through a share of the repository with a namespace the caller belongs to, until the
  share's deadline (compared at each decision: nothing runs when it passes). A robot account is a
  ``viewer`` of the repositories of its namespace that one of its pull or push patterns matches
  (``fnmatch`` globs, ``*`` and ``?``), and nothing more through the APIs.
* **Repositories.** Reading one (showing it, its tags, pulling) needs the repository to be public or
  any role on it; writing (changing, pushing, retagging) needs ``member``; deleting it or its tags
  needs ``admin``. Creating one needs ``member`` in its namespace. A private repository the caller may
  not read is reported as missing.
* **Who holds a repository.** Its grants and shares are changed by its admins and read by them and
  by the people of its namespace (``reads_access_of``); anyone else who may read it learns its own
  role alone, and of a share only its own access domain's.
* **Namespaces.** Administering one (deleting it, changing who has access, its rules, hooks and
  robots) needs ``admin`` in it; reading its own record with the caller's role or its access list
  needs any role.
* **Disclosure of a namespace.** A namespace exists for a caller who has a role in it or who may read
  a repository of it (a public one, one granted or shared, one a robot's pattern matches). To anyone
  else it answers, everywhere and word for word, as a namespace that does not exist (NotFound); once
  disclosed, what the caller lacks a role for is a plain PermissionDenied. Both namespace services
  follow this one rule: ``CatalogService`` (v1, ABEJA, SWR repositories) and ``NamespaceService``
  (SWR namespaces and their access lists).
* **Lists.** A site admin sees every repository; a signed-in user the public ones, those of its
  namespaces, those granted to it and those shared with its namespaces (until the deadline); a robot
  the public ones and those its patterns match; an anonymous caller the public ones
  (``visibility``). A list of namespaces shows those the caller belongs to, every one to a site admin
  (``namespace_list_member``).
* **Registry grants** (``registry_actions``): ``pull`` with read access, even on a name that does not
  exist yet for a caller with a role in the namespace (the registry answers "unknown" anyway);
  ``push`` with ``member`` on the repository, or on a name that could be created for ``member`` in the
  namespace; ``delete`` with ``admin``; ``*`` asks for all three and gets what the caller may have
  (``*`` itself when that is all three); ``registry:catalog:*`` for site admins only. A name that
  does not exist yet cannot be pushed in a namespace at its repository quota (``AccessFacts.full``):
  the push would create a repository the quota has no room for. A robot gets
  ``pull`` where a pull or push pattern matches (push needs pull: docker checks blobs before pushing)
  and ``push`` where a push pattern matches, on existing repositories or names that could be created;
  never ``delete``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from fnmatch import fnmatchcase

from repohub.domain.entities import Principal, Robot, Role, User
from repohub.domain.errors import InvalidInput
from repohub.domain.names import validate_repository_name
from repohub.domain.queries import Visibility

__all__ = [
    "DELETE",
    "FOREVER",
    "PULL",
    "PUSH",
    "REPOSITORY_ACTIONS",
    "AccessFacts",
    "Action",
    "allows",
    "creatable",
    "discloses",
    "effective_role",
    "may_list_catalog",
    "may_read",
    "membership_matters",
    "namespace_list_member",
    "reads_access_of",
    "registry_actions",
    "repository_role",
    "robot_reads",
    "share_reaches",
    "visibility",
]

PULL, PUSH, DELETE = "pull", "push", "delete"
REPOSITORY_ACTIONS = (PULL, PUSH, DELETE)


class Action(StrEnum):
    """What a caller does to a repository or a namespace, by the least role it needs."""

    READ = "read"  # a namespace's own record, its access list; a repository (unless public)
    WRITE = "write"  # create, change or push a repository
    DELETE = "delete"  # a repository or its tags
    ADMINISTER = "administer"  # delete a namespace, change who has access to it


NEEDED_ROLE = {
    Action.READ: Role.VIEWER,
    Action.WRITE: Role.MEMBER,
    Action.DELETE: Role.ADMIN,
    Action.ADMINISTER: Role.ADMIN,
}


# The end of a share without a deadline ("forever"), as the facts carry it.
FOREVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What a decision on one ``namespace/name`` rests on, for one caller: the namespace, the caller's
    membership role in it, the repository if it exists (``repository_id`` None if not), the caller's
    grant on it, and the latest end of a share of it with a namespace the caller belongs to
    (``FOREVER``: no deadline; None: no share); ``full``: the namespace holds as many repositories
    as its quota allows (``domain.quotas``), so no new one may be pushed."""

    namespace_id: int
    role: Role | None
    repository_id: int | None
    is_public: bool
    grant: Role | None = None
    shared_until: datetime | None = None
    full: bool = False


def effective_role(principal: Principal, membership: Role | None) -> Role | None:
    """The caller's role given its membership role in the namespace (None: no membership)."""
    if principal.is_admin:
        return Role.ADMIN
    return membership if principal.user is not None else None


def repository_role(principal: Principal, facts: AccessFacts, name: str, now: datetime) -> Role | None:
    """The caller's effective role on the repository ``name`` that ``facts`` describe (module doc)."""
    if principal.is_admin:
        return Role.ADMIN
    robot = principal.robot
    if robot is not None:
        return Role.VIEWER if robot_reads(robot, facts.namespace_id, name) else None
    if principal.user is None:
        return None
    best = facts.role
    if facts.grant is not None and (best is None or facts.grant.rank > best.rank):
        best = facts.grant
    if best is None and facts.shared_until is not None and share_reaches(facts.shared_until, now):
        best = Role.VIEWER
    return best


def share_reaches(until: datetime | None, now: datetime) -> bool:
    """Whether a share ending at ``until`` (None or ``FOREVER``: no deadline) still reaches the members
    of its namespace at ``now`` (SWR's ``status`` of a share)."""
    return until is None or until > now


def reads_access_of(repository_role: Role | None, namespace_role: Role | None) -> bool:
    """Whether a caller reads who else holds a repository (its grants, its shares): its admins, and
    the people of its namespace, as a namespace's access list is theirs. A grant below admin or a
    share shows the caller its own role alone: a share's viewer is another tenant."""
    return allows(repository_role, Action.ADMINISTER) or namespace_role is not None


def robot_reads(robot: Robot, namespace_id: int, name: str) -> bool:
    """Whether one of the robot's patterns (pull or push: push includes pull) matches ``name`` in
    namespace ``namespace_id``."""
    return robot.namespace_id == namespace_id and _matches(robot.pull + robot.push, name)


def _matches(patterns: Sequence[str], name: str) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def membership_matters(principal: Principal) -> bool:
    """Whether the caller's membership can change its effective role: not for a site admin (an
    admin everywhere) nor for an anonymous caller (none anywhere), whose membership is never read."""
    return principal.user is not None and not principal.is_admin


def allows(role: Role | None, action: Action) -> bool:
    """Whether an effective ``role`` may do ``action`` (public repositories: see ``may_read``)."""
    return role is not None and role.at_least(NEEDED_ROLE[action])


def may_read(role: Role | None, *, is_public: bool) -> bool:
    """Whether a caller with the effective ``role`` may read a repository."""
    return is_public or role is not None


def discloses(role: Role | None, *, readable: bool) -> bool:
    """Whether a namespace exists for a caller with the effective ``role`` who may (``readable``) or
    may not read some repository of it."""
    return readable or role is not None


def visibility(principal: Principal, now: datetime) -> Visibility:
    """The repositories a list shows the caller at ``now``, as the store's SQL encodes them."""
    user = principal.user
    if user is None:
        robot = principal.robot
        if robot is not None:
            return Visibility(robot_id=robot.id, robot_namespace_id=robot.namespace_id)
        return Visibility()
    return Visibility(everything=user.is_admin, member_id=user.id, now=now)


def namespace_list_member(user: User) -> int | None:
    """Whose memberships a namespace list follows: the caller's; None (every namespace) for a site
    admin."""
    return None if user.is_admin else user.id


def may_list_catalog(principal: Principal) -> bool:
    """``registry:catalog:*``: the registry's list of every repository."""
    return principal.is_admin


def creatable(name: str) -> bool:
    """Whether a repository of this name could be created (pushed) in a namespace."""
    try:
        validate_repository_name("x", name)
    except InvalidInput:
        return False
    return True


def registry_actions(
    principal: Principal, facts: AccessFacts, name: str, requested: Sequence[str], now: datetime
) -> list[str]:
    """The subset of ``requested`` the caller gets on ``facts``' repository ``name``. On the token's
    hot path: a few plain operations, the role rules above written out (``repository_role``,
    ``allows`` and ``may_read`` give the same answers; the policy tests check it)."""
    robot = principal.robot
    may = (
        _robot_actions(robot, facts, name)
        if robot is not None
        else _user_actions(principal, facts, name, now)
    )
    if facts.repository_id is not None and facts.is_public:
        may.add(PULL)
    if "*" in requested:
        return ["*"] if may == set(REPOSITORY_ACTIONS) else [a for a in REPOSITORY_ACTIONS if a in may]
    return [action for action in requested if action in may]


def _pushable(facts: AccessFacts, name: str) -> bool:
    """Whether ``name`` may receive a push, role aside: it exists, or could be created and the
    namespace has room for one more repository."""
    return facts.repository_id is not None or (not facts.full and creatable(name))


def _user_actions(principal: Principal, facts: AccessFacts, name: str, now: datetime) -> set[str]:
    may: set[str] = set()
    role = repository_role(principal, facts, name, now)
    if role is None:
        return may
    may.add(PULL)
    if role.at_least(Role.MEMBER) and _pushable(facts, name):
        may.add(PUSH)
    if role.at_least(Role.ADMIN):
        may.add(DELETE)
    return may


def _robot_actions(robot: Robot, facts: AccessFacts, name: str) -> set[str]:
    may: set[str] = set()
    if robot.namespace_id != facts.namespace_id:
        return may
    if _matches(robot.push, name):
        may.add(PULL)
        if _pushable(facts, name):
            may.add(PUSH)
    elif _matches(robot.pull, name):
        may.add(PULL)
    return may
