"""The I/O half of the access policy: a caller's effective role read once, and the refusal a
missing role gets. Both namespace services (``catalog``, ``namespaces``) use these, so a non-member
is answered alike everywhere; the rules themselves are ``domain.access``'s.
"""

from __future__ import annotations

from repohub.domain import access
from repohub.domain.access import Action
from repohub.domain.entities import Namespace, Principal, Role
from repohub.domain.errors import NotFound, PermissionDenied
from repohub.store.unit import Store

__all__ = ["disclose", "no_namespace", "require", "role_in"]


def no_namespace(label: str) -> NotFound:
    """What a missing namespace gets, and one not disclosed to the caller, word for word; ``label``
    names it as the caller did (a quoted name, or an id)."""
    return NotFound(f"namespace {label} not found")


async def role_in(store: Store, principal: Principal, namespace: Namespace) -> Role | None:
    """The caller's effective role (``access.effective_role``): a membership read at most, and none
    when the membership cannot change it (``access.membership_matters``)."""
    user = principal.user
    membership = None
    if user is not None and access.membership_matters(principal):
        membership = await store.namespaces.role(namespace.id, user.id)
    return access.effective_role(principal, membership)


async def disclose(
    store: Store, namespace: Namespace, role: Role | None, label: str, *, readable: bool | None = None
) -> None:
    """NotFound, as for a missing namespace named ``label``, unless the namespace is disclosed to a
    caller with the effective ``role`` (``access.discloses``). ``readable``: whether the caller may
    read a repository of it, when already known (None: ask the store, if the role does not settle it)."""
    if readable is None and role is None:
        readable = await store.repositories.public_exists_in(namespace.id)
    if not access.discloses(role, readable=bool(readable)):
        raise no_namespace(label)


async def require(store: Store, namespace: Namespace, role: Role | None, needed: Action, action: str) -> Role:
    """``role``, if it allows ``needed``; else NotFound, as for a missing namespace, when the
    namespace is not disclosed to the caller (``access.discloses``), PermissionDenied when it is."""
    if role is not None and access.allows(role, needed):
        return role
    await disclose(store, namespace, role, repr(namespace.name))
    wanted = access.NEEDED_ROLE[needed]
    raise PermissionDenied(f"{action} in namespace {namespace.name!r} needs the {wanted} role")
