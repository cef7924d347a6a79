"""The one place that decides whether a tag may change: every use case that deletes, moves or
overwrites tags asks :class:`Immutability` (the catalogue's deletes and retag, retention, the
registry sync, the event sink, the proxy's push check), and only it reads the rules.

A tag is also kept when it shares its image (digest) with a protected tag and the change would delete
it: Distribution deletes a manifest, so every tag on it (``registry/client.py delete_tags`` puts the
manifest back under the others, which leaves the protected tag gone meanwhile, and for good if the
put-back fails). Moving such a tag elsewhere (a push, a retag) leaves the image alone and passes.

A namespace without an enabled rule costs one indexed read of its rules and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from repohub.domain.entities import Repository, kept_reason
from repohub.domain.errors import Conflict
from repohub.domain.gateway import RegistryGateway
from repohub.domain.immutability.rules import RuleSpec, protecting
from repohub.domain.names import is_tag_name

if TYPE_CHECKING:  # the store imports this package's rules
    from repohub.store.unit import Store

__all__ = ["Deletion", "Immutability", "Protection", "PushRefusal", "RuleBook", "TagImmutable"]


class TagImmutable(Conflict):
    """The change would delete, move or overwrite a tag an immutable-tag rule protects, or delete a
    tag that shares its image with one (``shares``: that tag's name) (409)."""

    def __init__(self, path: str, tag: str, rule_id: int, *, shares: str | None = None) -> None:
        if shares is None:
            message = (
                f"tag {tag!r} of {path!r} is immutable (immutable-tag rule {rule_id}): it may not be "
                "deleted, overwritten or moved"
            )
        else:
            message = (
                f"tag {tag!r} {kept_reason(rule_id, shares)} in {path!r}: deleting it would delete "
                f"{shares!r} in the registry; push another image onto {tag!r} first, then delete it"
            )
        super().__init__(message, field="tag")
        self.tag = tag
        self.rule_id = rule_id
        self.shares = shares


@dataclass(frozen=True, slots=True)
class PushRefusal:
    """Why the proxy refuses a manifest PUT or DELETE."""

    tag: str
    rule_id: int

    def message(self, path: str) -> str:
        """The words every dialect's 409 uses (``TagImmutable``'s)."""
        return TagImmutable(path, self.tag, self.rule_id).message


@dataclass(frozen=True, slots=True)
class Protection:
    """Why a tag may not be deleted: the rule that protects it, or (``shares``) the protected tag on
    its image, which deleting it would delete."""

    rule_id: int
    shares: str | None = None

    @property
    def reason(self) -> str:
        return kept_reason(self.rule_id, self.shares)


@dataclass(frozen=True, slots=True)
class Deletion:
    """Tags a use case means to delete from one repository (``Immutability.undeletable``)."""

    namespace_id: int
    repository_id: int
    repository: str  # its name within the namespace
    tags: Sequence[str]


@dataclass(slots=True)
class RuleBook:
    """The enabled rules of several namespaces, each read once, for a use case that decides many tags
    of many repositories (a retention page, a sync run, an event envelope): the reads are
    :meth:`Immutability.book`'s, the decision is :meth:`protected`'s (and :meth:`undeletable`'s)."""

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

    def undeletable(
        self,
        namespace_id: int,
        repository: str,
        tags: Iterable[str],
        sharing: Mapping[str, Sequence[str]],
    ) -> dict[str, Protection]:
        """Which of ``tags`` may not be deleted: those a rule protects, and those sharing their image
        with a protected tag (``sharing``: tag → the other tags on its digest; the first protected
        one by name is named)."""
        names = list(tags)
        protected = self.protected(namespace_id, repository, names)
        found = {name: Protection(rule_id) for name, rule_id in protected.items()}
        others = {other for name in names if name not in found for other in sharing.get(name, ())}
        shielding = self.protected(namespace_id, repository, others)
        for name in names:
            shared = sorted(other for other in sharing.get(name, ()) if other in shielding)
            if name not in found and shared:
                found[name] = Protection(shielding[shared[0]], shares=shared[0])
        return found


class Immutability:
    def __init__(self, store: Store, registry: RegistryGateway | None = None) -> None:
        self._store = store
        # The push check asks it about a selected tag the catalogue does not know yet (push_refusal).
        self._registry = registry

    async def protected(self, repository: Repository, tags: Iterable[str] | None = None) -> dict[str, int]:
        """Which of ``tags`` (None: all the repository's) a rule protects: tag → the rule's id."""
        book = await self.book([repository.namespace_id])
        if not book.any_in(repository.namespace_id):
            return {}
        names = await self._store.tags.names(repository.id) if tags is None else list(tags)
        if tags is None and self._registry is not None:
            # The whole repository is going (its registry half first): what the registry holds counts
            # too, a protected tag whose push event has not arrived yet included.
            names = sorted({*names, *await self._registry.tags(repository.path)})
        return book.protected(repository.namespace_id, repository.name, names)

    async def book(self, namespace_ids: Iterable[int], into: RuleBook | None = None) -> RuleBook:
        """The enabled rules of ``namespace_ids``: one read per namespace not in ``into`` yet (a
        book a use case keeps across its pages reads each namespace once)."""
        book = into if into is not None else RuleBook()
        for namespace_id in sorted(set(namespace_ids) - set(book.rules)):
            book.rules[namespace_id] = await self._store.immutables.enabled(namespace_id)
        return book

    async def undeletable(
        self, deletions: Sequence[Deletion], book: RuleBook | None = None
    ) -> list[dict[str, Protection]]:
        """For each deletion, which of its tags may not be deleted (``RuleBook.undeletable``): one
        read of rules per namespace (none for those in ``book``), and one statement for the tags
        sharing the images of those in namespaces with an enabled rule (none at all without one)."""
        book = await self.book((deletion.namespace_id for deletion in deletions), book)
        guarded = [deletion for deletion in deletions if book.any_in(deletion.namespace_id)]
        sharing = await self._store.tags.sharing({item.repository_id: item.tags for item in guarded})
        return [
            book.undeletable(
                item.namespace_id, item.repository, item.tags, sharing.get(item.repository_id, {})
            )
            if book.any_in(item.namespace_id)
            else {}
            for item in deletions
        ]

    async def kept(
        self, repository: Repository, tags: Sequence[str], *, remembered: bool = False
    ) -> dict[str, Protection]:
        """Which of the repository's ``tags`` a delete would refuse, and why (``undeletable``): what
        ``refuse(..., deleting=True)`` decides. ``remembered``: from the rules the push check
        remembers (``ImmutableRuleStore.namespace_rules``), for a page that shows it before offering
        a delete: a third of the repository page's time went to reading them (docs/benchmarks.md);
        the delete itself decides from the database."""
        if not remembered:
            deletion = Deletion(repository.namespace_id, repository.id, repository.name, tags)
            (found,) = await self.undeletable([deletion])
            return found
        book = await self._remembered(repository)
        if not book.any_in(repository.namespace_id):
            return {}
        sharing = await self._store.tags.siblings(repository.id, tags)
        return book.undeletable(repository.namespace_id, repository.name, tags, sharing)

    async def _remembered(self, repository: Repository) -> RuleBook:
        found = await self._store.immutables.namespace_rules(repository.namespace)
        return RuleBook({repository.namespace_id: list(found.rules) if found is not None else []})

    async def refuse(
        self, repository: Repository, tags: Iterable[str] | None = None, *, deleting: bool = False
    ) -> None:
        """TagImmutable for the first protected tag of ``tags`` (None: of the whole repository); when
        ``deleting`` them, also for the first sharing its image with a protected tag (module doc)."""
        if not deleting or tags is None:  # the whole repository: every tag on an image is in it
            protected = await self.protected(repository, tags)
            if protected:
                tag = min(protected)
                raise TagImmutable(repository.path, tag, protected[tag])
            return
        found = await self.kept(repository, list(tags))
        if found:
            tag = min(found, key=lambda name: (found[name].shares is not None, name))
            raise TagImmutable(repository.path, tag, found[tag].rule_id, shares=found[tag].shares)

    async def refuse_overwrite(self, repository: Repository, tag: str, *, recorded: bool) -> None:
        """A retag onto ``tag``: TagImmutable when a rule protects it and it exists, in the catalogue
        (``recorded``) or, its push event not arrived yet, only in the registry; a first one passes."""
        protected = await self.protected(repository, [tag])
        if protected and (recorded or await self._in_registry(repository.path, tag)):
            raise TagImmutable(repository.path, tag, protected[tag])

    async def push_refusal(
        self, namespace: str, repository: str, reference: str, *, delete: bool
    ) -> PushRefusal | None:
        """The proxy's check of a manifest ``PUT`` (``delete`` false) or ``DELETE`` of
        ``namespace/repository`` at ``reference`` (a tag or a digest).

        A PUT to an existing protected tag is refused whatever it carries: the check sees no body,
        so a re-push of the same digest looks like an overwrite (Harbor refuses both). A PUT by
        digest moves no tag and passes unread; a first push of a tag passes. A DELETE is refused when
        it would remove a protected tag: the tag itself, any tag on the digest it names, or any tag
        whose stored manifest refers to that digest (an index's child, an image's blob: deleting
        it breaks the tag's pull).

        Cost: the namespace's rules (from memory, or one read); a PUT of a tag no rule selects is
        answered from them alone, and only a selected tag, or a delete, reads the tags."""
        if not delete and not is_tag_name(reference):
            return None
        found = await self._store.immutables.namespace_rules(namespace)
        if found is None or not found.rules:
            return None
        book = RuleBook({found.namespace_id: list(found.rules)})  # the one matcher
        if delete:
            tags = await self._store.immutables.tags_named(
                found.namespace_id, repository, reference, referring=True
            )
        else:
            tags = await self._pushed_over(found.namespace_id, book, f"{namespace}/{repository}", reference)
        protected = book.protected(found.namespace_id, repository, tags)
        first = next((tag for tag in sorted(tags) if tag in protected), None)
        return PushRefusal(first, protected[first]) if first is not None else None

    async def _pushed_over(self, namespace_id: int, book: RuleBook, path: str, tag: str) -> list[str]:
        """``[tag]`` when a PUT of it would overwrite a tag a rule protects (it exists: in the
        catalogue, or only in the registry yet), else nothing; a tag no rule selects reads nothing."""
        repository = path.partition("/")[2]
        if not book.protected(namespace_id, repository, [tag]):
            return []  # whether or not the tag exists, no rule protects it
        if tag in await self._store.immutables.tags_named(namespace_id, repository, tag):
            return [tag]
        return [tag] if await self._in_registry(path, tag) else []

    async def _in_registry(self, path: str, tag: str) -> bool:
        """Whether the registry has ``tag`` (a tag the catalogue has not heard of). The catalogue
        learns of a push from the registry's event, sent after the registry answered the push: a
        protected tag pushed a moment ago (or whose event is still being retried) is not in it yet,
        and without this an overwrite right behind the first push would pass (review of issue 16).
        One HEAD, only for a tag a rule selects and the catalogue lacks: first pushes of protected
        tags. A registry that fails raises, and nginx refuses the write (fails closed)."""
        return self._registry is not None and await self._registry.tag_digest(path, tag) is not None
