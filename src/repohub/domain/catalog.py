"""Catalogue use cases: namespaces, repositories, tags and stars.

Who may see or do what is decided by the access policy (``domain.access``, whose docstring states
every rule); this module fetches the facts it needs (the caller's membership, whether something in a
namespace is public) and raises what the policy's answer means:

* a private repository the caller may not read is reported as missing (NotFound), so that its
  existence is not revealed; callers who can read but not change it get PermissionDenied;
* a namespace not disclosed to the caller (no role in it, nothing in it the caller may read) answers
  as a namespace that does not exist — showing it, listing it, creating in it, a repository path
  through it — message included; once something in it is public its existence is too, and creating
  there is a plain PermissionDenied. ``NamespaceService`` answers non-members by the same rule.

Whether a tag may be deleted or moved is the immutable-tag rules' (``domain.immutability.guard``):
deletes and retag ask it after the caller's permission (a caller who may not delete learns nothing of
the rules) and before the registry is touched, so a refusal (409) changes nothing anywhere. Deleting
a tag that shares its image with a protected tag is refused too (the registry can only delete the
image, so both tags).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from repohub.domain import access, quotas, roles
from repohub.domain.access import DELETE, PUSH, Action
from repohub.domain.categories import check_category
from repohub.domain.clock import utcnow
from repohub.domain.entities import (
    Creator,
    CreatorFacts,
    Namespace,
    Page,
    Principal,
    Repository,
    RepositorySummary,
    Role,
    Tag,
    Walk,
)
from repohub.domain.errors import Conflict, InvalidInput, NotFound
from repohub.domain.gateway import ManifestInfo, RegistryGateway
from repohub.domain.immutability.guard import Immutability
from repohub.domain.names import MAX_REFERENCE, validate_repository_name, validate_tag_name
from repohub.domain.new_repositories import DEFAULT_CATEGORY, add_repository
from repohub.domain.queries import RepoQuery, RepoWalk, TagQuery, TagWalk
from repohub.domain.webhooks.outbox import Notice, Resource, enqueue
from repohub.store.unit import Store

MAX_DESCRIPTION = 1024
MAX_FULL_DESCRIPTION = 100_000
MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class RepositoryChanges:
    """Fields a client may change; None means "leave as it is"."""

    description: str | None = None
    full_description: str | None = None
    is_public: bool | None = None
    category: str | None = None

    def as_values(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__slots__ if getattr(self, key) is not None}


def _check_text(value: str, limit: int, field: str) -> None:
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    if "\x00" in value:  # PostgreSQL cannot store it; refused on SQLite too, so both behave alike
        raise InvalidInput(f"{field} may not contain NUL characters", field=field)


def _no_repository(label: str) -> NotFound:
    return NotFound(f"repository {label!r} not found")


def check_query(query: RepoQuery) -> None:
    """A repository query's paging, its category and its name filter: no name is longer than Docker's
    reference limit, and a longer LIKE pattern only costs the database (SQLite refuses it as too
    complex)."""
    check_paging(query.offset, query.limit)
    if query.name_contains is not None and len(query.name_contains) > MAX_REFERENCE:
        raise InvalidInput(f"name filters are at most {MAX_REFERENCE} characters", field="name")
    if query.category is not None:  # whichever dialect filtered by it
        check_category(query.category)


def check_paging(offset: int, limit: int, *, max_limit: int = MAX_PAGE) -> None:
    if offset < 0:
        raise InvalidInput("offset must be 0 or more", field="offset")
    if not 1 <= limit <= max_limit:
        raise InvalidInput(f"limit must be between 1 and {max_limit}", field="limit")


def check_walk(after: int, limit: int) -> None:
    if after < 0:
        raise InvalidInput("marker must be 0 or more", field="marker")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")


class CatalogService:
    def __init__(
        self, store: Store, principal: Principal, *, registry: RegistryGateway | None = None
    ) -> None:
        self._store = store
        self.principal = principal
        # When set, deletes remove the images from the registry first: if that fails, nothing changes.
        self._registry = registry
        self._immutability = Immutability(store, registry)

    # -- permissions: the facts fetched here, the rules in ``domain.access`` ---------------------
    async def role_in(self, namespace: Namespace) -> Role | None:
        """The caller's effective role (``roles.role_in``)."""
        return await roles.role_in(self._store, self.principal, namespace)

    def _require_user(self, action: str) -> None:
        roles.signed_in(self.principal, action)

    async def role_on(self, repository: Repository) -> Role | None:
        """The caller's effective role on the repository (``roles.role_on``)."""
        return await roles.role_on(self._store, self.principal, repository)

    async def _require_role(self, namespace: Namespace, needed: Action, action: str) -> Role:
        """A role in the namespace itself (creating in it)."""
        self._require_user(action)
        role = await self.role_in(namespace)
        return await roles.require(self._store, self.principal, namespace, role, needed, action)

    async def _require_on(self, repository: Repository, needed: Action, action: str) -> Role:
        """A role on the repository (changing or deleting it or its tags): its namespace's or its own."""
        return await roles.require_on(self._store, self.principal, repository, needed, action)

    async def _disclose(self, namespace: Namespace, label: str, *, readable: bool | None = None) -> None:
        """``roles.disclose`` for the caller; ``readable`` known true settles it without reading the
        caller's role."""
        if readable:
            return
        role = await self.role_in(namespace)
        await roles.disclose(self._store, self.principal, namespace, role, label, readable=readable)

    async def _readable(self, repository: Repository | None, label: str) -> Repository:
        if repository is not None:
            # A public repository settles it without reading the caller's role.
            role = None if repository.is_public else await self.role_on(repository)
            if access.may_read(role, is_public=repository.is_public):
                return repository
        raise _no_repository(label)

    # -- namespaces -----------------------------------------------------------------------------
    async def namespace(self, name: str) -> Namespace:
        found = await self._store.namespaces.by_name(name)
        if found is None:
            raise roles.no_namespace(repr(name))
        return found

    async def namespace_by_id(self, namespace_id: int) -> Namespace:
        found = await self._store.namespaces.get(namespace_id)
        if found is None:
            raise roles.no_namespace(str(namespace_id))
        return found

    async def shown_namespace_by_id(self, namespace_id: int) -> Namespace:
        """The namespace, if the caller may know of it (module doc); else NotFound, as for a missing one."""
        namespace = await self.namespace_by_id(namespace_id)
        await self._disclose(namespace, str(namespace_id))
        return namespace

    async def creator_facts(self, namespace: Namespace, creators: Iterable[Creator | None]) -> CreatorFacts:
        """What the caller may see of these creators (see ``CreatorFacts``), in one read at most: the
        caller's own membership comes with the creators' roles, so a page costs what it did before.
        A creator's role is its membership only (a site admin who is no member has none)."""
        ids = {creator.id for creator in creators if creator is not None}
        user = self.principal.user
        if not ids:  # nothing to show, nothing to read
            return CreatorFacts(roles={}, insider=False)
        if user is None or not access.membership_matters(self.principal):
            roles = await self._store.namespaces.roles(namespace.id, sorted(ids))
            insider = access.effective_role(self.principal, None) is not None
            return CreatorFacts(roles=roles, insider=insider)
        roles = await self._store.namespaces.roles(namespace.id, sorted(ids | {user.id}))
        insider = access.effective_role(self.principal, roles.get(user.id)) is not None
        return CreatorFacts(roles=roles, insider=insider, caller_id=user.id)

    # -- repositories ---------------------------------------------------------------------------
    async def create_repository(
        self,
        namespace_name: str,
        name: str,
        *,
        description: str = "",
        full_description: str = "",
        is_public: bool = False,
        category: str = DEFAULT_CATEGORY,
    ) -> Repository:
        # Before the lookup: an anonymous caller learns nothing of which namespaces exist.
        self._require_user("create repositories")
        namespace = await self.namespace(namespace_name)
        await self._require_role(namespace, Action.WRITE, "create repositories")
        validate_repository_name(namespace.name, name)
        _check_text(description, MAX_DESCRIPTION, "description")
        _check_text(full_description, MAX_FULL_DESCRIPTION, "full_description")
        check_category(category)
        duplicate = f"repository '{namespace.name}/{name}' already exists"
        if await self._store.repositories.by_name(namespace.id, name) is not None:
            raise Conflict(duplicate)
        creator = self.principal.user
        async with self._store.transaction(conflict=duplicate):
            await quotas.require_room(self._store, namespace.id, namespace.name)
            repository_id = await add_repository(
                self._store,
                namespace_id=namespace.id,
                name=name,
                creator_id=creator.id if creator else None,
                description=description,
                full_description=full_description,
                category=category,
                is_public=is_public,
            )
        return await self._fetch(repository_id)

    async def _fetch(self, repository_id: int) -> Repository:
        repository = await self._store.repositories.get(repository_id)
        if repository is None:
            raise NotFound(f"repository {repository_id} not found")
        return repository

    async def repository(self, namespace_name: str, name: str) -> Repository:
        # One read: a missing namespace answers as a hidden namespace's repository does (module doc).
        found = await self._store.repositories.by_path(namespace_name, name)
        return await self._readable(found, f"{namespace_name}/{name}")

    async def namespaced_repository_by_id(
        self, namespace_id: int, repository_id: int
    ) -> tuple[Namespace, Repository]:
        """The repository ``repository_id`` of namespace ``namespace_id`` and that namespace, in one
        read (a repository's namespace exists: a foreign key); another namespace's repository, or one
        the caller may not read, answers as a missing one."""
        found = await self._store.repositories.get_with_namespace(repository_id)
        if found is None or found[1].namespace_id != namespace_id:
            raise _no_repository(str(repository_id))
        return found[0], await self._readable(found[1], str(repository_id))

    async def list_repositories(self, query: RepoQuery) -> Page[Repository]:
        check_query(query)
        return await self._store.repositories.page(query, access.visibility(self.principal, utcnow()))

    async def namespace_page(self, namespace: Namespace, label: str, query: RepoQuery) -> Page[Repository]:
        """``list_repositories`` of one namespace (``label`` names it as the caller did). A caller
        without a role who may read nothing in it gets NotFound, as for a missing namespace: the page
        tells whether anything is readable, so a page with rows costs no further read."""
        filtered = query.name_contains is not None or query.category is not None
        page = await self.list_repositories(replace(query, namespace=namespace.name))
        if page.total == 0:
            await self._disclose(namespace, label, readable=None if filtered else False)
        return page

    async def namespace_page_by_name(self, name: str, label: str, query: RepoQuery) -> Page[Repository]:
        """``namespace_page`` of the namespace named ``name``: a page with rows shows that it exists
        and is disclosed, so it needs no lookup of its own (one read where there were two, ~100 µs
        of a v1 list page's CPU); an empty one is asked again through ``namespace_page``. A query
        ``check_query`` refuses is refused before the namespace is looked up."""
        if "\x00" not in name:  # no namespace name holds NUL (PostgreSQL refuses to compare with one)
            page = await self.list_repositories(replace(query, namespace=name))
            if page.total:
                return page
        return await self.namespace_page(await self.namespace(name), label, query)

    async def list_repository_summaries(self, query: RepoQuery) -> Page[RepositorySummary]:
        """``list_repositories`` with tag names, as summaries (the columns a list across namespaces shows)."""
        check_query(query)
        return await self._store.repositories.summaries(query, access.visibility(self.principal, utcnow()))

    async def walk_repositories(self, walk: RepoWalk) -> Walk[RepositorySummary]:
        """A keyset page of the repositories ``list_repository_summaries`` would show: those after
        ``walk.after``, by id (SWR v3's marker)."""
        check_walk(walk.after, walk.limit)
        check_query(RepoQuery(name_contains=walk.name_contains, category=walk.category))
        return await self._store.keyset.repositories(walk, access.visibility(self.principal, utcnow()))

    async def update_repository(self, repository: Repository, changes: RepositoryChanges) -> Repository:
        await self._require_on(repository, Action.WRITE, "change repositories")
        if changes.description is not None:
            _check_text(changes.description, MAX_DESCRIPTION, "description")
        if changes.full_description is not None:
            _check_text(changes.full_description, MAX_FULL_DESCRIPTION, "full_description")
        if changes.category is not None:
            check_category(changes.category)
        values = changes.as_values()
        if values:
            async with self._store.transaction():
                await self._store.repositories.update(repository.id, values)
        return await self._fetch(repository.id)

    async def delete_repository(self, repository: Repository) -> None:
        await self._require_on(repository, Action.DELETE, "delete repositories")
        await self._immutability.refuse(repository)  # any protected tag keeps the whole repository
        if self._registry is not None:
            await self._registry.delete_repository(repository.path)
        async with self._store.transaction():
            tags = await self._store.tags.digests(repository.id)  # what the hooks are told went
            await enqueue(self._store, [self._notice(DELETE, repository, tags)])
            if not await self._store.repositories.delete(repository.id):
                raise NotFound(f"repository {repository.path!r} not found")

    # -- stars ----------------------------------------------------------------------------------
    async def is_starred(self, repository: Repository) -> bool:
        user = self.principal.user
        return user is not None and await self._store.repositories.is_starred(repository.id, user.id)

    async def set_star(self, repository: Repository, starred: bool) -> Repository:
        user = roles.user_of(self.principal, "star repositories")
        async with self._store.transaction():
            await self._store.repositories.set_star(repository.id, user.id, starred)
        return await self._fetch(repository.id)

    # -- tags -----------------------------------------------------------------------------------
    async def list_tags(self, repository: Repository, query: TagQuery) -> Page[Tag]:
        check_paging(query.offset, query.limit)
        return await self._store.tags.page(repository.id, query)

    async def walk_tags(self, repository: Repository, walk: TagWalk) -> Walk[Tag]:
        """A keyset page of the repository's tags: those after ``walk.after``, by id."""
        check_walk(walk.after, walk.limit)
        return await self._store.keyset.tags(repository.id, walk)

    async def tag(self, repository: Repository, name: str) -> Tag:
        found = await self._store.tags.get(repository.id, name)
        if found is None:
            raise NotFound(f"tag {name!r} not found in {repository.path!r}")
        return found

    async def require_tag_deletion(self, repository: Repository) -> None:
        """PermissionDenied unless the caller may delete the repository's tags: asked before a page
        offers to confirm a delete, by the rule ``delete_tag`` applies."""
        await self._require_on(repository, Action.DELETE, "delete tags")

    async def delete_tag(self, repository: Repository, name: str) -> None:
        tag = await self.tag(repository, name)
        await self.require_tag_deletion(repository)
        # A tag on the image of a protected one is refused too: the registry deletes the image.
        await self._immutability.refuse(repository, [name], deleting=True)
        if self._registry is not None:
            await self._registry.delete_tag(repository.path, name)
        async with self._store.transaction():
            await self._store.tags.delete(repository.id, [name])
            await enqueue(self._store, [self._notice(DELETE, repository, [(name, tag.digest)])])

    def _notice(self, action: str, repository: Repository, tags: Sequence[tuple[str, str]]) -> Notice:
        """What webhooks are told of the caller's ``action`` on ``tags``: the intake does not tell
        them of repohub's own registry writes (its delete, its retag's push), so the catalogue does
        (``domain.webhooks.outbox``)."""
        user = self.principal.user
        resources = tuple(Resource(name, digest) for name, digest in tags)
        return Notice(
            action,
            repository.namespace,
            repository.name,
            resources,
            user.username if user is not None else "",
            utcnow(),
            repository.is_public,
        )

    async def retag(self, repository: Repository, source: str, destination: str, *, override: bool) -> Tag:
        """Put tag ``source``'s image under ``destination`` too (members and up): in the registry first
        (so a registry that refuses changes nothing), then the catalogue, the destination pushed now.
        An existing destination is moved only when ``override`` is true (else Conflict), and never
        when an immutable-tag rule protects it (TagImmutable, override or not); a new destination a
        rule matches is created (its first push), and is protected from then on."""
        await self._require_on(repository, Action.WRITE, "retag images")
        validate_tag_name(destination, field="destination_tag")
        origin = await self.tag(repository, source)
        taken = f"tag {destination!r} already exists in {repository.path!r}"
        recorded = await self._store.tags.get(repository.id, destination) is not None
        await self._immutability.refuse_overwrite(repository, destination, recorded=recorded)
        if recorded and not override:
            raise Conflict(taken)
        info = _info_of(origin)
        if self._registry is not None:
            found = await self._registry.put_tag(repository.path, source, destination)
            if found is None:
                raise NotFound(f"tag {source!r} not found in the registry's {repository.path!r}")
            info = found
        try:
            await self._put_retagged(repository, destination, info, taken)
        except Conflict:
            # The registry's push event for our own PUT can insert the tag between our UPDATE and
            # INSERT (seen on PostgreSQL): a row on our digest is ours, so write it again; a row on
            # another digest is a concurrent retag that won.
            there = await self._store.tags.get(repository.id, destination)
            if there is None or there.digest != info.digest:
                raise
            await self._put_retagged(repository, destination, info, taken)
        return await self.tag(repository, destination)

    async def _put_retagged(
        self, repository: Repository, destination: str, info: ManifestInfo, taken: str
    ) -> None:
        """The catalogue's half of a retag: the destination on ``info``'s image, pushed now."""
        creator = self.principal.user
        # A concurrent insert of the same name loses on the unique (repository, name): Conflict.
        async with self._store.transaction(conflict=taken):
            await self._store.tags.upsert(
                repository.id,
                name=destination,
                digest=info.digest,
                image_id=info.image_id,
                media_type=info.media_type,
                size=info.size,
                manifest=info.manifest,
                creator_id=creator.id if creator else None,
                at=utcnow(),
            )
            await self._store.tags.refresh_summary(repository.id)
            # The registry's event of our own PUT is repohub's: the catalogue tells the hooks.
            await enqueue(self._store, [self._notice(PUSH, repository, [(destination, info.digest)])])


def _info_of(tag: Tag) -> ManifestInfo:
    """A catalogue tag's image, as the registry would describe it (used when there is no registry)."""
    return ManifestInfo(
        digest=tag.digest,
        media_type=tag.media_type,
        size=tag.size,
        image_id=tag.image_id,
        manifest=tag.manifest,
    )
