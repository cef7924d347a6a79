"""A retention run: every policy (or a namespace's, or one repository's) applied now.

Policies are read a page at a time (``RetentionStore.due``, keyset by id). For each page the runner
first decides, from the policy and the repository's tag count alone, which repositories can have
anything to delete: a ``tag_rule`` keeping N of a repository with N tags or fewer deletes nothing,
and a ``date_rule`` only ever looks at tags pushed before its cut-off. The tags of the rest of the
page are then read in ONE statement (``tag_facts``, each repository's window), so a run over 1,000
repositories with nothing to delete costs one statement per page of policies (tag rules) or two
(date rules), never one per repository or per tag (``tests/domain/test_retention_runner.py`` counts
them).

A repository with doomed tags is changed as a dialect deletes a tag: the registry first
(``delete_tags``: a digest a kept tag shares stays for it; a tag re-pushed since is skipped), the
catalogue second, in one transaction with the log (``retention_log``), deleting exactly the tags the
registry reports gone. If the registry is down or refuses, that repository is reported with the error
and nothing of it changes in the catalogue; the run goes on with the next one, and the next run tries
again (the registry's "already absent" counts as deleted, so a half-finished registry delete is
completed then). Without a registry (none configured) the catalogue alone changes. A dry run reads
and reports, and writes nothing anywhere.

Immutable tags (Harbor's way): the policy chooses first, counting a protected tag among the N it keeps
as any other; then the chosen tags an immutable-tag rule protects, and those sharing their image with a
protected tag (deleting them would delete it in the registry), are kept (``domain.immutability.guard``),
in the registry and the catalogue, and logged with ``outcome="kept"`` and the rule's id, so the
history says why they are still there: once per tag and rule (``RetentionStore.record``), not on every
run. The rules are read once per namespace per page, so a rule created during a run holds from the
next page on, and only for namespaces where a policy chose something; the tags sharing the chosen
tags' images in one statement per page, only in namespaces with an enabled rule.

Writes are audited like any (``store.audit``): whoever starts a run sets the actor (the scheduler and
``repohub retention run`` say "retention").
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from repohub.domain.access import DELETE
from repohub.domain.clock import utcnow
from repohub.domain.entities import DueRetention, TagFacts, kept_reason
from repohub.domain.errors import UpstreamFailed, UpstreamUnavailable
from repohub.domain.gateway import RegistryGateway
from repohub.domain.immutability.guard import Deletion, Immutability, Protection
from repohub.domain.retention.rules import Doomed, Policy, Template, doomed
from repohub.domain.webhooks.outbox import Notice, Resource, enqueue
from repohub.observability import metrics
from repohub.store.unit import Store

__all__ = ["PAGE", "DeletedTag", "KeptTag", "RepositoryReport", "RetentionRunner", "RunReport", "window_of"]

log = logging.getLogger("repohub.retention")

# Policies per page: one statement reads them, one their tags. 100 keeps the tag statement's OR of
# windows small for the planner while 1,000 repositories cost ten pages.
PAGE = 100
OPERATOR = "retention"  # who webhooks say deleted what a run deleted


@dataclass(frozen=True, slots=True)
class DeletedTag:
    name: str
    digest: str
    rule: str  # the rule's template: "tag_rule" or "date_rule"


@dataclass(frozen=True, slots=True)
class KeptTag:
    """A tag the policy chose that an immutable-tag rule protects: left in place."""

    name: str
    digest: str
    rule: str  # the retention rule's template that chose it
    immutable_rule: int  # the id of the immutable-tag rule that kept it
    shares: str | None = None  # the protected tag on its image (None: itself protected)

    @property
    def reason(self) -> str:
        return kept_reason(self.immutable_rule, self.shares)


@dataclass(slots=True)
class RepositoryReport:
    """One repository a run had something to delete in."""

    path: str
    deleted: list[DeletedTag] = field(default_factory=list)  # deleted (dry run: would be)
    skipped: list[str] = field(default_factory=list)  # the registry's tag moved since: left alone
    kept: list[KeptTag] = field(default_factory=list)  # chosen, but immutable: left in place
    error: str | None = None  # the registry refused or is down: nothing of it deleted

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "deleted": [{"tag": t.name, "digest": t.digest, "rule": t.rule} for t in self.deleted],
            "skipped": list(self.skipped),
            "kept": [
                {
                    "tag": t.name,
                    "digest": t.digest,
                    "rule": t.rule,
                    "immutable_rule": t.immutable_rule,
                    "shares": t.shares,  # the protected tag on its image; None: itself protected
                }
                for t in self.kept
            ],
            "error": self.error,
        }


@dataclass(slots=True)
class RunReport:
    dry_run: bool
    policies: int = 0  # policies applied
    repositories: list[RepositoryReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def deleted(self) -> int:
        return sum(len(item.deleted) for item in self.repositories)

    @property
    def kept(self) -> int:
        return sum(len(item.kept) for item in self.repositories)

    @property
    def failed(self) -> list[RepositoryReport]:
        return [item for item in self.repositories if item.error is not None]

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "policies": self.policies,
            "deleted": self.deleted,
            "kept": self.kept,
            "failed": len(self.failed),
            "seconds": round(self.seconds, 3),
            "repositories": [item.as_json() for item in self.repositories],
        }


def window_of(policy: Policy, tag_count: int, now: datetime) -> tuple[bool, datetime | None]:
    """Whether the repository's tags must be read at all, and if so which: all of them (None), or
    only those pushed before a time. Decided without reading a tag."""
    cut_offs: list[datetime] = []
    for rule in policy.rules:
        if rule.template is Template.TAG:
            if tag_count > rule.count:
                return True, None  # some tag beyond the N newest may go: all are needed to rank
        else:
            cut_offs.append(now - timedelta(days=rule.count))
    if not cut_offs or tag_count == 0:
        return False, None
    return True, max(cut_offs)  # "or": a tag older than any cut-off goes, i.e. older than the latest


class RetentionRunner:
    def __init__(self, store: Store, registry: RegistryGateway | None, *, page: int = PAGE) -> None:
        self._store = store
        self._registry = registry
        self._page = page
        self._immutability = Immutability(store)

    async def run(
        self,
        *,
        namespace: str | None = None,
        repository: str | None = None,
        dry_run: bool = False,
        now: datetime | None = None,
    ) -> RunReport:
        """Apply the policies (of ``namespace``, of its ``repository``) as of ``now`` (default: now)."""
        started = time.perf_counter()
        now = now or utcnow()
        report = RunReport(dry_run=dry_run)
        after, more = 0, True
        while more:
            # One policy beyond the page says whether another page follows, so a run ends without
            # an empty page's statement (1,000 policies: ten statements, not eleven).
            found = await self._store.retentions.due(
                after, self._page + 1, namespace=namespace, repository=repository
            )
            more, page = len(found) > self._page, found[: self._page]
            if not page:
                break
            report.policies += len(page)
            for due, chosen, kept in await self._decided(page, now):
                report.repositories.append(await self._apply(due, chosen, kept, dry_run=dry_run))
            after = page[-1].retention.id
        report.seconds = time.perf_counter() - started
        if not dry_run:
            metrics.RETENTION_DELETED.inc(report.deleted)
        return report

    async def _doomed_in(
        self, page: Sequence[DueRetention], now: datetime
    ) -> list[tuple[DueRetention, list[Doomed]]]:
        """The page's repositories with tags to delete, and those tags: one statement for all."""
        candidates: list[tuple[DueRetention, Policy]] = []
        windows: list[tuple[int, datetime | None]] = []
        for due in page:
            policy = Policy.from_json(due.retention.algorithm, due.retention.rules)
            needed, before = window_of(policy, due.tag_count, now)
            if needed:
                candidates.append((due, policy))
                windows.append((due.retention.repository_id, before))
        if not candidates:
            return []
        tags: dict[int, list[TagFacts]] = await self._store.retentions.tag_facts(windows)
        found = []
        for due, policy in candidates:
            # Off the event loop: clients' patterns are bounded (``patterns``), but a slow one must
            # not stall the requests this process serves meanwhile.
            chosen = await asyncio.to_thread(doomed, policy, tags.get(due.retention.repository_id, []), now)
            if chosen:
                found.append((due, chosen))
        return found

    async def _decided(
        self, page: Sequence[DueRetention], now: datetime
    ) -> list[tuple[DueRetention, list[Doomed], list[KeptTag]]]:
        """The page's repositories with tags the policy chose, and which of those immutable-tag rules
        keep (``Immutability.undeletable``: the rules read now, once per namespace, so a rule created
        during the run holds from this page on)."""
        chosen_in = await self._doomed_in(page, now)
        guarded = [(due, chosen) for due, chosen in chosen_in if due.namespace_id is not None]
        found = await self._immutability.undeletable([_deletion(due, chosen) for due, chosen in guarded])
        kept = {
            due.retention.id: _kept(chosen, protections)
            for (due, chosen), protections in zip(guarded, found, strict=True)
        }
        return [(due, chosen, kept.get(due.retention.id, [])) for due, chosen in chosen_in]

    async def _apply(
        self, due: DueRetention, chosen: list[Doomed], kept: list[KeptTag], *, dry_run: bool
    ) -> RepositoryReport:
        """Delete ``chosen`` but the ``kept`` (immutable) ones, registry first; log both."""
        report = RepositoryReport(due.path, kept=kept)
        protected = {item.name for item in kept}
        chosen = [item for item in chosen if item.name not in protected]
        if dry_run:
            report.deleted = [DeletedTag(item.name, item.digest, item.rule_type) for item in chosen]
            return report
        going = await self._deleted_in_registry(due, chosen, report) if chosen else []
        if going is None:
            return report
        if not going:  # nothing to delete in the catalogue: the log says which tags were kept, if any
            await self._record_kept(due, kept)
            return report
        async with self._store.transaction():
            # By digest: a tag re-pushed after the registry's delete (its event applied meanwhile)
            # points elsewhere now and is kept, as the registry keeps it.
            unmoved = set(
                await self._store.tags.delete_unmoved(
                    due.retention.repository_id, {item.name: item.digest for item in going}
                )
            )
            deleted = [item for item in going if item.name in unmoved]
            if deleted:  # retention's deletions are events too: the hooks hear of them
                await enqueue(self._store, [_notice(due, deleted)])
            await self._store.retentions.record(
                due.retention.id,
                due,
                [(item.name, item.rule_type) for item in deleted],
                [(item.name, item.rule, item.immutable_rule) for item in kept],
            )
        report.skipped = sorted({*report.skipped, *(item.name for item in going if item.name not in unmoved)})
        report.deleted = [DeletedTag(item.name, item.digest, item.rule_type) for item in deleted]
        return report

    async def _deleted_in_registry(
        self, due: DueRetention, chosen: list[Doomed], report: RepositoryReport
    ) -> list[Doomed] | None:
        """The chosen tags the registry deleted (all of them without a registry); None when it
        failed (``report.error`` says how), the tags it skipped in ``report.skipped``."""
        if self._registry is None:
            return chosen
        try:
            deletion = await self._registry.delete_tags(due.path, {item.name: item.digest for item in chosen})
        except (UpstreamUnavailable, UpstreamFailed) as error:
            log.warning("retention: %s left as it is, the registry failed: %s", due.path, error.message)
            report.error = error.message
            return None
        report.skipped = sorted(set(deletion.skipped))
        gone = set(deletion.deleted)
        return [item for item in chosen if item.name in gone]

    async def _record_kept(self, due: DueRetention, kept: list[KeptTag]) -> None:
        """The log of a repository where the catalogue deleted nothing: its kept tags, if any."""
        if not kept:
            return
        async with self._store.transaction():
            await self._store.retentions.record(
                due.retention.id, due, [], [(item.name, item.rule, item.immutable_rule) for item in kept]
            )


def _deletion(due: DueRetention, chosen: list[Doomed]) -> Deletion:
    assert due.namespace_id is not None  # ``_decided`` passes only a run's policies, which have it
    return Deletion(due.namespace_id, due.retention.repository_id, due.repository, [c.name for c in chosen])


def _kept(chosen: list[Doomed], protections: dict[str, Protection]) -> list[KeptTag]:
    """The chosen tags the guard keeps, and why."""
    return [
        KeptTag(item.name, item.digest, item.rule_type, found.rule_id, found.shares)
        for item in chosen
        if (found := protections.get(item.name)) is not None
    ]


def _notice(due: DueRetention, deleted: Sequence[Doomed]) -> Notice:
    """What webhooks are told of a run's deletions in one repository (operator ``retention``)."""
    resources = tuple(Resource(item.name, item.digest) for item in deleted)
    return Notice(DELETE, due.namespace, due.repository, resources, OPERATOR, utcnow())
