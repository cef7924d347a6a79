"""SQL behind immutable-tag rules: the rules themselves, and the push check's reads.

The push check is on the path of every manifest PUT and DELETE through the proxy. It reads a
namespace's enabled rules (``namespace_rules``: one statement over the namespace's unique name and
the rules' unique-constraint prefix, or nothing at all while ``store.rule_memory`` remembers them),
and only when a rule selects the pushed tag, or for a delete, the tags the reference names
(``tags_named``: (namespace_id, name) then (repository_id, name) or (repository_id, digest)). Both
run on the store's reader, like the registry token's facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select, update

from repohub.domain.clock import utcnow
from repohub.domain.entities import Page
from repohub.domain.immutability.rules import ImmutableRule, NamespaceRules, RuleSpec, spec_from_row
from repohub.store.readers import Reader, Reads
from repohub.store.rule_memory import RuleMemory
from repohub.store.session import LazySession
from repohub.store.tables import ImmutableRuleRow, NamespaceRow

__all__ = ["ImmutableRuleStore"]

# A namespace's id and its enabled rules as one JSON text (one row, whatever the rules; its parse is
# remembered by the text, ``_parsed``): the rules' rows, decoded one by one and made into RuleSpecs,
# were a fifth of a push check's CPU (docs/benchmarks.md, "Push check").
_NAMESPACE_RULES_SQL = {
    "postgresql": (
        "SELECT n.id, (SELECT json_agg(json_build_array(r.id, r.priority, r.tag_decoration, r.tag_pattern,"
        " r.repo_decoration, r.repo_pattern))::text"
        " FROM immutable_rules r WHERE r.namespace_id = n.id AND NOT r.disabled)"
        " FROM namespaces n WHERE n.name = $1"
    ),
    "sqlite": (
        "SELECT n.id, (SELECT json_group_array(json_array(r.id, r.priority, r.tag_decoration, r.tag_pattern,"
        " r.repo_decoration, r.repo_pattern))"
        " FROM immutable_rules r WHERE r.namespace_id = n.id AND NOT r.disabled)"
        " FROM namespaces n WHERE n.name = $1"
    ),
}
# The tags a reference names in one repository: the tag itself, the tags on a digest, and (``$4``,
# for a digest) the tags whose stored manifest refers to it: an index's children, an image's config
# and layers. That last test reads the repository's manifests (a LIKE): only deletes ask it.
_TAGS_NAMED_SQL = (
    "SELECT t.name FROM repositories p JOIN tags t ON t.repository_id = p.id"
    " WHERE p.namespace_id = $1 AND p.name = $2 AND (t.name = $3 OR t.digest = $3 OR t.manifest LIKE $4)"
)


@lru_cache(maxsize=1024)
def _parsed(text: str | None) -> tuple[tuple[int, RuleSpec], ...]:
    """The rules of ``_NAMESPACE_RULES_SQL``'s JSON text, by id."""
    rows = orjson.loads(text) if text else []
    return tuple(
        sorted((row[0], spec_from_row(row[1], False, (row[2], row[3]), (row[4], row[5]))) for row in rows)
    )


_COLUMNS = (
    ImmutableRuleRow.id,
    ImmutableRuleRow.namespace_id,
    NamespaceRow.name,
    ImmutableRuleRow.priority,
    ImmutableRuleRow.disabled,
    ImmutableRuleRow.tag_decoration,
    ImmutableRuleRow.tag_pattern,
    ImmutableRuleRow.repo_decoration,
    ImmutableRuleRow.repo_pattern,
)


def _rule(row: Any) -> ImmutableRule:
    spec = spec_from_row(row[3], bool(row[4]), (row[5], row[6]), (row[7], row[8]))
    return ImmutableRule(id=row[0], namespace_id=row[1], namespace_name=row[2], spec=spec)


def _values(spec: RuleSpec) -> dict[str, Any]:
    return {
        "priority": spec.priority,
        "disabled": spec.disabled,
        "tag_decoration": spec.tag.decoration,
        "tag_pattern": spec.tag.pattern,
        "repo_decoration": spec.repository.decoration,
        "repo_pattern": spec.repository.pattern,
    }


def _of(namespace_id: int | None) -> list[Any]:
    return [] if namespace_id is None else [ImmutableRuleRow.namespace_id == namespace_id]


