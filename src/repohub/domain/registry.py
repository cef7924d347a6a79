"""The registry's side of the catalogue: who gets which token, what its events change, sync.

Grant rules (the same permission rules every dialect follows):

* ``pull`` — anyone on a public repository; viewers and up of the namespace on any name in it
  (a name that does not exist yet reveals nothing: the registry answers "unknown" anyway).
* ``push`` — members and up, on an existing repository or on a valid new name in their namespace.
  The repository enters the catalogue (private) when its first tagged manifest push event arrives,
  not at grant time, so a push that fails half-way leaves no empty repository behind.
* ``delete`` — namespace admins. ``*`` asks for all three and gets what the caller may have.
* ``registry:catalog:*`` — site admins only. Site admins get everything on every existing namespace.
* Anything else (unknown actions, other resource types, missing namespaces) is left out, as the
  token spec says; an empty grant is still a valid token.

Events: only manifest events count. A tagged ``push`` creates or moves the tag and counts one upload;
a manifest ``GET`` counts one download (``HEAD`` existence checks do not); ``delete`` by digest removes
every tag on that digest, ``delete`` by tag removes that tag. Blob events are ignored. Each envelope
is applied in one transaction, its event ids recorded first so a redelivery counts nothing twice, and
each repository's counters and summary change in one UPDATE. repohub's own calls (account
``@repohub``: sync, deletes) change tags but count neither pulls nor pushes.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from repohub.auth.registry_token import Scope, merge_scopes
from repohub.domain.accounts import AccountService
from repohub.domain.entities import IssuedToken, Principal, Role
from repohub.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    UpstreamFailed,
    UpstreamUnavailable,
)
from repohub.domain.gateway import INTERNAL_SUBJECT, ManifestInfo, RegistryGateway
from repohub.domain.grant_facts import GrantFacts
from repohub.domain.names import is_tag_name, validate_repository_name
from repohub.store.registry import AccessFacts
from repohub.store.tables import utcnow
from repohub.store.unit import Store

log = logging.getLogger("repohub.registry")

PULL, PUSH, DELETE = "pull", "push", "delete"
# Distinct scopes one token request may ask for. Docker and skopeo ask for one to three; each scope
# is a lookup and a line of the signed token (800 scopes made a 133 KB token in 81 ms).
MAX_SCOPES = 32
REPOSITORY_ACTIONS = (PULL, PUSH, DELETE)
# A docker-login credential (SWR's temporary login command) lives this long, as on Huawei Cloud.
DOCKER_LOGIN_VALIDITY = timedelta(hours=24)
# Event ids are kept this long; the registry gives up retrying far sooner.
EVENT_RETENTION = timedelta(days=7)
PRUNE_INTERVAL_SECONDS = 60.0
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)


def split_path(path: str) -> tuple[str, str] | None:
    """``namespace/name`` of a registry path; None when it has no namespace part."""
    namespace, sep, name = path.partition("/")
    if not sep or not namespace or not name:
        return None
    return namespace, name


def allowed_actions(
    principal: Principal, facts: AccessFacts, name: str, requested: Sequence[str]
) -> list[str]:
    """The subset of ``requested`` the caller gets on ``facts``' repository (pure: tested directly)."""
    role = Role.ADMIN if principal.is_admin else facts.role
    may: set[str] = set()
    if facts.repository_id is not None and facts.is_public:
        may.add(PULL)
    if role is not None:
        may.add(PULL)
        if role.at_least(Role.MEMBER) and (facts.repository_id is not None or _creatable(name)):
            may.add(PUSH)
        if role.at_least(Role.ADMIN):
            may.add(DELETE)
    if "*" in requested:
        return ["*"] if may == set(REPOSITORY_ACTIONS) else [a for a in REPOSITORY_ACTIONS if a in may]
    return [action for action in requested if action in may]


async def docker_login(accounts: AccountService, principal: Principal) -> tuple[IssuedToken, datetime]:
    """A short-lived API token for ``docker login -u <user> -p <token>`` and when it expires: the token
    service takes it as the Basic password, and the grants are the caller's own. It is derived from
    the caller's token or access key (``AccountService.derive_token``)."""
    if principal.user is None or principal.credential is None:
        raise NotAuthenticated("an API token or an access key is required for a docker login credential")
    return await accounts.derive_token(
        principal.credential,
        lifetime=DOCKER_LOGIN_VALIDITY,
        description="docker login",
        origin="docker-login",
    )


def _repository_path(scope: Scope) -> tuple[str, str] | None:
    return split_path(scope.name) if scope.type == "repository" else None


