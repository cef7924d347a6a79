"""Keyset pages (SWR v3's marker): repositories and a repository's tags by id, after a given id.

An offset page walks and discards every row before it (``offset=900000`` costs 900,000 rows); a
keyset page starts where the last one ended, with an index range scan, and costs its own rows at any
depth. The key is the row's id: it never changes, so a walk sees every row that exists throughout it
exactly once, and a row created or deleted during the walk at most once, whatever else changes.

Each page is one statement on ``readers.Reads`` (the lone reader, or the session after a write): the
filters of the v2 list (namespace, the same case-insensitive name fragment, category) plus
``is_public``, the visibility rule of every list (``pg_pages.visible_sql``, never restated here),
``id > marker``, ``ORDER BY id`` and one row past the page, which tells whether another page follows.
No total: a count is what the marker spares.

Plans (PostgreSQL, 100,000 repositories round robin over 20 namespaces, a third public, marker at
the middle id; ``EXPLAIN ANALYZE``, custom and generic plans alike; ``tests/store/test_keyset.py``
asserts the shape and the rows read):

* unfiltered (site admin), or a member across namespaces: ``Limit -> Index Scan using
  pk_repositories, Index Cond: (id > 50000)``, 101 rows read; the namespace name and the member's
  membership probed per row by key, grants and live shares hashed once (both 0.3-0.5 ms);
* public only: the same range scan, 101 kept and 201 filtered out (1 in 3 public);
* one namespace: its id looked up first and given as ``$1``, then the range (namespace_id, id >
  marker) of ``ix_repositories_namespace_id_id``, or the primary key's range with the namespace as a
  filter when the namespace's rows are dense; a page that is not full (the namespace's last, an
  empty namespace) reads its own rows only;
* tags: ``ix_tags_repository_id_id`` (repository_id = $1 AND id > marker), or the primary key's
  range when one repository holds the tags.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from repohub.domain.entities import RepositorySummary, Tag, Walk
from repohub.domain.queries import RepoWalk, TagWalk, Visibility
from repohub.store.pg_pages import VISIBILITY_PARAMS, visibility_kind, visibility_params, visible_sql
from repohub.store.readers import Reader, Reads
from repohub.store.repositories import _escape_like, _tag_from_row
from repohub.store.session import LazySession

__all__ = ["KeysetStore", "repository_walk_sql", "tag_walk_sql"]

# A RepositorySummary's fields but its tag names, in their order; {namespace}: the namespace's name.
_REPOSITORY_COLUMNS = (
    "r.id, r.namespace_id, {namespace} AS namespace, r.name, r.description, r.category, r.is_public,"
    " r.size, r.tag_count, r.download_count, r.created_at, r.updated_at"
)
_SUMMARY_FIELDS = len(RepositorySummary._fields) - 1
# One namespace's id is looked up first and given as a parameter, so that the walk is a range of the
# index (namespace_id, id) in id order. Joined, PostgreSQL walked the primary key from the marker and
# kept the namespace's rows (2,008 rows read for a page of 101 with 20 namespaces at 100k); as a
# subquery (an InitPlan) it did the same and, on a page that is not full (the last one, an empty or
# unknown namespace, an outsider's), read every row after the marker: 1,000,150 rows, 245-480 ms at
# 1M. With the id as a parameter: the index range, 0.03-0.13 ms, custom and generic plans alike.
_IN_NAMESPACE = "r.namespace_id = ${}"
_NAMESPACE_ID_SQL = "SELECT n.id FROM namespaces n WHERE n.name = $1"
_NAMESPACE_OF_ROW = "(SELECT n.name FROM namespaces n WHERE n.id = r.namespace_id)"
# What ``repositories._tag_from_row`` reads, the creator joined as ``c``.
_TAG_COLUMNS = (
    "t.id, t.repository_id, t.name, t.digest, t.image_id, t.media_type, t.size, t.manifest,"
    " t.created_at, t.updated_at, t.pull_count, t.pulled_at, c.id AS creator_id,"
    " c.username AS creator_username, c.email AS creator_email, c.display_name AS creator_display_name,"
    " c.created_at AS creator_created_at, c.updated_at AS creator_updated_at"
)


@lru_cache(maxsize=128)
def repository_walk_sql(namespace: bool, name: bool, category: bool, public: bool, visible: str) -> str:
    """The page statement of one filter shape: the filters' parameters from $1 in that order, then the
    visibility kind's (``VISIBILITY_PARAMS``), then the marker and the row count.

    Across namespaces the caller's membership is probed per row (``visible_sql``'s ``probe``): the page
    is a range scan of the primary key in id order that stops after its rows, and a join to the
    caller's memberships would let PostgreSQL hash them all for every page."""
    conditions: list[str] = []
    for wanted, condition in (
        (namespace, _IN_NAMESPACE),
        (name, "lower(r.name) LIKE ${} ESCAPE '\\'"),
        (category, "r.category = ${}"),
        (public, "r.is_public = ${}"),
    ):
        if wanted:
            conditions.append(condition.format(len(conditions) + 1))
    first = len(conditions) + 1
    join, visibility = visible_sql(visible, first, probe=not namespace)
    if visibility is not None:
        conditions.append(visibility)
    marker = first + VISIBILITY_PARAMS[visible]
    conditions.append(f"r.id > ${marker}")
    columns = _REPOSITORY_COLUMNS.format(namespace=_NAMESPACE_OF_ROW)
    source = " FROM repositories r" + join
    return f"SELECT {columns}{source} WHERE {' AND '.join(conditions)} ORDER BY r.id LIMIT ${marker + 1}"


