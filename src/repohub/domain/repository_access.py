"""Who has a role on one repository alone (SWR's per-repository access, ``auth`` 7/3/1): read the list,
give roles, change them, take them away.

The repository comes from ``CatalogService.repository`` (NotFound for one the caller may not read).
Who may do what is the policy's: the caller's effective role on the repository
(``roles.role_on``, the stronger of its namespace role, its grant and a share's viewer) must allow
``Action.ADMINISTER`` to change the list (the namespace's admins, site admins, users granted admin on
the repository); who else is on it is read by those and by the namespace's people
(``access.reads_access_of``); anyone else who may read the repository (a lesser grant, a share's
viewer from another tenant) reads its own role alone. Anything less is ``roles.require``'s
PermissionDenied. Both need a signed-in user (the list names
the caller), as a namespace's list does.

Grants are written as ``NamespaceService.grant`` writes memberships: entries name their users as
``namespaces.Grant`` does, all or nothing, a user listed once; a grant is given to users who have none
(Conflict otherwise) and changed for users who have one (NotFound otherwise). Unlike a namespace, a
repository needs no admin of its own: its namespace's admins always administer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from repohub.domain import access, roles
from repohub.domain.access import Action
from repohub.domain.access_records import RepositoryGrant
from repohub.domain.entities import Principal, Repository, Role, User
from repohub.domain.errors import Conflict, InvalidInput, NotFound
from repohub.domain.namespaces import MAX_GRANTS, Grant, granted_users
from repohub.store.unit import Store

__all__ = ["RepositoryAccess", "RepositoryAccessService", "reads_access_of", "require_on"]


@dataclass(frozen=True, slots=True)
class RepositoryAccess:
    """A repository's grants as its caller sees them: its own effective role, and everyone else's
    grant (``others``, by username)."""

    repository: Repository
    caller: RepositoryGrant
    others: list[RepositoryGrant]


async def require_on(
    store: Store, principal: Principal, repository: Repository, needed: Action, action: str
) -> tuple[User, Role]:
    """The signed-in caller and its effective role on ``repository`` (``roles.role_on``), which
    allows ``needed``; else ``roles.require``'s refusal. Sharing asks the same (``domain.sharing``).
    A robot account manages no access, nor reads it: refused as ``require`` refuses it, or, where it
    may read the repository, as ``roles.user_of`` does (403)."""
    role = await roles.require_on(store, principal, repository, needed, action)
    return roles.user_of(principal, action), role


async def reads_access_of(store: Store, principal: Principal, repository: Repository, role: Role) -> bool:
    """``access.reads_access_of`` for the caller with ``role`` on the repository: its namespace role
    read only when the repository role does not settle it."""
    if access.allows(role, Action.ADMINISTER):
        return True
    namespace = await store.namespaces.get(repository.namespace_id)
    namespace_role = None if namespace is None else await roles.role_in(store, principal, namespace)
    return access.reads_access_of(role, namespace_role)


class RepositoryAccessService:
    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self.principal = principal

    async def _allowed(self, repository: Repository, needed: Action, action: str) -> tuple[User, Role]:
        return await require_on(self._store, self.principal, repository, needed, action)

    async def access(self, repository: Repository) -> RepositoryAccess:
        user, role = await self._allowed(repository, Action.READ, "read repository access")
        caller = RepositoryGrant(repository_id=repository.id, user=user, role=role)
        if not await reads_access_of(self._store, self.principal, repository, role):
            return RepositoryAccess(repository=repository, caller=caller, others=[])  # its own alone
        grants = await self._store.grants.of_repository(repository.id)
        others = [grant for grant in grants if grant.user.id != user.id]
        return RepositoryAccess(repository=repository, caller=caller, others=others)

    async def grant(self, repository: Repository, grants: Sequence[Grant], *, change: bool) -> None:
        """Give users a role on the repository (``change=False``: they must have no grant on it yet)
        or change theirs (``change=True``: they must have one). All or nothing."""
        await self._allowed(
            repository, Action.ADMINISTER, "change repository access" if change else "grant repository access"
        )
        wanted = await granted_users(self._store, grants)
        new_roles = {user_id: role for user_id, (_, role) in wanted.items()}
        # A grant given meanwhile fails the insert on its unique (repository, user): Conflict.
        async with self._store.transaction(conflict=f"a user already has access to {repository.path!r}"):
            current = await self._store.grants.roles(repository.id, list(wanted))
            for user, _ in wanted.values():
                _check_grant(repository, user, has_grant=user.id in current, change=change)
            if change:
                await self._store.grants.change(repository.id, new_roles)
            else:
                await self._store.grants.add(repository.id, new_roles)

    async def revoke(self, repository: Repository, user_ids: Sequence[int]) -> None:
        await self._allowed(repository, Action.ADMINISTER, "remove repository access")
        if not 1 <= len(user_ids) <= MAX_GRANTS:
            raise InvalidInput(f"give 1 to {MAX_GRANTS} user ids", field="body")
        async with self._store.transaction():
            current = await self._store.grants.roles(repository.id, user_ids)
            for user_id in user_ids:
                if user_id not in current:
                    raise NotFound(f"user {user_id} has no access to repository {repository.path!r}")
            await self._store.grants.remove(repository.id, user_ids)


def _check_grant(repository: Repository, user: User, *, has_grant: bool, change: bool) -> None:
    """A role is changed for users who have a grant, given to users who have none yet."""
    if change and not has_grant:
        raise NotFound(f"user {user.username!r} has no access to repository {repository.path!r}")
    if not change and has_grant:
        raise Conflict(f"user {user.username!r} already has access to repository {repository.path!r}")
