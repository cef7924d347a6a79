"""Registry sync: make the catalogue's tags match the registry's, after repohub missed events.

Except where an immutable-tag rule protects the catalogue's tag (``domain.immutability.guard``): a
registry that holds it on another digest, or no longer holds it, was reached behind the proxy (which
refuses such pushes and deletes). Sync reports, never "fixes": the catalogue keeps the tag as it was
recorded, nothing is written to the registry, and the report lists each such tag as an immutability
disagreement (``SyncReport.immutable``), every run until someone resolves it (pushes the recorded
image back, or lifts the rule and syncs again). A new tag a rule matches is added as any (its first
push). The rules are read once per namespace per run, and only for namespaces with a tag to move or
remove.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from repohub.domain.access import creatable as _creatable
from repohub.domain.clock import utcnow
from repohub.domain.entities import Namespace, StoredTag
from repohub.domain.errors import DomainError, InvalidInput, UpstreamFailed, UpstreamUnavailable
from repohub.domain.gateway import ManifestInfo, RegistryGateway
from repohub.domain.immutability.guard import Immutability, RuleBook
from repohub.domain.new_repositories import add_repository
from repohub.domain.registry.grants import split_path
from repohub.store.unit import Store

__all__ = ["ImmutableDisagreement", "Sync", "SyncReport"]


@dataclass(frozen=True, slots=True)
class ImmutableDisagreement:
    """A protected tag the registry holds on another digest (``registry``), or not at all (None)."""

    path: str
    tag: str
    rule_id: int
    catalogue: str  # the digest the catalogue recorded, and keeps
    registry: str | None

    def __str__(self) -> str:
        there = f"the registry has {self.registry}" if self.registry else "the registry no longer has it"
        return (
            f"{self.path}:{self.tag} (immutable, rule {self.rule_id}): {there}, "
            f"the catalogue keeps {self.catalogue}"
        )

    def as_json(self) -> dict[str, str | int | None]:
        return {
            "path": self.path,
            "tag": self.tag,
            "rule": self.rule_id,
            "catalogue_digest": self.catalogue,
            "registry_digest": self.registry,
        }


@dataclass(slots=True)
class SyncReport:
    created_repositories: list[str] = field(default_factory=list)
    added_tags: list[str] = field(default_factory=list)
    moved_tags: list[str] = field(default_factory=list)
    removed_tags: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    immutable: list[ImmutableDisagreement] = field(default_factory=list)  # reported, left as they are

    @property
    def changed(self) -> bool:
        return bool(self.created_repositories or self.added_tags or self.moved_tags or self.removed_tags)


@dataclass(frozen=True, slots=True)
class _Target:
    """One registry repository to sync: where it goes in the catalogue and what changes there."""

    path: str
    name: str
    namespace: Namespace
    repository_id: int | None  # None: not in the catalogue yet
    current: dict[str, StoredTag]  # its tags in the catalogue
    changes: list[tuple[str, ManifestInfo]]  # tags to add or move, with their manifests
    gone: list[str]  # tags to remove, sorted


class Sync:
    """The sync use case. Its attributes are set by ``RegistryService`` (which inherits this)."""

    _store: Store
    _gateway: RegistryGateway | None

    def __init__(self, store: Store, gateway: RegistryGateway | None = None) -> None:
        self._store = store
        self._gateway = gateway

    async def sync(self, *, allow_empty: bool = False) -> SyncReport:
        """Make the catalogue's tags match the registry's (after repohub missed events).

        An empty registry catalogue next to a tagged repohub catalogue usually means the wrong
        registry (or a fresh storage volume): pruning every tag then needs ``allow_empty``.
        """
        if self._gateway is None:
            raise InvalidInput("no registry configured: set REPOHUB_REGISTRY_URL")
        gateway = self._gateway
        report = SyncReport()
        rules = _Rules(Immutability(self._store))
        paths = await gateway.repositories()
        if not paths and not allow_empty and await self._store.registry.tagged_repositories():
            raise InvalidInput(
                "the registry lists no repositories but the catalogue has tagged ones; refusing to remove "
                "every tag (check REPOHUB_REGISTRY_URL, or allow it explicitly)"
            )
        for path in paths:
            try:
                await self._sync_repository(gateway, path, report, rules)
            except (UpstreamFailed, UpstreamUnavailable):
                raise
            except DomainError as error:
                report.skipped.append(f"{path}: {error.message}")
        await self._untag_absent(set(paths), report, rules)
        return report

    async def _untag_absent(self, in_registry: set[str], report: SyncReport, rules: _Rules) -> None:
        """Remove the tags of catalogue repositories the registry no longer has (but protected ones)."""
        for repository_id, path in await self._store.registry.tagged_repositories():
            if path in in_registry:
                continue
            stored = await self._store.registry.tags_of(repository_id)
            parts = split_path(path)
            namespace = await self._store.namespaces.by_name(parts[0]) if parts is not None else None
            if namespace is not None and parts is not None:
                kept = await rules.disagreements(namespace.id, path, parts[1], stored, {}, list(stored))
                report.immutable.extend(kept)
                protected = {item.tag for item in kept}
                stored = {name: tag for name, tag in stored.items() if name not in protected}
            if not stored:
                continue
            async with self._store.transaction():
                await self._store.registry.delete_tags(repository_id, list(stored))
                await self._store.registry.update_repository(repository_id, tags_changed=True)
            report.removed_tags.extend(f"{path}:{name}" for name in sorted(stored))

    async def _sync_repository(
        self, gateway: RegistryGateway, path: str, report: SyncReport, rules: _Rules
    ) -> None:
        target = await self._sync_target(gateway, path, report)
        if target is not None and target.repository_id is not None and (target.changes or target.gone):
            target = await rules.keep_protected(target, report)
        if target is not None and (target.changes or target.gone):
            await self._write_sync(target, report)

    async def _sync_target(self, gateway: RegistryGateway, path: str, report: SyncReport) -> _Target | None:
        """What syncing ``path`` changes (None: nothing to do there, skips reported)."""
        parts = split_path(path)
        if parts is None:
            report.skipped.append(f"{path}: no namespace part")
            return None
        tags = await gateway.tags(path)
        namespace = await self._store.namespaces.by_name(parts[0])
        if namespace is None:
            if tags:
                report.skipped.append(f"{path}: namespace {parts[0]!r} does not exist")
            return None
        repository_id = await self._store.registry.repository_id(namespace.id, parts[1])
        if repository_id is None and not tags:
            return None
        current = await self._store.registry.tags_of(repository_id) if repository_id is not None else {}
        changes = await _changed_tags(gateway, path, tags, current)
        gone = sorted(set(current) - set(tags))
        return _Target(path, parts[1], namespace, repository_id, current, changes, gone)

    async def _write_sync(self, target: _Target, report: SyncReport) -> None:
        path, current = target.path, target.current
        now = utcnow()
        async with self._store.transaction(conflict=f"{path} changed during sync; run it again"):
            repository_id = target.repository_id
            if repository_id is None:
                repository_id = await self._create_synced(target, report)
                if repository_id is None:
                    return
            for tag, info in target.changes:
                await self._store.tags.upsert(
                    repository_id,
                    name=tag,
                    digest=info.digest,
                    image_id=info.image_id,
                    media_type=info.media_type,
                    size=info.size,
                    manifest=info.manifest,
                    creator_id=None,
                    at=now,
                )
                (report.moved_tags if tag in current else report.added_tags).append(f"{path}:{tag}")
            if target.gone:
                await self._store.registry.delete_tags(repository_id, target.gone)
                report.removed_tags.extend(f"{path}:{tag}" for tag in target.gone)
            await self._store.registry.update_repository(repository_id, tags_changed=True)

    async def _create_synced(self, target: _Target, report: SyncReport) -> int | None:
        """The new repository's id, within the write's transaction (None: a name the catalogue refuses)."""
        if not _creatable(target.name):
            report.skipped.append(f"{target.path}: not a valid repository name")
            return None
        repository_id = await add_repository(
            self._store, namespace_id=target.namespace.id, name=target.name, creator_id=None
        )
        report.created_repositories.append(target.path)
        return repository_id


async def _changed_tags(
    gateway: RegistryGateway, path: str, tags: list[str], current: dict[str, StoredTag]
) -> list[tuple[str, ManifestInfo]]:
    """The registry's tags of ``path`` the catalogue lacks or holds on another (or incomplete)
    manifest, with their manifests; one the registry no longer resolves is left out."""
    changes: list[tuple[str, ManifestInfo]] = []
    for tag in tags:
        digest = await gateway.tag_digest(path, tag)
        if digest is None or (tag in current and current[tag].digest == digest and current[tag].complete):
            continue
        info = await gateway.manifest_info(path, digest)
        if info is not None:
            changes.append((tag, info))
    return changes


class _Rules:
    """The immutable-tag rules a sync run checks, each namespace's read once (``RuleBook``), and only
    when a tag of it would move or go."""

    def __init__(self, guard: Immutability) -> None:
        self._guard = guard
        self._book = RuleBook()

    async def disagreements(
        self,
        namespace_id: int,
        path: str,
        name: str,
        current: dict[str, StoredTag],
        registry: dict[str, str],
        touched: list[str],
    ) -> list[ImmutableDisagreement]:
        """The ``touched`` tags of ``current`` (those sync would move or remove) a rule protects, with
        the digest the registry has for each (``registry``; absent: none)."""
        if not touched:
            return []
        book = await self._guard.book([namespace_id], self._book)
        protected = book.protected(namespace_id, name, touched)
        return [
            ImmutableDisagreement(path, tag, protected[tag], current[tag].digest, registry.get(tag))
            for tag in sorted(protected)
        ]

    async def keep_protected(self, target: _Target, report: SyncReport) -> _Target:
        """``target`` without the changes to protected tags: those are reported instead."""
        moved = {tag: info.digest for tag, info in target.changes if tag in target.current}
        touched = [tag for tag, digest in moved.items() if digest != target.current[tag].digest]
        found = await self.disagreements(
            target.namespace.id, target.path, target.name, target.current, moved, touched + target.gone
        )
        if not found:
            return target
        report.immutable.extend(found)
        kept = {item.tag for item in found}
        return replace(
            target,
            changes=[(tag, info) for tag, info in target.changes if tag not in kept],
            gone=[tag for tag in target.gone if tag not in kept],
        )
