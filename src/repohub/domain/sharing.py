"""Repositories shared with other namespaces (SWR's "access domains"): share one, read its shares,
change or end one, and list the repositories shared by or with the caller.

The members of the namespace a repository is shared with may read and pull it until the deadline
(``access.repository_role``: a viewer); after it nothing runs, every decision compares the deadline
with its own time. The repository comes from ``CatalogService.repository`` (NotFound for one the
caller may not read); changing its shares needs ``Action.ADMINISTER`` on it, reading them what reading
its grants needs (``access.reads_access_of``): a share names other tenants, which the people of one
access domain have no business learning; they read their own share alone.

What a share may be: ``permit`` "read" (SWR knows no other), a deadline in the future or none
(forever), a description of at most ``MAX_DESCRIPTION`` characters, and an access domain that is an
existing namespace other than the repository's own (NotFound for a name no namespace has, whoever
asks: sharing names another tenant, as SWR's does, so a repository's admins learn which names exist;
InvalidInput for the repository's own namespace). One share per repository and namespace (Conflict).
"""

from __future__ import annotations

from datetime import datetime

from repohub.domain import access, roles
from repohub.domain.access import Action
from repohub.domain.access_records import PERMITS, Share, ShareChanges, SharedQuery
from repohub.domain.catalog import check_paging
from repohub.domain.clock import utcnow
from repohub.domain.entities import Namespace, Page, Principal, Repository, RepositorySummary
from repohub.domain.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from repohub.domain.names import MAX_REFERENCE
from repohub.domain.repository_access import reads_access_of, require_on
from repohub.store.unit import Store

__all__ = ["MAX_DESCRIPTION", "SharingService", "is_live"]

MAX_DESCRIPTION = 1024  # the column's length


def is_live(share: Share, now: datetime) -> bool:
    """Whether the share still reaches its access domain at ``now`` (SWR's ``status``): the policy's
    comparison of its deadline (``access.share_reaches``)."""
    return access.share_reaches(share.expires_at, now)


def _check_share(permit: str, expires_at: datetime | None, description: str | None, now: datetime) -> None:
    if permit not in PERMITS:
        raise InvalidInput(f"permit must be {' or '.join(PERMITS)}, not {permit[:32]!r}", field="permit")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("deadline must be in the future, or 'forever'", field="deadline")
    if description is not None:
        if len(description) > MAX_DESCRIPTION:
            raise InvalidInput(
                f"description is longer than {MAX_DESCRIPTION} characters", field="description"
            )
        if "\x00" in description:  # PostgreSQL cannot store it; refused on SQLite too, so both behave alike
            raise InvalidInput("description may not contain NUL characters", field="description")


class SharingService:
    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self.principal = principal

    async def _domain(self, repository: Repository, name: str) -> Namespace:
        """The namespace ``name`` a share of ``repository`` is with."""
        found = await self._store.namespaces.by_name(name)
        if found is None:
            raise NotFound(f"namespace {name[:64]!r} not found")
        if found.id == repository.namespace_id:
            raise InvalidInput(
                f"a repository is not shared with its own namespace {name!r}", field="access_domain"
            )
        return found

    async def share(
        self,
        repository: Repository,
        access_domain: str,
        *,
        permit: str,
        expires_at: datetime | None,
        description: str = "",
    ) -> None:
        user, _ = await require_on(
            self._store, self.principal, repository, Action.ADMINISTER, "share repositories"
        )
        _check_share(permit, expires_at, description, utcnow())
        domain = await self._domain(repository, access_domain)
        taken = f"repository {repository.path!r} is already shared with {domain.name!r}"
        if await self._store.shares.get(repository.id, domain.id) is not None:
            raise Conflict(taken)
        async with self._store.transaction(conflict=taken):
            await self._store.shares.add(
                repository_id=repository.id,
                namespace_id=domain.id,
                permit=permit,
                expires_at=expires_at,
                description=description,
                creator=user.username,
            )

    async def shares(self, repository: Repository) -> list[Share]:
        """The repository's shares, expired ones included, by access domain."""
        _, role = await require_on(
            self._store, self.principal, repository, Action.READ, "read repository shares"
        )
        if not await reads_access_of(self._store, self.principal, repository, role):
            raise PermissionDenied(f"reading the shares of {repository.path!r} needs a role in its namespace")
        return await self._store.shares.of_repository(repository.id)

    async def share_with(self, repository: Repository, access_domain: str) -> Share:
        """One share: for the repository's admins, and for the people of that access domain (their
        own share). Anyone else is refused alike whether the repository is shared there or not, so
        that no share of another tenant is told of."""
        _, role = await require_on(
            self._store, self.principal, repository, Action.READ, "read repository shares"
        )
        if not await reads_access_of(self._store, self.principal, repository, role):
            domain = await self._store.namespaces.by_name(access_domain)
            if domain is None or await roles.role_in(self._store, self.principal, domain) is None:
                raise PermissionDenied(
                    f"reading the shares of {repository.path!r} needs a role in its namespace"
                )
        return await self._found(repository, access_domain)

    async def _found(self, repository: Repository, access_domain: str) -> Share:
        domain = await self._store.namespaces.by_name(access_domain)
        share = None if domain is None else await self._store.shares.get(repository.id, domain.id)
        if share is None:
            raise _not_shared(repository, access_domain)
        return share

    async def update(self, repository: Repository, access_domain: str, changes: ShareChanges) -> None:
        await require_on(
            self._store, self.principal, repository, Action.ADMINISTER, "change repository shares"
        )
        _check_share(changes.permit, changes.expires_at, changes.description, utcnow())
        share = await self._found(repository, access_domain)
        async with self._store.transaction():
            if not await self._store.shares.update(repository.id, share.access_domain_id, changes):
                raise _not_shared(repository, access_domain)

    async def unshare(self, repository: Repository, access_domain: str) -> None:
        await require_on(self._store, self.principal, repository, Action.ADMINISTER, "end repository shares")
        share = await self._found(repository, access_domain)
        async with self._store.transaction():
            if not await self._store.shares.delete(repository.id, share.access_domain_id):
                raise _not_shared(repository, access_domain)

    async def shared_repositories(self, query: SharedQuery) -> Page[RepositorySummary]:
        """The repositories of the caller's namespaces that are shared (``SharedBy.SELF``; every
        shared one for a site admin) or those shared with a namespace it belongs to, until their
        deadline (``SharedBy.THIRDPARTY``): a subset of what the caller's lists show."""
        roles.signed_in(self.principal, "list shared repositories")
        check_paging(query.offset, query.limit)
        for text, field in ((query.name_contains, "name"), (query.name, "name")):
            if text is not None and len(text) > MAX_REFERENCE:
                raise InvalidInput(f"name filters are at most {MAX_REFERENCE} characters", field=field)
        if self.principal.user is None:  # a robot account: no namespace of its own, no share reaches it
            return Page(items=[], total=0, offset=query.offset, limit=query.limit)
        now = utcnow()
        return await self._store.shares.shared_page(query, access.visibility(self.principal, now), now)


def _not_shared(repository: Repository, access_domain: str) -> NotFound:
    return NotFound(f"repository {repository.path!r} is not shared with {access_domain[:64]!r}")