def _granted(
    principal: Principal,
    scope: Scope,
    path: tuple[str, str] | None,
    facts: Mapping[tuple[str, str], AccessFacts],
) -> Scope | None:
    """What of one scope the caller gets (None: nothing); ``path``: a repository scope's."""
    if scope.type == "registry" and scope.name == "catalog":
        return scope if principal.is_admin and scope.actions else None
    found = facts.get(path) if path is not None else None
    if path is None or found is None:
        return None
    actions = allowed_actions(principal, found, path[1], scope.actions)
    return Scope(scope.type, scope.name, tuple(actions)) if actions else None


def _creatable(name: str) -> bool:
    try:
        validate_repository_name("x", name)
    except InvalidInput:
        return False
    return True


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


OTHER = "other"


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


def _count_actions(events: Sequence[RegistryEvent]) -> dict[str, int]:
    return Counter(event.action if event.action in REPOSITORY_ACTIONS else OTHER for event in events)


@dataclass(slots=True)
class _RepositoryPlan:
    downloads: int = 0
    uploads: int = 0
    pulled_at: datetime | None = None
    pushed_at: datetime | None = None
    tags_changed: bool = False


def _count_pull(plan: _RepositoryPlan, event: RegistryEvent, moment: datetime) -> None:
    """A manifest GET by a client is a download; HEAD checks and repohub's own reads are not."""
    if (event.method or "GET").upper() == "GET" and not event.by_repohub:
        plan.downloads += 1
        plan.pulled_at = _later(plan.pulled_at, moment)


def _pulls(events: Sequence[RegistryEvent], now: datetime) -> _RepositoryPlan:
    plan = _RepositoryPlan()
    for event in events:
        _count_pull(plan, event, event.timestamp or now)
    return plan


@dataclass(slots=True)
class SyncReport:
    created_repositories: list[str] = field(default_factory=list)
    added_tags: list[str] = field(default_factory=list)
    moved_tags: list[str] = field(default_factory=list)
    removed_tags: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created_repositories or self.added_tags or self.moved_tags or self.removed_tags)


_next_prune = 0.0  # monotonic time after which this process prunes old event ids again


def _prune_due() -> bool:
    """At most once a minute per process: ids are kept for days, and the DELETE, prepared once and
    then planned generically by PostgreSQL, scanned the whole table each time."""
    global _next_prune
    now = time.monotonic()
    if now < _next_prune:
        return False
    _next_prune = now + PRUNE_INTERVAL_SECONDS
    return True


def _later(current: datetime | None, moment: datetime) -> datetime:
    return moment if current is None or moment > current else current