class ImmutableRuleStore:
    def __init__(
        self, session: LazySession, reader: Reader | None = None, memory: RuleMemory | None = None
    ) -> None:
        self._session = session
        self._reads = Reads(session, reader)
        self._memory = memory if memory is not None else RuleMemory()
        # Set by a write: ``Store.transaction`` forgets the remembered rules once it commits, so this
        # process sees its own change at once (others at the trigger's notice, ``rule_listener``).
        self.changed = False

    def committed(self) -> None:
        """The session committed: what this store wrote is in, and nothing remembered is trusted."""
        if self.changed:
            self.changed = False
            self._memory.forget()

    def _select(self) -> Any:
        return select(*_COLUMNS).join(NamespaceRow, NamespaceRow.id == ImmutableRuleRow.namespace_id)

    async def add(self, namespace_id: int, spec: RuleSpec) -> int:
        """A new rule (a rule saying what another of the namespace says: IntegrityError, a Conflict
        in ``Store.transaction``)."""
        self.changed = True
        now = utcnow()
        result = await self._session.execute(
            insert(ImmutableRuleRow)
            .values(namespace_id=namespace_id, created_at=now, updated_at=now, **_values(spec))
            .returning(ImmutableRuleRow.id)
        )
        return int(result.scalar_one())

    async def count(self, namespace_id: int) -> int:
        result = await self._session.execute(
            select(func.count())
            .select_from(ImmutableRuleRow)
            .where(ImmutableRuleRow.namespace_id == namespace_id)
        )
        return int(result.scalar_one())

    async def get(self, namespace_id: int, rule_id: int) -> ImmutableRule | None:
        result = await self._session.execute(
            self._select().where(
                ImmutableRuleRow.id == rule_id, ImmutableRuleRow.namespace_id == namespace_id
            )
        )
        row = result.first()
        return _rule(row) if row is not None else None

    async def page(self, namespace_ids: Sequence[int] | None, offset: int, limit: int) -> Page[ImmutableRule]:
        """Rules of these namespaces (None: of every namespace), by namespace and priority, then id."""
        where = [] if namespace_ids is None else [ImmutableRuleRow.namespace_id.in_(list(namespace_ids))]
        total = await self._session.execute(select(func.count()).select_from(ImmutableRuleRow).where(*where))
        rows = await self._session.execute(
            self._select()
            .where(*where)
            .order_by(ImmutableRuleRow.namespace_id, ImmutableRuleRow.priority, ImmutableRuleRow.id)
            .offset(offset)
            .limit(limit)
        )
        return Page(
            items=[_rule(row) for row in rows], total=int(total.scalar_one()), offset=offset, limit=limit
        )

    async def update(self, rule_id: int, spec: RuleSpec, *, namespace_id: int | None = None) -> bool:
        """Replace what the rule says (of ``namespace_id``, if given); whether it exists: the row count
        is the use case's existence check, in its transaction."""
        self.changed = True
        result = await self._session.execute(
            update(ImmutableRuleRow)
            .where(ImmutableRuleRow.id == rule_id, *_of(namespace_id))
            .values(updated_at=utcnow(), **_values(spec))
        )
        return bool(result.rowcount)

    async def delete(self, rule_id: int, *, namespace_id: int | None = None) -> bool:
        """Delete the rule (of ``namespace_id``, if given); whether it existed."""
        self.changed = True
        result = await self._session.execute(
            delete(ImmutableRuleRow).where(ImmutableRuleRow.id == rule_id, *_of(namespace_id))
        )
        return bool(result.rowcount)

    async def enabled(self, namespace_id: int) -> list[tuple[int, RuleSpec]]:
        """The namespace's enabled rules, by id (what the use cases that change tags check)."""
        rows = await self._session.execute(
            self._select()
            .where(ImmutableRuleRow.namespace_id == namespace_id, ImmutableRuleRow.disabled.is_(False))
            .order_by(ImmutableRuleRow.id)
        )
        return [(rule.id, rule.spec) for rule in map(_rule, rows)]

    async def namespace_rules(self, namespace: str) -> NamespaceRules | None:
        """The namespace's enabled rules (None: no such namespace): remembered while the memory's
        listener keeps them true (``store.rule_memory``), else one statement on the reader."""
        memory = self._memory
        known, rules = memory.get(namespace)
        if known:
            return rules
        generation = memory.generation
        # On the primary: a replica not yet at a rule change would have its old rules remembered
        # until the next change.
        rows = await self._reads.fetch_primary(_NAMESPACE_RULES_SQL[self._session.dialect], (namespace,))
        rules = NamespaceRules(rows[0][0], _parsed(rows[0][1])) if rows else None
        if not (self.changed or self._session.writing()):  # what is not committed is not remembered
            memory.put(namespace, rules, generation)
        return rules

    async def tags_named(
        self, namespace_id: int, repository: str, reference: str, *, referring: bool = False
    ) -> list[str]:
        """The tags ``reference`` names in the repository: itself, or the tags on that digest; with
        ``referring``, also those whose manifest refers to the digest (a child, a blob)."""
        mention = f"%{reference}%" if referring and reference.startswith("sha256:") else None
        rows = await self._reads.fetch(_TAGS_NAMED_SQL, (namespace_id, repository, reference, mention))
        return [row[0] for row in rows]
