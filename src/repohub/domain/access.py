"""The access policy: who may see or do what, for every dialect and the registry (pure: no I/O).

The use cases fetch the facts (the caller's membership role in a namespace, whether a repository
exists and is public) and ask this module; the store's SQL encodes the same rules for lists
(``visibility``) and for registry grants (``AccessFacts``), and ``tests/store/test_access_matrix.py``
checks that both give the same answers for every caller and repository of a generated world.

The rules:

* **Effective role.** A caller's role in a namespace is its membership role; a site admin acts as
  an admin everywhere; an anonymous caller has none.
* **Repositories.** Reading one (showing it, its tags, pulling) needs the repository to be public or
  any role in its namespace; writing (creating, changing, pushing) needs ``member``; deleting it or
  its tags needs ``admin``. A private repository the caller may not read is reported as missing.
* **Namespaces.** Administering one (deleting it, changing who has access) needs ``admin``; reading
  its own record with the caller's role or its access list needs any role.
* **Disclosure of a namespace.** A namespace exists for a caller who has a role in it or who may read
  a repository of it (a public one). To anyone else it answers, everywhere and word for word, as a
  namespace that does not exist (NotFound); once disclosed, what the caller lacks a role for is a
  plain PermissionDenied. Both namespace services follow this one rule: ``CatalogService`` (v1,
  ABEJA, SWR repositories) and ``NamespaceService`` (SWR namespaces and their access lists).
* **Lists.** A site admin sees every repository; a signed-in user the public ones and those of its
  namespaces; an anonymous caller the public ones (``visibility``). A list of namespaces shows those
  the caller belongs to, every one to a site admin (``namespace_list_member``).
* **Registry grants** (``registry_actions``): ``pull`` with read access, even on a name that does not
  exist yet for a caller with a role (the registry answers "unknown" anyway); ``push`` for members and
  up, on an existing repository or a name that could be created; ``delete`` for admins; ``*`` asks
  for all three and gets what the caller may have (``*`` itself when that is all three);
  ``registry:catalog:*`` for site admins only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from repohub.domain.entities import Principal, Role, User
from repohub.domain.errors import InvalidInput
from repohub.domain.names import validate_repository_name
from repohub.domain.queries import Visibility

__all__ = [
    "DELETE",
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
    "registry_actions",
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


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What a token grant depends on, for one ``namespace/name`` and one caller: the namespace, the
    caller's membership role in it, and the repository if it exists (``repository_id`` None if not)."""

    namespace_id: int
    role: Role | None
    repository_id: int | None
    is_public: bool


def effective_role(principal: Principal, membership: Role | None) -> Role | None:
    """The caller's role given its membership role in the namespace (None: no membership)."""
    if principal.is_admin:
        return Role.ADMIN
    return membership if principal.user is not None else None


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


def visibility(principal: Principal) -> Visibility:
    """The repositories a list shows the caller, as the store's SQL encodes them."""
    user = principal.user
    if user is None:
        return Visibility()
    return Visibility(everything=user.is_admin, member_id=user.id)


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
    principal: Principal, facts: AccessFacts, name: str, requested: Sequence[str]
) -> list[str]:
    """The subset of ``requested`` the caller gets on ``facts``' repository ``name``. On the token's
    hot path: a few plain operations, the role rules above written out (``effective_role``, ``allows``
    and ``may_read`` give the same answers; the policy tests check it)."""
    role = Role.ADMIN if principal.is_admin else facts.role
    may: set[str] = set()
    if facts.repository_id is not None and facts.is_public:
        may.add(PULL)
    if role is not None:
        may.add(PULL)
        if role.at_least(Role.MEMBER) and (facts.repository_id is not None or creatable(name)):
            may.add(PUSH)
        if role.at_least(Role.ADMIN):
            may.add(DELETE)
    if "*" in requested:
        return ["*"] if may == set(REPOSITORY_ACTIONS) else [a for a in REPOSITORY_ACTIONS if a in may]
    return [action for action in requested if action in may]
