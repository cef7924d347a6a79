"""Registry event intake: what a notification envelope changes in the catalogue.

Only manifest events count. Blob events are ignored.

- A tagged ``push`` creates or moves the tag (its creator and created time stay with its first push),
  sets its push time (``updated_at``; a user's re-push of the same digest refreshes it) and counts one
  upload.
- A manifest ``GET`` counts one download for the repository and one pull for the tag it names
  (Distribution sets ``target.tag`` on a pull by tag); a pull by digest only counts one for every tag
  of that repository on the digest. ``HEAD`` existence checks count nothing. A tag's last pull, like
  a repository's, moves forward only (events come out of order).
- ``delete`` by digest removes every tag on that digest, ``delete`` by tag removes that tag.
- repohub's own calls (account ``@repohub``) count neither pulls nor pushes, and are not re-applied
  where repohub changed the catalogue itself: its ``delete`` events change no tag (repohub deletes
  a tag in the catalogue after the registry, and the registry's delete by digest would also take the
  tags repohub puts back on that digest), and its ``push`` of a tag already on that digest (the
  manifest put back under a kept tag) leaves the tag as it was: push time, pull facts, creator. Its
  push of a new tag, or of a tag to another digest (a retag), is applied like any push.
- Webhooks (``domain.webhooks.outbox``): what users did that an envelope applied — a tagged push, a
  pull, a delete the catalogue applied — is written as deliveries to the namespace's hooks in the
  envelope's transaction. repohub's own writes are the catalogue's to announce (``domain.catalog``:
  with the caller who asked for them), so its events announce nothing here.
- A user's push that moves a tag an immutable-tag rule protects, or a user's delete that removes one,
  means the registry was reached behind the proxy: the catalogue keeps the tag as recorded and the
  audit log says what happened (``overwrites``; one statement per envelope that has such events).

Each envelope is applied in one transaction, its event ids recorded first so a redelivery counts
nothing twice. Tag rows are written before repository rows, each in path order; the pulls of many
tags are one batched UPDATE (``RegistryStore.add_tag_pulls``), as are the downloads of pull-only
repositories (``add_downloads``); every other repository's counters and summary change in one UPDATE.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from repohub.domain.access import DELETE, PULL, PUSH, REPOSITORY_ACTIONS
from repohub.domain.access import creatable as _creatable
from repohub.domain.clock import utcnow
from repohub.domain.errors import Conflict, UpstreamFailed, UpstreamUnavailable
from repohub.domain.gateway import INTERNAL_SUBJECT, MANIFEST_MEDIA_TYPES, ManifestInfo, RegistryGateway
from repohub.domain.names import is_tag_name
from repohub.domain.new_repositories import add_repository
from repohub.domain.registry.grants import split_path
from repohub.domain.registry.overwrites import Overwrites, overwrites_of
from repohub.domain.webhooks.outbox import Notice, Resource, enqueue
from repohub.store.memory import Memory
from repohub.store.registry import TagPulls
from repohub.store.unit import Store

__all__ = [
    "EVENT_RETENTION",
    "MANIFEST_MEDIA_TYPES",
    "OTHER",
    "PRUNE_INTERVAL_SECONDS",
    "EnvelopeResult",
    "EventIntake",
    "RegistryEvent",
]

log = logging.getLogger("repohub.registry")

# Event ids are kept this long; the registry gives up retrying far sooner.
EVENT_RETENTION = timedelta(days=7)
PRUNE_INTERVAL_SECONDS = 60.0
OTHER = "other"

Infos = dict[tuple[str, str], ManifestInfo]  # pushed manifests' details, by (repository path, digest)
Actors = dict[str, int]  # pushing users' ids, by user name


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One notification event, reduced to what the catalogue uses."""

    id: str
    action: str
    repository: str
    timestamp: datetime | None = None
    media_type: str | None = None
    digest: str | None = None
    tag: str | None = None
    size: int | None = None
    url: str | None = None
    method: str | None = None
    actor: str | None = None

    @property
    def is_manifest(self) -> bool:
        if self.action == DELETE:
            return True  # delete events carry no media type; a blob digest matches no tag anyway
        if self.media_type in MANIFEST_MEDIA_TYPES:
            return True
        return self.url is not None and "/manifests/" in self.url

    @property
    def by_repohub(self) -> bool:
        return self.actor == INTERNAL_SUBJECT


