"""SQL behind retention: the policies, the runs' log, and the tag facts a run reads.

A run reads policies a page at a time by id (keyset: a policy created or deleted meanwhile moves no
other one), and the tags of a whole page's repositories in one statement, never one per repository
or per tag (``tag_facts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    and_,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)

from repohub.domain.clock import utcnow
from repohub.domain.entities import DueRetention, Page, RetentionEntry, StoredRetention, TagFacts
from repohub.store.session import LazySession
from repohub.store.tables import (
    NamespaceRow,
    RepositoryRow,
    RetentionLogRow,
    RetentionRow,
    TagRow,
    UTCDateTime,
)

__all__ = ["RetentionStore", "TagWindow"]

_COLUMNS = (
    RetentionRow.id,
    RetentionRow.repository_id,
    RetentionRow.algorithm,
    RetentionRow.rules,
    RetentionRow.created_at,
    RetentionRow.updated_at,
)

TagWindow = tuple[int, datetime | None]  # a repository id, and the push time its tags are older than


def _stored(row: Any) -> StoredRetention:
    return StoredRetention(row[0], row[1], row[2], row[3], row[4], row[5])


class RetentionStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    # -- policies -------------------------------------------------------------------------------
    async def add(self, repository_id: int, algorithm: str, rules: str) -> int:
        now = utcnow()
        result = await self._session.execute(
            insert(RetentionRow)
            .values(
                repository_id=repository_id, algorithm=algorithm, rules=rules, created_at=now, updated_at=now
            )
            .returning(RetentionRow.id)
        )
        return int(result.scalar_one())

    async def of_repository(self, repository_id: int) -> list[StoredRetention]:
        result = await self._session.execute(
            select(*_COLUMNS).where(RetentionRow.repository_id == repository_id).order_by(RetentionRow.id)
        )
        return [_stored(row) for row in result]

    async def of_namespace(self, namespace_id: int, limit: int) -> list[tuple[str, StoredRetention]]:
        """The policies of a namespace's repositories with each repository's name, by name: at most
        ``limit`` (one per repository; the unique index on repository_id keeps it a short scan)."""
        result = await self._session.execute(
            select(RepositoryRow.name, *_COLUMNS)
            .join(RepositoryRow, RepositoryRow.id == RetentionRow.repository_id)
            .where(RepositoryRow.namespace_id == namespace_id)
            .order_by(RepositoryRow.name, RetentionRow.id)
            .limit(limit)
        )
        return [(row[0], _stored(row[1:])) for row in result]

    async def get(self, repository_id: int, retention_id: int) -> StoredRetention | None:
        result = await self._session.execute(
            select(*_COLUMNS).where(
                RetentionRow.id == retention_id, RetentionRow.repository_id == repository_id
            )
        )
        row = result.first()
        return _stored(row) if row is not None else None

    async def update(self, retention_id: int, algorithm: str, rules: str) -> None:
        await self._session.execute(
            update(RetentionRow)
            .where(RetentionRow.id == retention_id)
            .values(algorithm=algorithm, rules=rules, updated_at=utcnow())
        )

    async def delete(self, retention_id: int) -> bool:
        result = await self._session.execute(delete(RetentionRow).where(RetentionRow.id == retention_id))
        return bool(result.rowcount)

    async def due(
        self, after_id: int, limit: int, *, namespace: str | None = None, repository: str | None = None
    ) -> list[DueRetention]:
        """Up to ``limit`` policies with ids above ``after_id``, in id order, with their repositories;
        only those of ``namespace`` (and of its repository ``repository``) when given."""
        statement = (
            select(*_COLUMNS, NamespaceRow.name, RepositoryRow.name, RepositoryRow.tag_count, NamespaceRow.id)
            .join(RepositoryRow, RepositoryRow.id == RetentionRow.repository_id)
            .join(NamespaceRow, NamespaceRow.id == RepositoryRow.namespace_id)
            .where(RetentionRow.id > after_id)
            .order_by(RetentionRow.id)
            .limit(limit)
        )
        if namespace is not None:
            statement = statement.where(NamespaceRow.name == namespace)
        if repository is not None:
            statement = statement.where(RepositoryRow.name == repository)
        result = await self._session.execute(statement)
        return [DueRetention(_stored(row), row[6], row[7], int(row[8]), row[9]) for row in result]

    # -- what a run reads and writes -----------------------------------------------------------
    async def tag_facts(self, windows: Sequence[TagWindow]) -> dict[int, list[TagFacts]]:
        """The tags of several repositories in one statement, by repository: all of them, or (for a
        window with a time) only those pushed before it."""
        if not windows:
            return {}
        wanted = or_(
            *(
                TagRow.repository_id == repository_id
                if before is None
                else and_(TagRow.repository_id == repository_id, TagRow.updated_at < before)
                for repository_id, before in windows
            )
        )
        result = await self._session.execute(
            select(TagRow.repository_id, TagRow.name, TagRow.digest, TagRow.updated_at).where(wanted)
        )
        found: dict[int, list[TagFacts]] = {repository_id: [] for repository_id, _ in windows}
        for repository_id, name, digest, pushed_at in result:
            found[repository_id].append(TagFacts(name, digest, pushed_at))
        return found

    async def record(
        self,
        retention_id: int,
        due: DueRetention,
        deleted: Iterable[tuple[str, str]],
        kept: Iterable[tuple[str, str, int]] = (),
    ) -> None:
        """Log the tags a run deleted, (tag, rule type) pairs, in one statement, and those it chose but
        kept because an immutable-tag rule protects them, (tag, rule type, the immutable rule's id), in
        another: a kept tag only when the repository's log has no ``kept`` entry for that tag and rule
        yet, so a tag kept run after run is logged once, not once a run (the history would grow
        without bound)."""
        now = utcnow()
        rows = [
            {
                "retention_id": retention_id,
                "repository_id": due.retention.repository_id,
                "namespace": due.namespace,
                "repo": due.repository,
                "tag": tag,
                "rule_type": rule_type,
                "created_at": now,
                "outcome": "deleted",
                "immutable_rule_id": None,
            }
            for tag, rule_type in deleted
        ]
        if rows:
            await self._session.execute(insert(RetentionLogRow), rows)
        kept = list(kept)
        if kept:
            await self._session.execute(_kept_once(retention_id, due, kept, now))

    async def history(self, repository_id: int, offset: int, limit: int) -> Page[RetentionEntry]:
        """A repository's log, newest first: tags deleted and tags kept (``RetentionEntry.outcome``)."""
        of_repository = RetentionLogRow.repository_id == repository_id
        total = await self._session.execute(
            select(func.count()).select_from(RetentionLogRow).where(of_repository)
        )
        result = await self._session.execute(
            select(
                RetentionLogRow.id,
                RetentionLogRow.retention_id,
                RetentionLogRow.namespace,
                RetentionLogRow.repo,
                RetentionLogRow.tag,
                RetentionLogRow.rule_type,
                RetentionLogRow.created_at,
                RetentionLogRow.outcome,
                RetentionLogRow.immutable_rule_id,
            )
            .where(of_repository)
            .order_by(RetentionLogRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        items = [RetentionEntry(*row) for row in result]
        return Page(items=items, total=int(total.scalar_one()), offset=offset, limit=limit)


def _kept_once(
    retention_id: int, due: DueRetention, kept: Sequence[tuple[str, str, int]], now: datetime
) -> Any:
    """``INSERT ... SELECT`` of the kept tags the repository's log has no ``kept`` entry for with the
    same rule: one set-based statement whatever the count (the ``(repository_id, id)`` index narrows
    the check to the repository's log). Casts type the parameters for PostgreSQL, which cannot infer
    a bare parameter's type in a select list."""
    chosen = union_all(
        *(
            select(
                cast(literal(tag), String).label("tag"),
                cast(literal(rule_type), String).label("rule_type"),
                cast(literal(rule_id), BigInteger).label("rule_id"),
            )
            for tag, rule_type, rule_id in kept
        )
    ).subquery("chosen")
    logged = exists().where(
        RetentionLogRow.repository_id == due.retention.repository_id,
        RetentionLogRow.tag == chosen.c.tag,
        RetentionLogRow.outcome == "kept",
        RetentionLogRow.immutable_rule_id == chosen.c.rule_id,
    )
    values = select(
        cast(literal(retention_id), BigInteger),
        cast(literal(due.retention.repository_id), BigInteger),
        cast(literal(due.namespace), String),
        cast(literal(due.repository), String),
        chosen.c.tag,
        chosen.c.rule_type,
        literal(now, UTCDateTime()),  # typed: asyncpg casts it; a CAST would make SQLite's a number
        cast(literal("kept"), String),
        chosen.c.rule_id,
    ).where(~logged)
    columns = [
        RetentionLogRow.retention_id,
        RetentionLogRow.repository_id,
        RetentionLogRow.namespace,
        RetentionLogRow.repo,
        RetentionLogRow.tag,
        RetentionLogRow.rule_type,
        RetentionLogRow.created_at,
        RetentionLogRow.outcome,
        RetentionLogRow.immutable_rule_id,
    ]
    return insert(RetentionLogRow).from_select(columns, values)
