"""The I/O half of the access policy: a caller's effective role read once, and the refusal a
missing role gets. Both namespace services (``catalog``, ``namespaces``) use these, so a non-member
is answered alike everywhere; the rules themselves are ``domain.access``'s.
"""

from __future__ import annotations

from repohub.domain import access
from repohub.domain.access import AccessFacts, Action
from repohub.domain.clock import utcnow
from repohub.domain.entities import Namespace, Principal, Repository, Role, User
from repohub.domain.errors import NotAuthenticated, NotFound, PermissionDenied
from repohub.store.unit import Store

__all__ = ["disclose", "no_namespace", "require", "require_on", "role_in", "role_on", "signed_in", "user_of"]


def no_namespace(label: str) -> NotFound:
    """What a missing namespace gets, and one not disclosed to the caller, word for word; ``label``
    names it as the caller did (a quoted name, or an id)."""
    return NotFound(f"namespace {label} not found")


def signed_in(principal: Principal, action: str) -> None:
    """NotAuthenticated for an anonymous caller. A use case in a namespace asks this first, then
    ``require``: a robot account, which has no role in any namespace (``access.effective_role``), is
    then refused there as any caller without one is, 403 where the namespace is disclosed to it and
    404 elsewhere."""
    if principal.is_anonymous:
        raise NotAuthenticated(f"authentication is required to {action}")


def user_of(principal: Principal, action: str) -> User:
    """The calling user, for a use case only a user can be the subject of (its star, a namespace it
    creates and owns): NotAuthenticated for nobody, PermissionDenied for a robot account."""
    signed_in(principal, action)
    if principal.user is None:
        raise PermissionDenied(f"a robot account cannot {action}")
    return principal.user


async def role_in(store: Store, principal: Principal, namespace: Namespace) -> Role | None:
    """The caller's effective role in the namespace (``access.effective_role``): a membership read at
    most, and none when the membership cannot change it (``access.membership_matters``)."""
    user = principal.user
    membership = None
    if user is not None and access.membership_matters(principal):
        membership = await store.namespaces.role(namespace.id, user.id)
    return access.effective_role(principal, membership)


async def role_on(store: Store, principal: Principal, repository: Repository) -> Role | None:
    """The caller's effective role on the repository (``access.repository_role``): for a user who is
    no site admin, its facts in one read, the statement the token server's grants read."""
    facts = AccessFacts(repository.namespace_id, None, repository.id, repository.is_public)
    user = principal.user
    if user is not None and access.membership_matters(principal):
        found = await store.registry.access_facts(repository.namespace, repository.name, user.id)
        facts = found if found is not None else facts
    return access.repository_role(principal, facts, repository.name, utcnow())


async def disclose(
    store: Store,
    principal: Principal,
    namespace: Namespace,
    role: Role | None,
    label: str,
    *,
    readable: bool | None = None,
) -> None:
    """NotFound, as for a missing namespace named ``label``, unless the namespace is disclosed to a
    caller with the effective ``role`` (``access.discloses``). ``readable``: whether the caller may
    read a repository of it, when already known (None: ask the store, if the role does not settle it)."""
    if readable is None and role is None:
        visibility = access.visibility(principal, utcnow())
        readable = await store.repositories.visible_exists_in(namespace.id, visibility)
    if not access.discloses(role, readable=bool(readable)):
        raise no_namespace(label)


async def require(
    store: Store, principal: Principal, namespace: Namespace, role: Role | None, needed: Action, action: str
) -> Role:
    """``role``, if it allows ``needed``; else NotFound, as for a missing namespace, when the
    namespace is not disclosed to the caller (``access.discloses``), PermissionDenied when it is."""
    if role is not None and access.allows(role, needed):
        return role
    await disclose(store, principal, namespace, role, repr(namespace.name))
    wanted = access.NEEDED_ROLE[needed]
    raise PermissionDenied(f"{action} in namespace {namespace.name!r} needs the {wanted} role")


async def require_on(
    store: Store, principal: Principal, repository: Repository, needed: Action, action: str
) -> Role:
    """The caller's role on the repository (``role_on``), if it allows ``needed``; else ``require``'s
    refusal in the repository's namespace. NotAuthenticated first for an anonymous caller."""
    signed_in(principal, action)
    namespace = await store.namespaces.get(repository.namespace_id)
    if namespace is None:  # deleted meanwhile
        raise NotFound(f"repository {repository.path!r} not found")
    role = await role_on(store, principal, repository)
    return await require(store, principal, namespace, role, needed, action)
