"""Counts kept per namespace and namespace quotas: their reads, the full recount, the fix.

The triggers of migration 0010 keep ``namespace_counts`` in the transaction of every change to
``repositories``, so a total is one indexed read here instead of a count of rows. The recount is what
``repohub counts check`` compares them with: every figure again from the rows themselves (tags and
size from the tag rows, as ``repositories.update_summary`` computes a repository's), kept and actual
read by one statement, so that on PostgreSQL both come from one snapshot. The fix replaces the kept
counts (and a repository's own ``tag_count``/``size`` that disagree with its tag rows, which the
triggers would otherwise carry into the next change) in one transaction, with writes to
``repositories`` held off on PostgreSQL while it runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from repohub.domain.clock import utcnow
from repohub.store.session import LazySession
from repohub.store.tables import (
    CatalogueCountRow,
    MemberCountRow,
    MembershipRow,
    NamespaceCountRow,
    NamespaceQuotaRow,
    NamespaceRow,
)

__all__ = [
    "COUNTED",
    "RECOUNTS",
    "REPOSITORY_QUOTA",
    "CountStore",
    "Drift",
    "NamespaceTotals",
    "QuotaUse",
    "Totals",
]

# The quota kinds ``namespace_quotas.quota_key`` holds: one, the namespace's repository count.
REPOSITORY_QUOTA = "repositories"
COUNTED = ("repositories", "public_repositories", "tags", "size")

# Each namespace as kept and as the rows say, in one statement (one snapshot). The tags' figures
# come from a derived table grouped by repository: one pass over the tags.
_RECOUNT = (
    "SELECT r.namespace_id, count(*), sum(CASE WHEN r.is_public THEN 1 ELSE 0 END),"
    " coalesce(sum(t.n), 0), coalesce(sum(t.s), 0) FROM repositories r"
    " LEFT JOIN (SELECT repository_id, count(*) AS n, coalesce(sum(size), 0) AS s FROM tags"
    " GROUP BY repository_id) t ON t.repository_id = r.id GROUP BY r.namespace_id"
)
_KEPT_AND_ACTUAL = text(
    "SELECT 'kept', c.namespace_id, c.repositories, c.public_repositories, c.tags, c.size"
    f" FROM namespace_counts c UNION ALL SELECT 'actual', x.* FROM ({_RECOUNT}) x"
)
# The fix's first step: a repository's own counters from its tag rows, where they disagree.
_REPAIR_REPOSITORIES = text(
    "UPDATE repositories SET"
    " tag_count = (SELECT count(*) FROM tags t WHERE t.repository_id = repositories.id),"
    " size = (SELECT coalesce(sum(t.size), 0) FROM tags t WHERE t.repository_id = repositories.id)"
    " WHERE tag_count <> (SELECT count(*) FROM tags t WHERE t.repository_id = repositories.id)"
    " OR size <> (SELECT coalesce(sum(t.size), 0) FROM tags t WHERE t.repository_id = repositories.id)"
)
_REFILL = text(
    f"INSERT INTO namespace_counts (namespace_id, repositories, public_repositories, tags, size) {_RECOUNT}"
)
# The catalogue's counts per category and each member's private repositories per category (the
# totals of lists across namespaces, ``pg_pages.kept_total_sql``), kept and as the rows say, each in
# one statement: (source, label, category, figures...). ``_STRIPES``: as migration 0010's triggers.
_STRIPES = 8
_CATALOGUE_RECOUNT = (
    "SELECT category, count(*), sum(CASE WHEN is_public THEN 1 ELSE 0 END)"
    " FROM repositories GROUP BY category"
)
_CATALOGUE_KEPT_AND_ACTUAL = text(
    "SELECT 'kept', 0, k.category, sum(k.repositories), sum(k.public_repositories) FROM catalogue_counts k"
    f" GROUP BY k.category UNION ALL SELECT 'actual', 0, x.* FROM ({_CATALOGUE_RECOUNT}) x"
)
_MEMBER_RECOUNT = (
    "SELECT m.user_id, r.category, count(*) FROM memberships m"
    " JOIN repositories r ON r.namespace_id = m.namespace_id AND NOT r.is_public"
    " GROUP BY m.user_id, r.category"
)
_MEMBER_KEPT_AND_ACTUAL = text(
    "SELECT 'kept', o.user_id, o.category, o.private_repositories FROM member_counts o"
    f" UNION ALL SELECT 'actual', x.* FROM ({_MEMBER_RECOUNT}) x"
)
_CATALOGUE_REFILL = text(
    "INSERT INTO catalogue_counts (category, stripe, repositories, public_repositories)"
    f" SELECT category, id % {_STRIPES}, count(*), sum(CASE WHEN is_public THEN 1 ELSE 0 END)"
    f" FROM repositories GROUP BY category, id % {_STRIPES}"
)
_MEMBER_REFILL = text(
    f"INSERT INTO member_counts (user_id, category, private_repositories) {_MEMBER_RECOUNT}"
)
# Each kept table beside its recount from the rows (figures in the same order): what a bulk load that
# bypassed the triggers (the bench) refills and checks with the rules this module checks with. A kept
# row of zeros is no drift (a namespace, category or member whose last repository went keeps it).
RECOUNTS: tuple[tuple[str, str, str], ...] = (
    (
        "namespace_counts (namespace_id, repositories, public_repositories, tags, size)",
        "SELECT namespace_id, repositories, public_repositories, tags, size FROM namespace_counts"
        " WHERE repositories <> 0 OR public_repositories <> 0 OR tags <> 0 OR size <> 0",
        _RECOUNT,
    ),
    (
        "catalogue_counts (category, stripe, repositories, public_repositories)",
        "SELECT category, stripe, repositories, public_repositories FROM catalogue_counts"
        " WHERE repositories <> 0 OR public_repositories <> 0",
        _CATALOGUE_RECOUNT.replace("SELECT category,", f"SELECT category, id % {_STRIPES},").replace(
            "GROUP BY category", f"GROUP BY category, id % {_STRIPES}"
        ),
    ),
    (
        "member_counts (user_id, category, private_repositories)",
        "SELECT user_id, category, private_repositories FROM member_counts WHERE private_repositories <> 0",
        _MEMBER_RECOUNT,
    ),
)
_PER_CATEGORY = (
    ("catalogue", _CATALOGUE_KEPT_AND_ACTUAL, ("repositories", "public_repositories")),
    ("member", _MEMBER_KEPT_AND_ACTUAL, ("private_repositories",)),
)
# Writers of repositories wait while the fix recounts (SHARE ROW EXCLUSIVE conflicts with every
# write lock and with itself; reads go on). SQLite's one writer is the fix itself once it writes.
_HOLD_WRITES_PG = text("LOCK TABLE repositories, tags IN SHARE ROW EXCLUSIVE MODE")


@dataclass(frozen=True, slots=True)
class Drift:
    """One figure of one namespace whose kept count is not the rows' count."""

    namespace_id: int
    namespace: str
    field: str
    kept: int
    actual: int


