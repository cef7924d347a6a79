"""What the event sink does with a registry event that changes a protected tag.

The proxy refuses a manifest PUT or DELETE that would overwrite or remove a tag an immutable-tag rule
protects, so such an event means the registry was reached directly, behind the proxy. The registry
has changed already; repohub cannot undo that, and does not pretend to. It decides (as ``registry
sync`` does):

* the catalogue keeps the protected tag as it was recorded (its digest, its push time): what was
  released under it stays what repohub shows, and ``registry sync`` keeps reporting the disagreement
  until someone resolves it (pushes the recorded image back, or lifts the rule);
* the audit log gets an entry naming the pusher: ``tag.immutable_overwritten`` (repository, tag, the
  recorded and the new digest) or ``tag.immutable_deleted`` (repository, tag, its digest).

A re-push of the digest the tag already has changes nothing that matters and is applied as any push;
a first push of a new tag is too. repohub's own writes (account ``@repohub``) are never checked: its
deletes and retags were refused before the registry if a rule forbade them.

Cost: nothing for an envelope without a user's tagged push or delete; else ONE statement for the
whole envelope (``RegistryStore.tags_under_rules``: the existing tags its events name, in namespaces
with an enabled rule), and then one read of each such namespace's rules, never one per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from repohub.domain.access import DELETE, PUSH
from repohub.domain.immutability.guard import Immutability
from repohub.domain.registry.grants import split_path
from repohub.store.audit import AuditEntry
from repohub.store.registry import TouchedTag
from repohub.store.unit import Store

if TYPE_CHECKING:  # events imports this module
    from repohub.domain.registry.events import RegistryEvent

__all__ = ["DELETED", "OVERWRITTEN", "SOURCE", "Overwrites", "overwrites_of"]

OVERWRITTEN = "tag.immutable_overwritten"
DELETED = "tag.immutable_deleted"
SOURCE = "registry event"  # where the audit entry's fact was seen


@dataclass(slots=True)
class Overwrites:
    """The protected tags an envelope's events would change, and the audit entries of those it keeps."""

    # (repository path, tag) → (the protecting rule's id, the digest the catalogue recorded)
    protected: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)

    def keeps_push(self, path: str, tag: str, digest: str, actor: str | None, event_id: str) -> bool:
        """Whether a user's push of ``tag`` to ``digest`` is left unapplied: a protected tag moved."""
        found = self.protected.get((path, tag))
        if found is None or found[1] == digest:
            return False
        rule_id, recorded = found
        target = (
            f"repository={path} tag={tag} digest={recorded} new_digest={digest} rule={rule_id} "
            f"event={event_id}"
        )
        self.audit.append((actor, OVERWRITTEN, target, SOURCE))
        return True

    def kept_by_delete(self, path: str, tags: Sequence[str], actor: str | None, event_id: str) -> list[str]:
        """Which of ``tags`` (those a user's delete removes) stay: the protected ones, each audited."""
        kept = [tag for tag in tags if (path, tag) in self.protected]
        for tag in kept:
            rule_id, recorded = self.protected[(path, tag)]
            target = f"repository={path} tag={tag} digest={recorded} rule={rule_id} event={event_id}"
            self.audit.append((actor, DELETED, target, SOURCE))
        return kept

    def on_digest(self, path: str, digest: str) -> list[str]:
        """The protected tags of ``path`` the catalogue has on ``digest``."""
        return sorted(
            tag for (where, tag), (_, on) in self.protected.items() if where == path and on == digest
        )


async def overwrites_of(store: Store, events: Sequence[RegistryEvent]) -> Overwrites:
    """The protected tags ``events`` (an envelope's, to be applied) would change (module doc)."""
    found = Overwrites()
    touched = _touched(events)
    if not touched:
        return found
    existing = await store.registry.tags_under_rules(touched)
    if not existing:
        return found
    book = await Immutability(store).book({row[0] for row in existing})
    by_repository: dict[tuple[int, str, str], dict[str, str]] = {}
    for namespace_id, namespace, name, _repository_id, tag, digest in existing:
        by_repository.setdefault((namespace_id, namespace, name), {})[tag] = digest
    for (namespace_id, namespace, name), digests in by_repository.items():
        for tag, rule_id in book.protected(namespace_id, name, digests).items():
            found.protected[(f"{namespace}/{name}", tag)] = (rule_id, digests[tag])
    return found


def _touched(events: Sequence[RegistryEvent]) -> list[TouchedTag]:
    """The tags the users' pushes and deletes of an envelope name: by tag, or (a delete) by digest."""
    touched: list[TouchedTag] = []
    for event in events:
        if event.by_repohub or event.action not in (PUSH, DELETE):
            continue
        parts = split_path(event.repository)
        if parts is None:
            continue
        if event.tag:
            touched.append((parts[0], parts[1], event.tag, ""))
        elif event.action == DELETE and event.digest:
            touched.append((parts[0], parts[1], "", event.digest))
    return touched