@dataclass(frozen=True, slots=True)
class EnvelopeResult:
    applied: int
    duplicates: int
    ignored: int
    # Applied events by action: push, pull, delete, or "other" for any other word the registry sends
    # (it is free text on the wire, and a metric label must not take arbitrary values).
    applied_by_action: dict[str, int] = field(default_factory=dict)
    # Events skipped as invalid (among ``ignored``), by reason: "tag".
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


def _admitted(events: Sequence[RegistryEvent], received: datetime) -> tuple[list[RegistryEvent], int]:
    """The events the catalogue may apply, and how many were refused. A tag outside the distribution
    grammar refuses its event only: refusing the envelope would have the registry redeliver it
    forever, holding back every good event in it. A timestamp later than ``received`` is moved to
    it: pushed_at and pulled_at never move back, so one from the future would stick."""
    kept: list[RegistryEvent] = []
    for event in events:
        if event.tag is not None and not is_tag_name(event.tag):
            log.warning("registry event %r skipped: invalid tag %r", event.id, event.tag[:200])
            continue
        if event.timestamp is not None and event.timestamp > received:
            event = replace(event, timestamp=received)
        kept.append(event)
    return kept, len(events) - len(kept)


def _unique_manifests(events: Sequence[RegistryEvent]) -> dict[str, RegistryEvent]:
    """The manifest events by id, each id's first one."""
    unique: dict[str, RegistryEvent] = {}
    for event in events:
        if event.is_manifest:
            unique.setdefault(event.id, event)
    return unique


def _by_repository(events: Sequence[RegistryEvent]) -> dict[str, list[RegistryEvent]]:
    grouped: dict[str, list[RegistryEvent]] = {}
    for event in events:
        grouped.setdefault(event.repository, []).append(event)
    return grouped


def _count_actions(events: Sequence[RegistryEvent]) -> dict[str, int]:
    return Counter(event.action if event.action in REPOSITORY_ACTIONS else OTHER for event in events)


@dataclass(frozen=True, slots=True)
class _Facts:
    """What applying an envelope's pushes and deletes reads before it writes: the manifests, the
    pushers' ids, the protected tags its events would change."""

    infos: Infos
    actors: Actors
    overwrites: Overwrites


@dataclass(slots=True)
class _RepositoryPlan:
    downloads: int = 0
    uploads: int = 0
    pulled_at: datetime | None = None
    pushed_at: datetime | None = None
    tags_changed: bool = False
    # What webhooks are told, in order: (action, tag, digest, who, when).
    happened: list[tuple[str, str | None, str, str, datetime]] = field(default_factory=list)
    # Pulls by (tag name, or None for a pull by digest only; digest): how many, and the last one.
    tag_pulls: dict[tuple[str | None, str], tuple[int, datetime]] = field(default_factory=dict)

    def tag_pull_rows(self, repository_id: int) -> list[TagPulls]:
        return [(repository_id, tag, digest, n, at) for (tag, digest), (n, at) in self.tag_pulls.items()]

    def note(self, action: str, event: RegistryEvent, moment: datetime) -> None:
        who = "repohub" if event.by_repohub else (event.actor or "")
        self.happened.append((action, event.tag, event.digest or "", who, moment))

    def notices(self, parts: tuple[str, str], public: bool) -> list[Notice]:
        return [
            Notice(action, parts[0], parts[1], (Resource(tag, digest),), who, moment, public)
            for action, tag, digest, who, moment in self.happened
        ]


def _count_pull(plan: _RepositoryPlan, event: RegistryEvent, moment: datetime) -> None:
    """A manifest GET by a client is a download, of the tag it names (Distribution sets the tag on a
    pull by tag) or else of every tag on its digest; HEAD checks and repohub's own reads are not."""
    if (event.method or "GET").upper() != "GET" or event.by_repohub:
        return
    plan.downloads += 1
    plan.pulled_at = _later(plan.pulled_at, moment)
    if event.digest is None and event.tag is None:
        return
    plan.note(PULL, event, moment)
    key = (event.tag, event.digest or "")
    count, last = plan.tag_pulls.get(key, (0, moment))
    plan.tag_pulls[key] = (count + 1, _later(last, moment))