@dataclass(frozen=True, slots=True)
class Totals:
    """Totals over a set of namespaces: how many, and their repositories, tags and bytes."""

    namespaces: int
    repositories: int
    tags: int
    size: int


@dataclass(frozen=True, slots=True)
class NamespaceTotals:
    """One namespace's counts."""

    repositories: int
    public_repositories: int
    tags: int
    size: int


@dataclass(frozen=True, slots=True)
class QuotaUse:
    """A namespace's limit of one kind (None: no limit) and what it uses of it."""

    namespace_id: int
    namespace: str
    quota_key: str
    limit: int | None
    used: int


_Key = tuple[Any, ...]  # a kept row's key: (namespace id,), (0, category), (user id, category)


def _figures(
    rows: Sequence[Any], width: int
) -> tuple[dict[_Key, tuple[int, ...]], dict[_Key, tuple[int, ...]]]:
    """Rows of (source, key..., figures...) split into the kept and the actual figures by key; the
    key is the ``width`` columns after the source."""
    kept: dict[_Key, tuple[int, ...]] = {}
    actual: dict[_Key, tuple[int, ...]] = {}
    for source, *row in rows:
        key, values = tuple(row[:width]), row[width:]
        (kept if source == "kept" else actual)[key] = tuple(int(v) for v in values)
    return kept, actual


def _differences(
    kept: dict[_Key, tuple[int, ...]], actual: dict[_Key, tuple[int, ...]], fields: Sequence[str]
) -> list[tuple[_Key, str, int, int]]:
    """(key, field, kept, actual) where they differ; a missing row is zeros (a namespace, category or
    member whose last repository went keeps its row of zeros)."""
    zeros = (0,) * len(fields)
    found = []
    for key in sorted(kept.keys() | actual.keys()):
        ours, theirs = kept.get(key, zeros), actual.get(key, zeros)
        for field, mine, real in zip(fields, ours, theirs, strict=True):
            if mine != real:
                found.append((key, field, mine, real))
    return found


class CountStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    # -- counts -------------------------------------------------------------------------------
    async def of_namespace(self, namespace_id: int) -> NamespaceTotals:
        """The namespace's counts: a probe of the primary key."""
        c = NamespaceCountRow
        sums = [func.coalesce(func.sum(column), 0) for column in (c.repositories, c.public_repositories)]
        sums += [func.coalesce(func.sum(column), 0) for column in (c.tags, c.size)]
        row = (await self._session.execute(select(*sums).where(c.namespace_id == namespace_id))).one()
        return NamespaceTotals(*(int(value) for value in row))

    async def totals(self, member_id: int | None) -> Totals:
        """Totals over every namespace (``member_id`` None) or over those the user belongs to."""
        c = NamespaceCountRow
        sums = [func.coalesce(func.sum(column), 0) for column in (c.repositories, c.tags, c.size)]
        if member_id is None:
            namespaces = select(func.count()).select_from(NamespaceRow).scalar_subquery()
            statement = select(namespaces, *sums).select_from(c)
        else:
            m = MembershipRow
            mine = m.user_id == member_id
            namespaces = select(func.count()).select_from(m).where(mine).scalar_subquery()
            statement = (
                select(namespaces, *sums).select_from(c).join(m, m.namespace_id == c.namespace_id).where(mine)
            )
        row = (await self._session.execute(statement)).one()
        return Totals(*(int(value) for value in row))

    async def drift(self) -> list[Drift]:
        """Every figure whose kept count differs from the rows' count: by namespace, then the
        catalogue's and the members' per category (``category_drift``)."""
        rows = (await self._session.execute(_KEPT_AND_ACTUAL)).all()
        found = [(key[0], *rest) for key, *rest in _differences(*_figures(rows, 1), COUNTED)]
        names = await self._names({item[0] for item in found})
        drift = [Drift(ns, names.get(ns, str(ns)), field, kept, actual) for ns, field, kept, actual in found]
        return drift + await self.category_drift()

    async def category_drift(self) -> list[Drift]:
        """The catalogue's and each member's counts per category that differ from the rows', named
        ``catalogue/CATEGORY`` and ``member USER_ID/CATEGORY`` (namespace id 0)."""
        found: list[Drift] = []
        for label, statement, fields in _PER_CATEGORY:
            rows = (await self._session.execute(statement)).all()
            for (owner, category), field, kept, actual in _differences(*_figures(rows, 2), fields):
                name = f"{label}/{category}" if label == "catalogue" else f"{label} {owner}/{category}"
                found.append(Drift(0, name, field, kept, actual))
        return found

    async def fix(self) -> None:
        """Recount and replace, in the caller's transaction: the repositories' own counters from
        their tags where they disagree, then every kept count from the rows."""
        if self._session.dialect == "postgresql":
            await self._session.execute(_HOLD_WRITES_PG)
        await self._session.execute(_REPAIR_REPOSITORIES)
        await self._session.execute(delete(NamespaceCountRow))
        await self._session.execute(_REFILL)
        await self._session.execute(delete(CatalogueCountRow))
        await self._session.execute(_CATALOGUE_REFILL)
        await self._session.execute(delete(MemberCountRow))
        await self._session.execute(_MEMBER_REFILL)

    async def _names(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        statement = select(NamespaceRow.id, NamespaceRow.name).where(NamespaceRow.id.in_(sorted(ids)))
        return {row[0]: row[1] for row in (await self._session.execute(statement)).all()}

    # -- quotas -------------------------------------------------------------------------------
    async def limit_for_update(self, namespace_id: int, quota_key: str) -> int | None:
        """The namespace's limit, its row locked until the transaction ends (PostgreSQL), so that
        creates in a namespace with a limit take turns and cannot both take its last place."""
        q = NamespaceQuotaRow
        statement = select(q.quota_limit).where(q.namespace_id == namespace_id, q.quota_key == quota_key)
        found = (await self._session.execute(statement.with_for_update())).scalar_one_or_none()
        return int(found) if found is not None else None

    async def set_limit(self, namespace_id: int, quota_key: str, limit: int | None) -> None:
        """Set the limit (None: remove it, no limit)."""
        q = NamespaceQuotaRow
        if limit is None:
            await self._session.execute(
                delete(q).where(q.namespace_id == namespace_id, q.quota_key == quota_key)
            )
            return
        now = utcnow()
        values = {"namespace_id": namespace_id, "quota_key": quota_key, "quota_limit": limit}
        insert = postgresql_insert if self._session.dialect == "postgresql" else sqlite_insert
        statement = insert(q).values(**values, created_at=now, updated_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[q.namespace_id, q.quota_key], set_={"quota_limit": limit, "updated_at": now}
        )
        await self._session.execute(statement)

    async def repository_quotas(self, member_id: int | None, namespace: str | None = None) -> list[QuotaUse]:
        """The repository quota and use of every namespace (``member_id`` None) or of those the user
        belongs to, by name; ``namespace``: that one only. One statement: the namespaces, each one's
        quota row and its counts row (primary-key probes)."""
        n, q, c = NamespaceRow, NamespaceQuotaRow, NamespaceCountRow
        used = (
            select(func.coalesce(func.sum(c.repositories), 0)).where(c.namespace_id == n.id).scalar_subquery()
        )
        statement = (
            select(n.id, n.name, q.quota_limit, used)
            .outerjoin(q, (q.namespace_id == n.id) & (q.quota_key == REPOSITORY_QUOTA))
            .order_by(n.name)
        )
        if member_id is not None:
            m = MembershipRow
            statement = statement.join(m, (m.namespace_id == n.id) & (m.user_id == member_id))
        if namespace is not None:
            statement = statement.where(n.name == namespace)
        rows = (await self._session.execute(statement)).all()
        return [
            QuotaUse(row[0], row[1], REPOSITORY_QUOTA, None if row[2] is None else int(row[2]), int(row[3]))
            for row in rows
        ]
