"""The one place that decides whether a tag may change: every use case that deletes, moves or
overwrites tags asks :class:`Immutability` (the catalogue's deletes and retag, retention, the
registry sync, the event sink, the proxy's push check), and only it reads the rules.

A namespace without an enabled rule costs one indexed read of its rules and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from repohub.domain.entities import Repository
from repohub.domain.errors import Conflict
from repohub.domain.immutability.rules import PushFacts, RuleSpec, protecting
from repohub.domain.names import is_tag_name

if TYPE_CHECKING:  # the store imports this package's rules
    from repohub.store.unit import Store

__all__ = ["Immutability", "PushRefusal", "RuleBook", "TagImmutable"]


class TagImmutable(Conflict):
    """The change would delete, move or overwrite a tag an immutable-tag rule protects (409)."""

    def __init__(self, path: str, tag: str, rule_id: int) -> None:
        super().__init__(
            f"tag {tag!r} of {path!r} is immutable (immutable-tag rule {rule_id}): it may not be "
            "deleted, overwritten or moved",
            field="tag",
        )
        self.tag = tag
        self.rule_id = rule_id


@dataclass(frozen=True, slots=True)
class PushRefusal:
    """Why the proxy refuses a manifest PUT or DELETE."""

    tag: str
    rule_id: int

    def message(self, path: str) -> str:
        return (
            f"tag {self.tag!r} of {path!r} is immutable (rule {self.rule_id}): "
            "it may not be overwritten or deleted"
        )


@dataclass(slots=True)
class RuleBook:
    """The enabled rules of several namespaces, each read once, for a use case that decides many tags
    of many repositories (a retention page, a sync run, an event envelope): the reads are
    :meth:`Immutability.book`'s, the decision is :meth:`protected`'s."""

    rules: dict[int, list[tuple[int, RuleSpec]]] = field(default_factory=dict)

    def any_in(self, namespace_id: int) -> bool:
        """Whether the namespace has an enabled rule (no: none of its tags is protected)."""
        return bool(self.rules.get(namespace_id))

    def protected(self, namespace_id: int, repository: str, tags: Iterable[str]) -> dict[str, int]:
        """Which of ``tags`` of ``repository`` (its name within the namespace) a rule protects: tag →
        the rule's id."""
        rules = self.rules.get(namespace_id)
        if not rules:
            return {}
        found = {name: protecting(rules, repository, name) for name in tags}
        return {name: rule_id for name, rule_id in found.items() if rule_id is not None}


class Immutability:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def protected(self, repository: Repository, tags: Iterable[str] | None = None) -> dict[str, int]:
        """Which of ``tags`` (None: all the repository's) a rule protects: tag → the rule's id."""
        book = await self.book([repository.namespace_id])
        if not book.any_in(repository.namespace_id):
            return {}
        names = await self._store.tags.names(repository.id) if tags is None else list(tags)
        return book.protected(repository.namespace_id, repository.name, names)

    async def book(self, namespace_ids: Iterable[int], into: RuleBook | None = None) -> RuleBook:
        """The enabled rules of ``namespace_ids``: one read per namespace not in ``into`` yet (a
        book a use case keeps across its pages reads each namespace once)."""
        book = into if into is not None else RuleBook()
        for namespace_id in sorted(set(namespace_ids) - set(book.rules)):
            book.rules[namespace_id] = await self._store.immutables.enabled(namespace_id)
        return book

    async def refuse(self, repository: Repository, tags: Iterable[str] | None = None) -> None:
        """TagImmutable for the first protected tag of ``tags`` (None: of the whole repository)."""
        protected = await self.protected(repository, tags)
        if protected:
            tag = min(protected)
            raise TagImmutable(repository.path, tag, protected[tag])

    async def push_refusal(
        self, namespace: str, repository: str, reference: str, *, delete: bool
    ) -> PushRefusal | None:
        """The proxy's check of a manifest ``PUT`` (``delete`` false) or ``DELETE`` of
        ``namespace/repository`` at ``reference`` (a tag or a digest), in one read.

        A PUT to an existing protected tag is refused whatever it carries: the check sees no body,
        so a re-push of the same digest looks like an overwrite (Harbor refuses both). A PUT by
        digest moves no tag and passes unread; a first push of a tag passes. A DELETE is refused when
        it would remove a protected tag: the tag itself, or any tag on the digest it names."""
        if not delete and not is_tag_name(reference):
            return None
        facts = await self._store.immutables.push_facts(namespace, repository, reference)
        if not facts.rules:
            return None
        tags = facts.tags if delete else [tag for tag in facts.tags if tag == reference]
        found = PushFacts(rules=facts.rules, tags=tags).protected(repository)
        return PushRefusal(*found) if found is not None else None
