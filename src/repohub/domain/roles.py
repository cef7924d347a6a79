"""The I/O half of the access policy: a caller's effective role read once, and the refusal a
missing role gets. Both namespace services (``catalog``, ``namespaces``) use these, so a non-member
is answered alike everywhere; the rules themselves are ``domain.access``'s.
"""

from __future__ import annotations

from repohub.domain import access
from repohub.domain.access import AccessFacts, Action
from repohub.domain.clock import utcnow
from repohub.domain.entities import Namespace, Principal, Repository, Role
from repohub.domain.errors import NotFound, PermissionDenied
from repohub.store.unit import Store

__all__ = ["disclose", "no_namespace", "require", "role_in", "role_on"]


def no_namespace(label: str) -> NotFound:
    """What a missing namespace gets, and one not disclosed to the caller, word for word; ``label``
    names it as the caller did (a quoted name, or an id)."""
    return NotFound(f"namespace {label} not found")


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
