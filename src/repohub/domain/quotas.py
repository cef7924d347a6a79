"""Namespace quotas and the tenant's overview: limits an operator sets, usage read from kept counts.

A namespace may have a limit on its repositories (``repohub quotas set``; no row, no limit). It holds
wherever a repository is asked for: a create through any dialect is refused with ``QuotaExceeded``
(``require_room``, inside the create's transaction, the quota row locked so two creates cannot both
take the last place), and the token server grants no ``push`` of a repository that does not exist
yet in a full namespace (``AccessFacts.full``, read with the grant's other facts and decided by
``access.registry_actions``). A repository the registry reports anyway (a push under a token issued
before the namespace filled) is still recorded: the image is in the registry already, and the
catalogue follows the registry.

The overview and the quota list show the namespaces a caller sees in a list of namespaces
(``access.namespace_list_member``: its own, every one to a site admin), each figure a read of the
counts kept by migration 0010's triggers, not a count of rows.
"""

from __future__ import annotations

from repohub.domain import access, roles
from repohub.domain.accounts import project_id_for
from repohub.domain.entities import Principal
from repohub.domain.errors import InvalidInput, NotFound, QuotaExceeded
from repohub.store.counts import REPOSITORY_QUOTA, Drift, QuotaUse, Totals
from repohub.store.unit import Store

__all__ = [
    "NO_LIMIT",
    "REPOSITORY_QUOTA",
    "QuotaService",
    "check_counts",
    "require_room",
    "set_repository_quota",
    "show_quotas",
]

NO_LIMIT = -1  # how a missing limit is written on the command line and in SWR's quota list


async def check_counts(store: Store, *, fix: bool) -> list[Drift]:
    """The kept counts' drift from the rows (``repohub counts check``); with ``fix``, the drift found
    and then repaired: recounted and replaced in one transaction."""
    found = await store.counts.drift()
    if fix and found:
        async with store.transaction():
            await store.counts.fix()
    return found


async def require_room(store: Store, namespace_id: int, namespace: str) -> None:
    """QuotaExceeded when the namespace already holds as many repositories as its limit allows; in
    the create's transaction, before its insert."""
    limit = await store.counts.limit_for_update(namespace_id, REPOSITORY_QUOTA)
    if limit is None:
        return
    used = (await store.counts.of_namespace(namespace_id)).repositories
    if used >= limit:
        raise QuotaExceeded(
            f"namespace {namespace!r} is at its quota of {limit} repositories ({used} exist)",
            field="namespace",
        )


async def set_repository_quota(store: Store, namespace: str, limit: int | None) -> QuotaUse:
    """The operator's ``repohub quotas set``: ``limit`` repositories at most (None or ``NO_LIMIT``:
    none). A limit below the current use is allowed: nothing is deleted, nothing new is created."""
    if limit is not None and limit < NO_LIMIT:
        raise InvalidInput(f"a quota is a count of 0 or more, or {NO_LIMIT} for no limit", field="limit")
    found = await store.namespaces.by_name(namespace)
    if found is None:
        raise roles.no_namespace(repr(namespace))
    async with store.transaction():
        await store.counts.set_limit(found.id, REPOSITORY_QUOTA, None if limit == NO_LIMIT else limit)
    return (await store.counts.repository_quotas(None, found.name))[0]


async def show_quotas(store: Store, namespace: str | None) -> list[QuotaUse]:
    """The operator's ``repohub quotas show``: every namespace's, or one's (NotFound if it does not
    exist)."""
    found = await store.counts.repository_quotas(None, namespace)
    if namespace is not None and not found:
        raise roles.no_namespace(repr(namespace))
    return found


class QuotaService:
    """The caller's reads: the overview of its namespaces and their quotas."""

    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self.principal = principal

    def _member_id(self, action: str) -> int | None:
        """Whose namespaces the caller sees (``access.namespace_list_member``); a robot account,
        which belongs to none, is refused as for any use case only a user can be the subject of."""
        return access.namespace_list_member(roles.user_of(self.principal, action))

    async def overview(self) -> Totals:
        """Namespaces, repositories, tags and bytes over the namespaces the caller sees."""
        return await self._store.counts.totals(self._member_id("read the overview"))

    async def repository_quotas(self, project_id: str, namespace: str | None = None) -> list[QuotaUse]:
        """Each seen namespace's repository limit and use; a project id not the caller's is answered
        as a missing one."""
        member_id = self._member_id("read quotas")
        user = self.principal.user
        if user is None or project_id != project_id_for(user):
            raise NotFound(f"project {project_id!r} not found")
        return await self._store.counts.repository_quotas(member_id, namespace)