@lru_cache(maxsize=4)
def tag_walk_sql(name: bool) -> str:
    """The tags of repository $1 (the one named $2 if ``name``) after the marker, by id; the marker
    and the row count are the last two parameters."""
    marker = 3 if name else 2
    named = " AND t.name = $2" if name else ""
    return (
        f"SELECT {_TAG_COLUMNS} FROM tags t LEFT JOIN users c ON c.id = t.creator_id"
        f" WHERE t.repository_id = $1{named} AND t.id > ${marker} ORDER BY t.id LIMIT ${marker + 1}"
    )


class KeysetStore:
    """The keyset pages, each one statement on ``Reads``."""

    __slots__ = ("_reads", "_sqlite")

    def __init__(self, session: LazySession, reader: Reader | None = None) -> None:
        self._reads = Reads(session, reader)
        self._sqlite = session.dialect != "postgresql"

    async def repositories(self, walk: RepoWalk, visibility: Visibility) -> Walk[RepositorySummary]:
        """The visible repositories of ``walk`` after its marker, by id (no tag names)."""
        kind = visibility_kind(visibility)
        pattern = f"%{_escape_like(walk.name_contains.lower())}%" if walk.name_contains else None
        namespace_id: int | None = None
        if walk.namespace is not None:
            if "\x00" in walk.namespace:  # no stored name holds NUL, and PostgreSQL refuses one
                return Walk(items=[], more=False)
            found = await self._reads.fetch(_NAMESPACE_ID_SQL, [walk.namespace])
            if not found:  # what an empty namespace answers
                return Walk(items=[], more=False)
            namespace_id = int(found[0][0])
        filters = (namespace_id, pattern, walk.category, walk.is_public)
        params: list[Any] = [value for value in filters if value is not None]
        params += visibility_params(visibility, kind, sqlite=self._sqlite)
        sql = repository_walk_sql(*(value is not None for value in filters), kind)
        rows = await self._reads.fetch(sql, [*params, walk.after, walk.limit + 1])
        # The splat of ``repositories._summary_from_row``: a thousand rows a page at most.
        items = [RepositorySummary(*row[:_SUMMARY_FIELDS]) for row in rows[: walk.limit]]
        return Walk(items=items, more=len(rows) > walk.limit)

    async def tags(self, repository_id: int, walk: TagWalk) -> Walk[Tag]:
        """The tags of the repository after ``walk``'s marker, by id."""
        named = walk.name is not None
        params: list[Any] = [repository_id, walk.name] if named else [repository_id]
        rows = await self._reads.fetch(tag_walk_sql(named), [*params, walk.after, walk.limit + 1])
        return Walk(items=[_tag_from_row(row) for row in rows[: walk.limit]], more=len(rows) > walk.limit)