def _pull_plan(events: Sequence[RegistryEvent], now: datetime) -> _RepositoryPlan:
    """What a pull-only repository's events count (its rows of the batched statements)."""
    plan = _RepositoryPlan()
    for event in events:
        _count_pull(plan, event, event.timestamp or now)
    return plan


def _pushed_manifest(event: RegistryEvent, digest: str, info: ManifestInfo | None) -> ManifestInfo:
    """What the registry said of a pushed manifest; without its answer, what the event says (the
    manifest's own size only: `repohub registry sync` corrects it)."""
    if info is not None:
        return info
    return ManifestInfo(digest, event.media_type or "", event.size or 0, image_id="", manifest=None)


def _later(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment > current else current


def _prune_due(memory: Memory) -> bool:
    """At most once a minute per database and process (``Memory.next_prune``): ids are kept for
    days, and the DELETE, prepared once and then planned generically by PostgreSQL, scanned the whole
    table each time."""
    now = time.monotonic()
    if now < memory.next_prune:
        return False
    memory.next_prune = now + PRUNE_INTERVAL_SECONDS
    return True


class EventIntake:
    """The events use case. Its attributes are set by ``RegistryService`` (which inherits this)."""

    _store: Store
    _gateway: RegistryGateway | None

    def __init__(self, store: Store, gateway: RegistryGateway | None = None) -> None:
        self._store = store
        self._gateway = gateway

    async def apply_events(self, events: Sequence[RegistryEvent]) -> EnvelopeResult:
        """Apply one envelope, each event once: ids already recorded count as duplicates. A conflict
        with a concurrent envelope (both creating a repository on its first push) is retried once."""
        admitted, rejected = _admitted(events, utcnow())
        try:
            result = await self._apply(admitted)
        except Conflict:
            result = await self._apply(admitted)
        if not rejected:
            return result
        return replace(result, ignored=result.ignored + rejected, rejected_by_reason={"tag": rejected})

    async def _apply(self, events: Sequence[RegistryEvent]) -> EnvelopeResult:
        unique = _unique_manifests(events)
        ignored = len(events) - len(unique)
        if not unique:
            return EnvelopeResult(applied=0, duplicates=0, ignored=ignored)
        infos, actors = await self._push_facts(unique)
        now = utcnow()
        async with self._store.transaction(conflict="these events are being applied by another request"):
            claimed = await self._store.registry.claim_events(list(unique), now)
            fresh = [event for event_id, event in unique.items() if event_id in claimed]
            overwrites = await overwrites_of(self._store, fresh)
            notices = await self._apply_groups(_by_repository(fresh), infos, actors, now, overwrites)
            await enqueue(self._store, notices)
            await self._store.audit.record(overwrites.audit)
            if _prune_due(self._store.memory):
                await self._store.registry.prune_events(now - EVENT_RETENTION)
        return EnvelopeResult(
            applied=len(fresh),
            duplicates=len(unique) - len(fresh),
            ignored=ignored,
            applied_by_action=_count_actions(fresh),
        )

    async def _push_facts(self, unique: dict[str, RegistryEvent]) -> tuple[Infos, Actors]:
        """What the pushes need, read before the transaction: no lock is held while the registry
        answers. Only pushes need manifest details, and only those not applied already."""
        pushes = [event for event in unique.values() if event.action == PUSH]
        infos: Infos = {}
        if pushes:
            seen = await self._store.registry.seen_events(event.id for event in pushes)
            infos = await self._manifest_infos([event for event in pushes if event.id not in seen])
        return infos, await self._actor_ids(pushes)

    async def _apply_groups(
        self,
        by_repository: dict[str, list[RegistryEvent]],
        infos: Infos,
        actors: Actors,
        now: datetime,
        overwrites: Overwrites,
    ) -> list[Notice]:
        """Apply each repository's events; what webhooks are told of them."""
        # One lock order for every envelope: concurrent envelopes touching the same repositories
        # in different orders deadlocked on PostgreSQL (seen under `make bench`, scenario 6). Tag rows
        # first, repository by repository in path order, then the repositories' rows in path order
        # (the catalogue too writes a tag before its repository).
        known = await self._store.registry.repository_ids(
            parts for parts in map(split_path, by_repository) if parts is not None
        )
        # Pull-only repositories (most of a busy envelope) are counted together, in one batched
        # statement for their tags and one for their rows; each batch is flushed before any other
        # repository's, so the lock order stays by path.
        planned: list[tuple[int, _RepositoryPlan, bool]] = []  # (id, plan, pull-only)
        tag_pulls: list[TagPulls] = []
        notices: list[Notice] = []
        for path, group in sorted(by_repository.items()):
            parts = split_path(path)
            found = known.get(parts) if parts is not None else None
            repository_id = found.id if found is not None else None
            pull_only = repository_id is not None and all(event.action == PULL for event in group)
            if repository_id is not None and pull_only:
                plan = _pull_plan(group, now)
            else:
                await self._store.registry.add_tag_pulls(tag_pulls)
                tag_pulls = []
                applied = await self._apply_repository(path, group, infos, actors, now, overwrites)
                if applied is None:
                    continue
                repository_id, plan = applied
            tag_pulls.extend(plan.tag_pull_rows(repository_id))
            planned.append((repository_id, plan, pull_only))
            if parts is not None and (found is None or found.hooked):  # else: no hook to tell
                # A repository the envelope creates is private (``add_repository``).
                notices.extend(plan.notices(parts, found is not None and found.public))
        await self._store.registry.add_tag_pulls(tag_pulls)
        await self._update_repositories(planned)
        return notices

    async def _update_repositories(self, planned: Sequence[tuple[int, _RepositoryPlan, bool]]) -> None:
        """Each repository's counters and summary: pull-only ones in batches, the rest one by one."""
        downloads: list[tuple[int, int, datetime]] = []
        for repository_id, plan, pull_only in planned:
            if pull_only:
                if plan.downloads and plan.pulled_at is not None:
                    downloads.append((repository_id, plan.downloads, plan.pulled_at))
                continue
            await self._store.registry.add_downloads(downloads)
            downloads = []
            await self._store.registry.update_repository(
                repository_id,
                downloads=plan.downloads,
                uploads=plan.uploads,
                pulled_at=plan.pulled_at,
                pushed_at=plan.pushed_at,
                tags_changed=plan.tags_changed,
            )
        await self._store.registry.add_downloads(downloads)

    async def _manifest_infos(self, events: Sequence[RegistryEvent]) -> Infos:
        infos: Infos = {}
        if self._gateway is None:
            return infos
        for event in events:
            if event.action != PUSH or not event.tag or not event.digest:
                continue
            key = (event.repository, event.digest)
            if key in infos:
                continue
            try:
                info = await self._gateway.manifest_info(event.repository, event.digest)
            except (UpstreamFailed, UpstreamUnavailable) as error:
                # The tag is still recorded (manifest size only); `repohub registry sync` corrects it.
                log.warning("cannot read manifest %s@%s: %s", event.repository, event.digest, error.message)
                continue
            if info is not None:
                infos[key] = info
        return infos

    async def _actor_ids(self, events: Sequence[RegistryEvent]) -> Actors:
        ids: Actors = {}
        for name in {event.actor for event in events if event.action == PUSH and event.actor}:
            user = await self._store.users.by_username(name)
            if user is not None:
                ids[name] = user.id
        return ids

    async def _apply_repository(
        self,
        path: str,
        events: list[RegistryEvent],
        infos: Infos,
        actors: Actors,
        now: datetime,
        overwrites: Overwrites,
    ) -> tuple[int, _RepositoryPlan] | None:
        """Apply a repository's tag changes; its id and what its row gets (None: no such repository)."""
        first_push = next((e for e in events if e.action == PUSH and e.tag), None)
        repository_id = await self._repository_id(path, create_for=first_push, actors=actors, now=now)
        if repository_id is None:
            return None
        plan = await self._plan(repository_id, path, events, _Facts(infos, actors, overwrites), now)
        return repository_id, plan

    async def _plan(
        self,
        repository_id: int,
        path: str,
        events: list[RegistryEvent],
        facts: _Facts,
        now: datetime,
    ) -> _RepositoryPlan:
        """Apply each event's tag change, in order; what they add to the repository's row."""
        plan = _RepositoryPlan()
        for event in events:
            moment = event.timestamp or now
            if event.action == PUSH:
                await self._apply_push(repository_id, path, event, moment, plan, facts)
            elif event.action == PULL:
                _count_pull(plan, event, moment)
            elif event.action == DELETE:
                await self._apply_delete(repository_id, path, event, plan, facts.overwrites)
        return plan

    async def _apply_push(
        self,
        repository_id: int,
        path: str,
        event: RegistryEvent,
        moment: datetime,
        plan: _RepositoryPlan,
        facts: _Facts,
    ) -> None:
        """A user's push creates or moves the tag and refreshes its push time, a re-push of the same
        digest too. repohub's own push (a retag, or the manifest put back under a kept tag after a
        delete) creates or moves it alike, but leaves a tag already on that digest as it was. A
        user's push moving a protected tag is not applied (``overwrites``: audited instead)."""
        if not event.tag or not event.digest:
            if not event.by_repohub:
                plan.pushed_at = _later(plan.pushed_at, moment)
            return
        if not event.by_repohub and facts.overwrites.keeps_push(
            path, event.tag, event.digest, event.actor, event.id
        ):
            return
        if not event.by_repohub:
            plan.note(PUSH, event, moment)  # a re-push of the same digest is a push too
        actors = facts.actors
        info = _pushed_manifest(event, event.digest, facts.infos.get((path, event.digest)))
        changed = await self._store.tags.upsert(
            repository_id,
            name=event.tag,
            digest=event.digest,
            image_id=info.image_id,
            media_type=info.media_type,
            size=info.size,
            manifest=info.manifest,
            creator_id=actors.get(event.actor or ""),
            at=moment,
            refresh=not event.by_repohub,
        )
        if not changed:
            return
        plan.tags_changed = True
        plan.pushed_at = _later(plan.pushed_at, moment)
        if not event.by_repohub:
            plan.uploads += 1

    async def _apply_delete(
        self,
        repository_id: int,
        path: str,
        event: RegistryEvent,
        plan: _RepositoryPlan,
        overwrites: Overwrites,
    ) -> None:
        if event.by_repohub:
            # repohub deleted it in the registry and changes the catalogue itself, after the registry:
            # re-applying the delete (by digest) would drop the tags it put back on that digest.
            return
        if event.tag:
            tag = event.tag
            if overwrites.kept_by_delete(path, [tag], event.actor, event.id):
                return  # protected: the catalogue keeps it, the audit log says so
            if not event.digest:  # the hooks are told which image went
                gone = await self._store.tags.get(repository_id, tag)
                event = replace(event, digest=gone.digest if gone is not None else None)
            await self._store.registry.delete_tags(repository_id, [tag])
            plan.tags_changed = True
            plan.note(DELETE, event, event.timestamp or utcnow())
        elif event.digest:
            protected = overwrites.on_digest(path, event.digest)
            kept = overwrites.kept_by_delete(path, protected, event.actor, event.id)
            await self._store.registry.delete_digest(repository_id, event.digest, keep=kept)
            plan.tags_changed = True
            plan.note(DELETE, replace(event, tag=None), event.timestamp or utcnow())

    async def _repository_id(
        self,
        path: str,
        *,
        create_for: RegistryEvent | None,
        actors: Actors,
        now: datetime,
    ) -> int | None:
        """The catalogue's repository for ``path``; a first tagged push creates it (private)."""
        parts = split_path(path)
        if parts is None:
            return None
        namespace = await self._store.namespaces.by_name(parts[0])
        if namespace is None:
            log.warning("registry event for %r: no namespace %r; ignored", path, parts[0])
            return None
        found = await self._store.registry.repository_id(namespace.id, parts[1])
        if found is not None or create_for is None:
            return found
        if not _creatable(parts[1]):
            log.warning("registry event for %r: not a valid repository name; ignored", path)
            return None
        return await add_repository(
            self._store,
            namespace_id=namespace.id,
            name=parts[1],
            creator_id=actors.get(create_for.actor or ""),
        )