class RegistryService:
    def __init__(
        self, store: Store, gateway: RegistryGateway | None = None, grant_facts: GrantFacts | None = None
    ) -> None:
        self._store = store
        self._gateway = gateway
        self._grant_facts = grant_facts  # the serving process's memo; None: always ask the store

    # -- tokens ---------------------------------------------------------------------------------
    async def grant(self, principal: Principal, scopes: Sequence[Scope]) -> list[Scope]:
        """What of ``scopes`` the caller gets; ungranted actions and scopes are simply absent.
        A resource asked for more than once is granted once; more than ``MAX_SCOPES`` distinct
        ones are refused as a whole."""
        if len(scopes) > 1:
            scopes = merge_scopes(scopes)
            if len(scopes) > MAX_SCOPES:
                raise InvalidInput(
                    f"ask for at most {MAX_SCOPES} distinct scopes at a time, not {len(scopes)}",
                    field="scope",
                )
        user_id = principal.user.id if principal.user else None
        wanted = [(scope, _repository_path(scope)) for scope in scopes]
        paths = [path for _, path in wanted if path is not None]
        facts = await self._access_facts(paths, user_id) if paths else {}
        granted = [
            kept for scope, path in wanted if (kept := _granted(principal, scope, path, facts)) is not None
        ]
        return granted

    async def _access_facts(
        self, paths: list[tuple[str, str]], user_id: int | None
    ) -> dict[tuple[str, str], AccessFacts]:
        """The facts of each path (left out: paths whose namespace does not exist): remembered ones,
        and the others read together, in one query."""
        memo = self._grant_facts
        commits = Store.commits
        found: dict[tuple[str, str], AccessFacts] = {}
        missing = paths
        if memo is not None:
            missing = []
            for path in paths:
                remembered = await self._remembered(memo, path, user_id, commits)
                if remembered is None:
                    missing.append(path)
                else:
                    found[path] = remembered
        if not missing:
            return found
        loaded = await self._read_facts(missing, user_id)
        if memo is not None:  # an unknown namespace is asked again: it may be created any moment
            for path, facts in loaded.items():
                memo.facts.put((*path, user_id), commits, facts)
        found.update(loaded)
        return found

    async def _remembered(
        self, memo: GrantFacts, path: tuple[str, str], user_id: int | None, commits: int
    ) -> AccessFacts | None:
        namespace, name = path
        # A caller with a role in the namespace gets what the role allows on any repository there
        # whose name could be created, whether it exists yet or not: one read of the caller's roles
        # answers a whole push into its namespaces. Outsiders' pulls rest on each repository.
        if user_id is not None and _creatable(name):
            roles = await memo.roles.get_or_load(
                user_id, commits, partial(self._store.registry.member_roles, user_id)
            )
            in_namespace = roles.get(namespace)
            if in_namespace is not None:
                return in_namespace
        return memo.facts.get((namespace, name, user_id), commits)

    async def _read_facts(
        self, paths: list[tuple[str, str]], user_id: int | None
    ) -> dict[tuple[str, str], AccessFacts]:
        if len(paths) > 1:
            return await self._store.registry.access_facts_of(paths, user_id)
        # One path, the usual docker request: its own prepared statement, the fastest read there is.
        facts = await self._store.registry.access_facts(*paths[0], user_id)
        return {paths[0]: facts} if facts is not None else {}

    # -- events ---------------------------------------------------------------------------------
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
        unique: dict[str, RegistryEvent] = {}
        for event in events:
            if event.is_manifest:
                unique.setdefault(event.id, event)
        ignored = len(events) - len(unique)
        if not unique:
            return EnvelopeResult(applied=0, duplicates=0, ignored=ignored)
        # Ask the registry for the sizes of pushed manifests before the transaction: no lock is held
        # while it answers. Only pushes need it, and only those not applied already.
        pushes = [event for event in unique.values() if event.action == PUSH]
        infos: dict[tuple[str, str], ManifestInfo] = {}
        if pushes:
            seen = await self._store.registry.seen_events(event.id for event in pushes)
            infos = await self._manifest_infos([event for event in pushes if event.id not in seen])
        actors = await self._actor_ids(pushes)
        now = utcnow()
        async with self._store.transaction(conflict="these events are being applied by another request"):
            claimed = await self._store.registry.claim_events(list(unique), now)
            fresh = [event for event_id, event in unique.items() if event_id in claimed]
            by_repository: dict[str, list[RegistryEvent]] = {}
            for event in fresh:
                by_repository.setdefault(event.repository, []).append(event)
            # One lock order for every envelope: concurrent envelopes touching the same repositories
            # in different orders deadlocked on PostgreSQL (seen under `make bench`, scenario 6).
            known = await self._store.registry.repository_ids(
                parts for parts in map(split_path, by_repository) if parts is not None
            )
            # Pull-only repositories (most of a busy envelope) are counted together in one batched
            # statement; it is flushed before any other repository, so the lock order stays by path.
            downloads: list[tuple[int, int, datetime]] = []
            for path, group in sorted(by_repository.items()):
                parts = split_path(path)
                repository_id = known.get(parts) if parts is not None else None
                if repository_id is not None and all(event.action == PULL for event in group):
                    plan = _pulls(group, now)
                    if plan.downloads and plan.pulled_at is not None:
                        downloads.append((repository_id, plan.downloads, plan.pulled_at))
                    continue
                await self._store.registry.add_downloads(downloads)
                downloads = []
                await self._apply_repository(path, group, infos, actors, now)
            await self._store.registry.add_downloads(downloads)
            if _prune_due():
                await self._store.registry.prune_events(now - EVENT_RETENTION)
        return EnvelopeResult(
            applied=len(fresh),
            duplicates=len(unique) - len(fresh),
            ignored=ignored,
            applied_by_action=_count_actions(fresh),
        )

    async def _manifest_infos(self, events: Sequence[RegistryEvent]) -> dict[tuple[str, str], ManifestInfo]:
        infos: dict[tuple[str, str], ManifestInfo] = {}
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

    async def _actor_ids(self, events: Sequence[RegistryEvent]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for name in {event.actor for event in events if event.action == PUSH and event.actor}:
            user = await self._store.users.by_username(name)
            if user is not None:
                ids[name] = user.id
        return ids

    async def _apply_repository(
        self,
        path: str,
        events: list[RegistryEvent],
        infos: dict[tuple[str, str], ManifestInfo],
        actors: dict[str, int],
        now: datetime,
    ) -> None:
        first_push = next((e for e in events if e.action == PUSH and e.tag), None)
        repository_id = await self._repository_id(path, create_for=first_push, actors=actors, now=now)
        if repository_id is None:
            return
        plan = _RepositoryPlan()
        for event in events:
            moment = event.timestamp or now
            if event.action == PUSH:
                plan.pushed_at = _later(plan.pushed_at, moment)
                if event.tag and event.digest:
                    info = infos.get((path, event.digest))
                    await self._store.tags.upsert(
                        repository_id,
                        name=event.tag,
                        digest=event.digest,
                        image_id=info.image_id if info else "",
                        media_type=info.media_type if info else (event.media_type or ""),
                        size=info.size if info else (event.size or 0),
                        manifest=info.manifest if info else None,
                        creator_id=actors.get(event.actor or ""),
                        at=moment,
                    )
                    plan.tags_changed = True
                    if not event.by_repohub:
                        plan.uploads += 1
            elif event.action == PULL:
                _count_pull(plan, event, moment)
            elif event.action == DELETE:
                if event.tag:
                    await self._store.registry.delete_tags(repository_id, [event.tag])
                    plan.tags_changed = True
                elif event.digest:
                    await self._store.registry.delete_digest(repository_id, event.digest)
                    plan.tags_changed = True
        if plan.pushed_at is not None and events and all(e.by_repohub for e in events):
            plan.pushed_at = None  # repohub re-tagging after a delete is not a user's push
        await self._store.registry.update_repository(
            repository_id,
            downloads=plan.downloads,
            uploads=plan.uploads,
            pulled_at=plan.pulled_at,
            pushed_at=plan.pushed_at,
            tags_changed=plan.tags_changed,
        )

    async def _repository_id(
        self,
        path: str,
        *,
        create_for: RegistryEvent | None,
        actors: dict[str, int],
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
        return await self._store.repositories.add(
            namespace_id=namespace.id,
            name=parts[1],
            description="",
            full_description="",
            category="other",
            is_public=False,
            creator_id=actors.get(create_for.actor or ""),
        )

    # -- sync -----------------------------------------------------------------------------------
    async def sync(self, *, allow_empty: bool = False) -> SyncReport:
        """Make the catalogue's tags match the registry's (after repohub missed events).

        An empty registry catalogue next to a tagged repohub catalogue usually means the wrong
        registry (or a fresh storage volume): pruning every tag then needs ``allow_empty``.
        """
        if self._gateway is None:
            raise InvalidInput("no registry configured: set REPOHUB_REGISTRY_URL")
        gateway = self._gateway
        report = SyncReport()
        paths = await gateway.repositories()
        if not paths and not allow_empty and await self._store.registry.tagged_repositories():
            raise InvalidInput(
                "the registry lists no repositories but the catalogue has tagged ones; refusing to remove "
                "every tag (check REPOHUB_REGISTRY_URL, or allow it explicitly)"
            )
        for path in paths:
            try:
                await self._sync_repository(gateway, path, report)
            except (UpstreamFailed, UpstreamUnavailable):
                raise
            except DomainError as error:
                report.skipped.append(f"{path}: {error.message}")
        in_registry = set(paths)
        for repository_id, path in await self._store.registry.tagged_repositories():
            if path in in_registry:
                continue
            stored = await self._store.registry.tags_of(repository_id)
            async with self._store.transaction():
                await self._store.registry.delete_tags(repository_id, list(stored))
                await self._store.registry.update_repository(repository_id, tags_changed=True)
            report.removed_tags.extend(f"{path}:{name}" for name in sorted(stored))
        return report

    async def _sync_repository(self, gateway: RegistryGateway, path: str, report: SyncReport) -> None:
        parts = split_path(path)
        if parts is None:
            report.skipped.append(f"{path}: no namespace part")
            return
        tags = await gateway.tags(path)
        namespace = await self._store.namespaces.by_name(parts[0])
        if namespace is None:
            if tags:
                report.skipped.append(f"{path}: namespace {parts[0]!r} does not exist")
            return
        repository_id = await self._store.registry.repository_id(namespace.id, parts[1])
        if repository_id is None and not tags:
            return
        current = await self._store.registry.tags_of(repository_id) if repository_id is not None else {}
        changes: list[tuple[str, ManifestInfo]] = []
        for tag in tags:
            digest = await gateway.tag_digest(path, tag)
            if digest is None or (tag in current and current[tag].digest == digest and current[tag].complete):
                continue
            info = await gateway.manifest_info(path, digest)
            if info is not None:
                changes.append((tag, info))
        gone = sorted(set(current) - set(tags))
        if not changes and not gone:
            return
        now = utcnow()
        async with self._store.transaction(conflict=f"{path} changed during sync; run it again"):
            if repository_id is None:
                if not _creatable(parts[1]):
                    report.skipped.append(f"{path}: not a valid repository name")
                    return
                repository_id = await self._store.repositories.add(
                    namespace_id=namespace.id,
                    name=parts[1],
                    description="",
                    full_description="",
                    category="other",
                    is_public=False,
                    creator_id=None,
                )
                report.created_repositories.append(path)
            for tag, info in changes:
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
            if gone:
                await self._store.registry.delete_tags(repository_id, gone)
                report.removed_tags.extend(f"{path}:{tag}" for tag in gone)
            await self._store.registry.update_repository(repository_id, tags_changed=True)
