"""SQL behind immutable-tag rules: the rules themselves, and the push check's one read.

The push check (``push_facts``) is on the path of every manifest PUT and DELETE through the proxy: one
statement over indexes (the namespace by its unique name, its rules by the unique constraint's
prefix, the repository by (namespace_id, name), its tags by (repository_id, name) or (repository_id,
digest)), run on the store's reader like the registry token's facts. A namespace with no enabled rule
answers no rows, and nothing else is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from repohub.domain.clock import utcnow
from repohub.domain.entities import Page
from repohub.domain.immutability.rules import ImmutableRule, PushFacts, RuleSpec, spec_from_row
from repohub.store.readers import Reader, Reads
from repohub.store.session import LazySession
from repohub.store.tables import ImmutableRuleRow, NamespaceRow

__all__ = ["ImmutableRuleStore"]

# ``$3`` is the reference of the request: a tag name, or a digest (the tags on it). Rows: each
# enabled rule once per tag found (a rule with no tag row when none is), so at most rules × tags.
_PUSH_FACTS_SQL = (
    "SELECT r.id, r.priority, r.tag_decoration, r.tag_pattern, r.repo_decoration, r.repo_pattern, t.name,"
    " n.id"
    " FROM namespaces n"
    " JOIN immutable_rules r ON r.namespace_id = n.id AND NOT r.disabled"
    " LEFT OUTER JOIN repositories p ON p.namespace_id = n.id AND p.name = $2"
    " LEFT OUTER JOIN tags t ON t.repository_id = p.id AND (t.name = $3 OR t.digest = $3)"
    " WHERE n.name = $1"
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
    def __init__(self, session: LazySession, reader: Reader | None = None) -> None:
        self._session = session
        self._reads = Reads(session, reader)

    def _select(self) -> Any:
        return select(*_COLUMNS).join(NamespaceRow, NamespaceRow.id == ImmutableRuleRow.namespace_id)

    async def add(self, namespace_id: int, spec: RuleSpec) -> int:
        """A new rule (a rule saying what another of the namespace says: IntegrityError, a Conflict
        in ``Store.transaction``)."""
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
        result = await self._session.execute(
            update(ImmutableRuleRow)
            .where(ImmutableRuleRow.id == rule_id, *_of(namespace_id))
            .values(updated_at=utcnow(), **_values(spec))
        )
        return bool(result.rowcount)

    async def delete(self, rule_id: int, *, namespace_id: int | None = None) -> bool:
        """Delete the rule (of ``namespace_id``, if given); whether it existed."""
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

    async def push_facts(self, namespace: str, repository: str, reference: str) -> PushFacts:
        """The push check's facts (module doc), in one statement on the reader."""
        rows = await self._reads.fetch(_PUSH_FACTS_SQL, (namespace, repository, reference))
        rules: dict[int, RuleSpec] = {}
        tags: dict[str, None] = {}
        namespace_id: int | None = None
        for row in rows:
            namespace_id = row[7]
            if row[0] not in rules:
                rules[row[0]] = spec_from_row(row[1], False, (row[2], row[3]), (row[4], row[5]))
            if row[6] is not None:
                tags[row[6]] = None
        return PushFacts(rules=sorted(rules.items()), tags=list(tags), namespace_id=namespace_id)
