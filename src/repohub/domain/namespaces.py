"""Namespace use cases a caller performs itself: create, list, show, delete, and manage who has access.

Who may do what is the access policy's (``domain.access``); this module fetches the caller's role and
raises what the policy answers. Any authenticated user may create an organisation (and becomes its
admin; ``create_organisation`` is the one path, the CLI's included); a caller lists the namespaces it
belongs to (site admins: all); viewers and up may show a namespace and read its access list; namespace
admins delete namespaces and change access. A caller without a role gets what ``CatalogService``
answers it: NotFound, as for a missing namespace, unless the namespace is disclosed to it (it holds a
public repository), then PermissionDenied. A namespace keeps at least one admin, a non-empty namespace
cannot be deleted, and a user's personal namespace lives as long as the user does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from repohub.domain import access, roles
from repohub.domain.access import Action
from repohub.domain.entities import Membership, Namespace, NamespaceKind, Principal, Role, User
from repohub.domain.errors import Conflict, InvalidInput, NotFound
from repohub.domain.names import validate_namespace_name
from repohub.store.unit import Store

MAX_GRANTS = 100


@dataclass(frozen=True, slots=True)
class NamespaceView:
    """A namespace as its caller sees it: with the caller's effective role and the creator's name."""

    namespace: Namespace
    role: Role
    creator_name: str | None


@dataclass(frozen=True, slots=True)
class NamespaceAccess:
    namespace: Namespace
    creator_name: str | None
    caller: Membership  # a site admin who is not a member shows as admin
    others: list[Membership]


@dataclass(frozen=True, slots=True)
class Grant:
    """A role for a user named by id, by name, or by both (then they must agree)."""

    role: Role
    user_id: int | None = None
    username: str | None = None


async def create_organisation(store: Store, name: str, owner: User | None) -> Namespace:
    """The one way an organisation is made (``NamespaceService.create`` for its caller, the CLI's
    ``AccountService.create_org``): a valid name not taken by any namespace, and its owner, if any,
    as its admin, in one transaction."""
    validate_namespace_name(name)
    taken = f"namespace {name!r} already exists"
    if await store.namespaces.by_name(name) is not None:
        raise Conflict(taken)
    async with store.transaction(conflict=taken):
        namespace = await store.namespaces.add(
            name=name, kind=NamespaceKind.ORG, creator_id=owner.id if owner else None
        )
        if owner is not None:
            await store.namespaces.set_member(namespace.id, owner.id, Role.ADMIN)
    return namespace


async def user_of(store: Store, grant: Grant) -> User:
    """The user a grant names (by id, by name, or by both, which must agree): NotFound if none."""
    if grant.user_id is None and not grant.username:
        raise InvalidInput("each entry needs a user_id or a user_name", field="user_id")
    user = (
        await store.users.get(grant.user_id)
        if grant.user_id is not None
        else await store.users.by_username(grant.username or "")
    )
    label = grant.user_id if grant.user_id is not None else grant.username
    if user is None:
        raise NotFound(f"user {label!r} not found")
    if grant.username and grant.username != user.username:
        raise InvalidInput(
            f"user_id {grant.user_id} belongs to {user.username!r}, not {grant.username!r}",
            field="user_name",
        )
    return user


async def granted_users(store: Store, grants: Sequence[Grant]) -> dict[int, tuple[User, Role]]:
    """The users and roles a list of grants names, by user id: 1 to ``MAX_GRANTS`` entries, each
    user once (a namespace's access list and a repository's are given alike)."""
    if not 1 <= len(grants) <= MAX_GRANTS:
        raise InvalidInput(f"give 1 to {MAX_GRANTS} users", field="body")
    wanted: dict[int, tuple[User, Role]] = {}
    for grant in grants:
        user = await user_of(store, grant)
        if user.id in wanted:
            raise InvalidInput(f"user {user.username!r} is listed more than once", field="body")
        wanted[user.id] = (user, grant.role)
    return wanted


class NamespaceService:
    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self.principal = principal

    # -- helpers --------------------------------------------------------------------------------
    async def _visible(
        self, name: str, action: str, needed: Action = Action.READ
    ) -> tuple[Namespace, User, Role]:
        """The namespace, the caller and its role, which allows ``needed`` (else ``roles.require``'s
        error: a robot account, with no role in any namespace, gets it too)."""
        roles.signed_in(self.principal, action)
        namespace = await self._store.namespaces.by_name(name)
        if namespace is None:
            raise roles.no_namespace(repr(name))
        role = await roles.role_in(self._store, self.principal, namespace)
        role = await roles.require(self._store, self.principal, namespace, role, needed, action)
        return namespace, roles.user_of(self.principal, action), role

    async def _administered(self, name: str, action: str) -> tuple[Namespace, User]:
        namespace, user, _ = await self._visible(name, action, Action.ADMINISTER)
        return namespace, user

    async def _creator_name(self, namespace: Namespace) -> str | None:
        if namespace.creator_id is None:
            return None
        creator = await self._store.users.get(namespace.creator_id)
        return creator.username if creator else None

    # -- namespaces -----------------------------------------------------------------------------
    async def create(self, name: str) -> Namespace:
        """An organisation owned (as admin) by the caller (a user: a robot account owns nothing, 403)."""
        return await create_organisation(
            self._store, name, roles.user_of(self.principal, "create namespaces")
        )

    async def visible(
        self, name: str | None = None, *, after: str | None = None, limit: int | None = None
    ) -> list[NamespaceView]:
        """The namespaces the caller belongs to (all for site admins), by name; ``name`` picks one;
        ``after`` and ``limit`` page them by name. A robot account belongs to none."""
        roles.signed_in(self.principal, "list namespaces")
        user = self.principal.user
        if user is None:
            return []
        member = access.namespace_list_member(user)
        rows = await self._store.namespaces.listing(member_id=member, name=name, after=after, limit=limit)
        # Every row is a namespace the caller belongs to, or any namespace for a site admin
        # (``access.namespace_list_member``): each has an effective role.
        views = []
        for namespace, membership, creator in rows:
            role = access.effective_role(self.principal, membership)
            if role is not None:
                views.append(NamespaceView(namespace, role, creator))
        return views

    async def get(self, name: str) -> NamespaceView:
        namespace, _, role = await self._visible(name, "read namespaces")
        return NamespaceView(namespace, role, await self._creator_name(namespace))

    async def delete(self, name: str) -> None:
        namespace, _ = await self._administered(name, "delete the namespace")
        if namespace.kind is NamespaceKind.USER:
            raise Conflict(f"namespace {name!r} is a user's personal namespace and cannot be deleted")
        if await self._store.repositories.exists_in(namespace.id):
            raise Conflict(f"namespace {name!r} still has repositories; delete them first")
        async with self._store.transaction():
            await self._store.namespaces.delete(namespace.id)

    # -- access ---------------------------------------------------------------------------------
    async def access(self, name: str) -> NamespaceAccess:
        namespace, user, role = await self._visible(name, "read namespace access")
        members = await self._store.namespaces.members(namespace.id)
        caller = next((m for m in members if m.user.id == user.id), None)
        return NamespaceAccess(
            namespace=namespace,
            creator_name=await self._creator_name(namespace),
            caller=caller or Membership(namespace_id=namespace.id, user=user, role=role),
            others=[m for m in members if m.user.id != user.id],
        )

    async def grant(self, name: str, grants: Sequence[Grant], *, change: bool) -> None:
        """Give users access (``change=False``: they must not have any yet) or change their role
        (``change=True``: they must have access already). All or nothing."""
        action = "change access" if change else "grant access"
        namespace, caller = await self._administered(name, action)
        wanted = await granted_users(self._store, grants)
        async with self._store.transaction():
            current = await self._locked_roles(namespace, caller, action)
            for user, _ in wanted.values():
                self._check_access(name, user, has_access=user.id in current, change=change)
            roles = {user_id: role for user_id, (_, role) in wanted.items()}
            self._keep_an_admin(name, {**current, **roles})
            for user_id, role in roles.items():
                await self._store.namespaces.set_member(namespace.id, user_id, role)

    async def revoke(self, name: str, user_ids: Sequence[int]) -> None:
        namespace, caller = await self._administered(name, "remove access")
        if not 1 <= len(user_ids) <= MAX_GRANTS:
            raise InvalidInput(f"give 1 to {MAX_GRANTS} user ids", field="body")
        async with self._store.transaction():
            current = await self._locked_roles(namespace, caller, "remove access")
            for user_id in user_ids:
                if user_id not in current:
                    raise NotFound(f"user {user_id} has no access to namespace {name!r}")
            self._keep_an_admin(name, {k: v for k, v in current.items() if k not in set(user_ids)})
            for user_id in set(user_ids):
                await self._store.namespaces.remove_member(namespace.id, user_id)

    async def _locked_roles(self, namespace: Namespace, caller: User, action: str) -> dict[int, Role]:
        """The namespace's members' roles, read after locking it in the current transaction: two
        admins changing access at once are serialised, and the second decides on what the first
        committed (checked before the lock, the "keeps an admin" rule let two admins demote each
        other). The caller's own admin role is checked again here for the same reason."""
        if not await self._store.namespaces.lock(namespace.id):
            raise roles.no_namespace(repr(namespace.name))
        current = {m.user.id: m.role for m in await self._store.namespaces.members(namespace.id)}
        membership = current.get(caller.id) if access.membership_matters(self.principal) else None
        # Removed or demoted meanwhile: what ``_visible`` would answer now.
        role = access.effective_role(self.principal, membership)
        await roles.require(self._store, self.principal, namespace, role, Action.ADMINISTER, action)
        return current

    @staticmethod
    def _check_access(name: str, user: User, *, has_access: bool, change: bool) -> None:
        """A role is changed for users who have access, given to users who have none yet."""
        if change and not has_access:
            raise NotFound(f"user {user.username!r} has no access to namespace {name!r}")
        if not change and has_access:
            raise Conflict(f"user {user.username!r} already has access to namespace {name!r}")

    @staticmethod
    def _keep_an_admin(name: str, roles: dict[int, Role]) -> None:
        if Role.ADMIN not in roles.values():
            raise Conflict(f"namespace {name!r} must keep at least one admin")
