"""The repository list page as SQL text: one prepared statement per query shape.

The hottest read of every dialect (the SWR list page above all) is one round trip: the page, its total
(``count(*) OVER ()``), each row's tag names as an array and the visibility rule (an ``EXISTS`` on the
membership key) in one statement. The SQL text of each query shape (which filters are set, the order,
the visibility kind) is built once and kept, and asyncpg prepares it once per connection; building the
same statement with SQLAlchemy and going through its result layer cost more CPU than the query itself.
Run outside SQLAlchemy's transaction, a lone read sends no BEGIN/ROLLBACK either.

SQLite's reader runs the same text (``$n`` read as ``?n``); having no arrays, it gets each row's tag
names as a JSON array, looked up for the page's rows alone (``sqlite_page_sql``).

The point reads of a repository and the page of a repository's tags (``repositories``) are SQL text
here too, their columns written once, and so is the visibility rule of lists (``visible_sql``), for
every statement shape that applies it: the page, its count, whether a namespace has visible rows.
``readers.Reads`` runs each text on the lone reader or on the session's connection.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from repohub.domain.queries import RepoOrder, RepoQuery, TagOrder, Visibility

# A repository's or tag's creator (``repositories._creator_at``), the users joined as ``c``: in the
# order of ``Creator``'s fields, as every column list here is in its entity's (rows become them by position).
_CREATOR_COLUMNS = """c.id AS creator_id, c.username AS creator_username, c.email AS creator_email,
 c.display_name AS creator_display_name, c.created_at AS creator_created_at,
 c.updated_at AS creator_updated_at"""
# What ``repositories._repository_from_row`` reads, by position; {namespace}: the namespace's name.
_REPOSITORY_COLUMNS = (
    """r.id, r.namespace_id, {namespace} AS namespace, r.name, r.description, r.full_description,
 r.category, r.is_public, r.is_automated, r.logo, r.size, r.tag_count, r.download_count,
 r.upload_count, r.star_count, r.pulled_at, r.pushed_at, r.created_at, r.updated_at, """
    + _CREATOR_COLUMNS
)
_SUMMARY_COLUMNS = """r.id, r.namespace_id, {namespace} AS namespace, r.name, r.description, r.category,
 r.is_public, r.size, r.tag_count, r.download_count, r.created_at, r.updated_at"""
# The total of a page beside its rows: counted with them, or read from the kept counts (``kept``).
_WINDOW_TOTAL = "count(*) OVER () AS total"
# Newest first, the order RepositoryStore.tag_names() gives.
_TAG_NAMES = (
    "ARRAY(SELECT t.name FROM tags t WHERE t.repository_id = r.id"
    " ORDER BY t.created_at DESC, t.id DESC) AS tag_names"
)
_FROM = " FROM repositories r"
# A page of one namespace joins it (its name is the filter); a page across namespaces looks up the
# names of its rows alone: joined, PostgreSQL hashed every namespace for each page (3.4 of 5.8 ms at
# 10,000 namespaces, the fuzzy list's growth from 10k to 1M repositories, docs/benchmarks.md).
_JOIN_NAMESPACE = " JOIN namespaces n ON n.id = r.namespace_id"
_NAMESPACE_OF_ROW = "(SELECT n.name FROM namespaces n WHERE n.id = r.namespace_id)"
_WITH_CREATOR = " LEFT JOIN users c ON c.id = r.creator_id"
_ORDER_COLUMNS = {
    RepoOrder.NAME: "r.name",
    RepoOrder.UPDATED_AT: "r.updated_at",
    RepoOrder.CREATED_AT: "r.created_at",
    RepoOrder.TAG_COUNT: "r.tag_count",
    RepoOrder.DOWNLOADS: "r.download_count",
}
# RepoQuery.is_public as a literal condition of the statement's text, not a parameter: every shape
# keeps its parameters' numbering, and a generic plan knows how many rows the filter keeps (of a
# parameter it would guess).
_PUBLIC_FILTER = {True: "r.is_public IS TRUE", False: "r.is_public IS FALSE"}
EVERYTHING, PUBLIC, MEMBER, ROBOT = "everything", "public", "member", "robot"
# The parameters each visibility kind takes after the filters': MEMBER the user's id and the time
# shares are compared with; ROBOT the robot's namespace and id.
VISIBILITY_PARAMS = {EVERYTHING: 0, PUBLIC: 0, MEMBER: 2, ROBOT: 2}


def visibility_kind(visibility: Visibility) -> str:
    if visibility.everything:
        return EVERYTHING
    if visibility.robot_id is not None:
        return ROBOT
    return PUBLIC if visibility.member_id is None else MEMBER


def visibility_params(visibility: Visibility, kind: str, *, sqlite: bool) -> list[Any]:
    """The parameters of ``visible_sql`` for ``kind``, in its order."""
    if kind == MEMBER:
        now = visibility.now
        if now is None:  # compared with NULL, every share with a deadline would vanish unseen
            raise ValueError("a member's visibility needs the time its shares are compared with")
        return [visibility.member_id, sqlite_time(now) if sqlite else now]
    if kind == ROBOT:
        return [visibility.robot_namespace_id, visibility.robot_id]
    return []


def sqlite_time(moment: datetime) -> str:
    """A UTC time as SQLite's columns hold it (SQLAlchemy's text form), for comparisons in SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# What a user reaches beyond its namespaces, each the caller's own rows looked up once per statement
# (PostgreSQL hashes a subquery of ``IN``, SQLite builds it an index): its repository grants, and the
# repositories shared with a namespace it belongs to whose deadline has not passed. Tested only for
# rows the public flag and the membership have not already let through.
_GRANT_IDS = "SELECT g.repository_id FROM repository_grants g WHERE g.user_id = ${user}"
_SHARE_IDS = (
    "SELECT s.repository_id FROM repository_shares s"
    " JOIN memberships d ON d.namespace_id = s.namespace_id AND d.user_id = ${user}"
    " WHERE s.expires_at IS NULL OR s.expires_at > ${now}"
)
_GRANTED = f"r.id IN ({_GRANT_IDS})"
_SHARED = f"r.id IN ({_SHARE_IDS})"
_MEMBERSHIP_KEY = "m.namespace_id = r.namespace_id AND m.user_id = ${user}"
_ROBOT_MATCHES = (
    "(r.namespace_id = ${namespace} AND EXISTS (SELECT 1 FROM robot_access a"
    " WHERE a.robot_id = ${robot} AND r.name LIKE a.like_pattern ESCAPE '\\'))"
)


def visible_sql(visible: str, first: int, *, probe: bool = False) -> tuple[str, str | None]:
    """The visibility rule of a list, written once for every statement over ``repositories r``: a
    join to add after the FROM and a condition for the WHERE (None: every row is visible).
    ``first``: the number of the kind's first parameter (``VISIBILITY_PARAMS``); ``probe``: look the
    caller's membership up per row rather than join it (``_filtered`` says when each is cheaper)."""
    if visible == EVERYTHING:
        return "", None
    if visible == PUBLIC:
        return "", "r.is_public IS TRUE"
    if visible == ROBOT:
        return "", "(r.is_public IS TRUE OR " + _ROBOT_MATCHES.format(namespace=first, robot=first + 1) + ")"
    beyond = " OR " + _GRANTED.format(user=first) + " OR " + _SHARED.format(user=first, now=first + 1)
    key = _MEMBERSHIP_KEY.format(user=first)
    if probe:
        return "", f"(r.is_public IS TRUE OR (SELECT true FROM memberships m WHERE {key}){beyond})"
    return f" LEFT JOIN memberships m ON {key}", f"(r.is_public IS TRUE OR m.user_id IS NOT NULL{beyond})"


def _public_filter(public: bool, rule: str | None) -> str:
    """The public/private filter's condition beside the visibility rule's. Under a rule that lets
    the public rows alone through (the anonymous one), the private filter keeps none, which the
    planner does not see: it walked the order's whole index for no row (10,000 at 10k). FALSE it
    folds to a page of nothing."""
    if not public and rule == _PUBLIC_FILTER[True]:
        return "FALSE"
    return _PUBLIC_FILTER[public]


@lru_cache(maxsize=512)
def _filtered(namespace: bool, name: bool, category: bool, public: bool | None, visible: str) -> str:
    """FROM and WHERE of a shape; parameters are numbered in that order, from $1 (``public``, the
    public/private filter, takes none). The visibility rule applies under either filter.

    The caller's membership comes in as a LEFT JOIN on its primary key (namespace, user): one probe
    for the page of a namespace. As an EXISTS, PostgreSQL hashed all of the caller's memberships for
    every page instead, 4 ms for a member of 10,000 namespaces.

    A name filter across namespaces probes the membership of each private match alone, as a scalar
    subquery, which PostgreSQL never turns into a hash as it may a join or an EXISTS: a generic plan
    of the prepared statement (PostgreSQL may switch to one after five executions) cannot know that
    a name fragment matches few rows; it guessed 5,000 and hashed the caller's 10,000 memberships for
    ~50 matches, 2.8 ms a page at 1M repositories. With custom plans the probe still saves public
    matches their join: 1.0 → 0.83 ms. Other pages across namespaces may match most rows, for which a
    hash is the cheaper join.

    Every page across namespaces probes so: without a name filter it is the first rows of an order's
    index (migration 0010) tested one by one until the page is full, where a join of the caller's
    memberships first would hash them all (10,000 for the bench user at 1M) and sort every match.
    Its total is not counted with it (``kept``)."""
    conditions: list[str] = []
    if namespace:
        conditions.append(f"n.name = ${len(conditions) + 1}")
    if name:
        conditions.append(f"lower(r.name) LIKE ${len(conditions) + 1} ESCAPE '\\'")
    if category:
        conditions.append(f"r.category = ${len(conditions) + 1}")
    join, condition = visible_sql(visible, len(conditions) + 1, probe=not namespace)
    if public is not None:  # after the numbered ones: it takes no parameter
        conditions.append(_public_filter(public, condition))
    if condition is not None:
        conditions.append(condition)
    joins = _FROM + (_JOIN_NAMESPACE if namespace else "") + join
    return joins + (" WHERE " + " AND ".join(conditions) if conditions else "")


def parameter_count(sql: str) -> int:
    """How many parameters ``sql`` takes: its highest ``$n`` (one may be used more than once). A
    total of only the public part of a list (``kept_total_sql`` with ``public``) takes none of the
    visibility's parameters, and both drivers refuse parameters a statement does not take."""
    return max((int(number) for number in _PARAMETER.findall(sql)), default=0)


_PARAMETER = re.compile(r"\$(\d+)")


def kept(namespace: bool, name: bool, category: bool) -> bool:
    """Whether a shape's total is read from the counts kept per namespace, per category and per member
    (migration 0010) instead of counted with its rows: a page without a name filter, across
    namespaces (whose window count visited every visible repository: 834 ms at 1M) or of one
    namespace without a category (1,000 rows counted for each page of a namespace that holds them)."""
    return not name and not (namespace and category)


def _catalogue(column: str, category: bool) -> str:
    where = " WHERE k.category = $1" if category else ""
    return f"(SELECT coalesce(sum(k.{column}), 0) FROM catalogue_counts k{where})"


# One namespace's kept counts (``$1`` its name) and whether the caller ``{user}`` belongs to it.
_NAMESPACE_COUNT = (
    "(SELECT coalesce(max(c.{column}), 0) FROM namespace_counts c"
    " JOIN namespaces n ON n.id = c.namespace_id WHERE n.name = $1)"
)
_IN_NAMESPACE = "r.namespace_id = (SELECT n.id FROM namespaces n WHERE n.name = $1)"
_BELONGS = (
    "EXISTS (SELECT 1 FROM memberships m JOIN namespaces n ON n.id = m.namespace_id"
    " WHERE n.name = $1 AND m.user_id = ${user})"
)


def _parts(public: bool | None, public_part: str, private_part: str) -> str:
    """A kept total under the public/private filter: both parts, the public one or the private one."""
    if public is None:
        return f"SELECT CAST({public_part} + {private_part} AS BIGINT)"
    return f"SELECT CAST({public_part if public else private_part} AS BIGINT)"


@lru_cache(maxsize=32)
def namespace_total_sql(visible: str, public: bool | None = None) -> str:
    """The total of a page of one namespace (``$1`` its name, then the visibility kind's parameters):
    all of its repositories for a member, else the public ones and the private ones the caller's
    grants, shares or robot patterns reach there (``visible_sql``'s rule, partitioned). ``public``:
    the public part alone, or the private part alone (False)."""
    everything = _NAMESPACE_COUNT.format(column="repositories")
    public_part = _NAMESPACE_COUNT.format(column="public_repositories")
    if visible == EVERYTHING:
        if public is None:
            return f"SELECT CAST({everything} AS BIGINT)"
        return _parts(public, public_part, f"({everything} - {public_part})")
    if visible == PUBLIC:  # the public part is all an anonymous caller sees
        return _parts(True if public is None else public, public_part, "0")
    private = f"{_IN_NAMESPACE} AND r.is_public IS FALSE"
    if visible == ROBOT:
        matches = _ROBOT_MATCHES.format(namespace=2, robot=3)
        return _parts(
            public, public_part, f"(SELECT count(*) FROM repositories r WHERE {private} AND {matches})"
        )
    reached_ids = _GRANT_IDS.format(user=2) + " UNION " + _SHARE_IDS.format(user=2, now=3)
    reached = f"(SELECT count(*) FROM repositories r WHERE {private} AND r.id IN ({reached_ids}))"
    belongs = _BELONGS.format(user=2)
    if public is None:  # a member's total is one counts row, where the parts would be two
        return (
            f"SELECT CAST(CASE WHEN {belongs} THEN {everything} ELSE {public_part} + {reached} END AS BIGINT)"
        )
    return _parts(
        public, public_part, f"CASE WHEN {belongs} THEN {everything} - {public_part} ELSE {reached} END"
    )


def _kept_total(namespace: bool, category: bool, public: bool | None, visible: str) -> str:
    return namespace_total_sql(visible, public) if namespace else kept_total_sql(category, visible, public)


@lru_cache(maxsize=64)
def kept_total_sql(category: bool, visible: str, public: bool | None = None) -> str:
    """The total of a ``kept`` shape, its parameters the shape's ($1 the category if ``category``).

    The repositories ``visible_sql`` lets through, partitioned so that each part is a sum of kept
    rows or a count of a caller's own few: the public ones (the catalogue's counts), then the private
    ones the caller reaches — a member its namespaces' (its own counts) and, outside them, its grants'
    and shares' (the same subqueries as the rule's); a robot its patterns' matches in its namespace.
    ``public``: the public part alone, or the private part alone (False)."""
    everything = _catalogue("repositories", category)
    public_part = _catalogue("public_repositories", category)
    if visible == EVERYTHING:
        if public is None:
            return f"SELECT CAST({everything} AS BIGINT)"
        return _parts(public, public_part, f"({everything} - {public_part})")
    if visible == PUBLIC:  # the public part is all an anonymous caller sees
        return _parts(True if public is None else public, public_part, "0")
    first = 2 if category else 1
    private = "r.is_public IS FALSE" + (" AND r.category = $1" if category else "")
    if visible == ROBOT:
        matches = _ROBOT_MATCHES.format(namespace=first, robot=first + 1)
        return _parts(
            public, public_part, f"(SELECT count(*) FROM repositories r WHERE {private} AND {matches})"
        )
    user = f"${first}"
    own = (
        f"(SELECT coalesce(sum(o.private_repositories), 0) FROM member_counts o WHERE o.user_id = {user}"
        + (" AND o.category = $1)" if category else ")")
    )
    reached_ids = _GRANT_IDS.format(user=first) + " UNION " + _SHARE_IDS.format(user=first, now=first + 1)
    elsewhere = (
        f"(SELECT count(*) FROM repositories r WHERE r.id IN ({reached_ids}) AND {private}"
        f" AND NOT EXISTS (SELECT 1 FROM memberships m WHERE {_MEMBERSHIP_KEY.format(user=first)}))"
    )
    return _parts(public, public_part, f"{own} + {elsewhere}")


@lru_cache(maxsize=1024)
def page_sql(
    namespace: bool, name: bool, category: bool, public: bool | None, visible: str, order: RepoOrder,
    descending: bool, tag_names: bool, summary: bool = False,
) -> str:  # fmt: skip
    """The page statement of one query shape; LIMIT and OFFSET are its last two parameters.
    ``summary``: only the columns of a ``RepositorySummary``."""
    filtered = _filtered(namespace, name, category, public, visible)
    count = parameter_count(filtered)
    direction = "DESC" if descending else "ASC"
    if kept(namespace, name, category):
        total = f"({_kept_total(namespace, category, public, visible)}) AS total"
    else:
        total = _WINDOW_TOTAL
    columns = (
        (_SUMMARY_COLUMNS if summary else _REPOSITORY_COLUMNS).format(
            namespace="n.name" if namespace else _NAMESPACE_OF_ROW
        )
        + (", " + total)
        + (", " + _TAG_NAMES if tag_names else "")
    )
    if not summary:  # the creator's columns
        filtered = filtered.replace(_FROM, _FROM + _WITH_CREATOR, 1)
    return (
        f"SELECT {columns}{filtered}"
        f" ORDER BY {_ORDER_COLUMNS[order]} {direction}, r.id {direction}"
        f" LIMIT ${count + 1} OFFSET ${count + 2}"
    )


# Newest first as well: SQLite (3.40) has no ORDER BY inside an aggregate, and aggregates an ordered
# subquery in its order (an aggregate's subquery with ORDER BY is never flattened).
_SQLITE_TAG_NAMES = (
    "(SELECT json_group_array(name) FROM (SELECT t.name FROM tags t WHERE t.repository_id = p.id"
    " ORDER BY t.created_at DESC, t.id DESC)) AS tag_names"
)


@lru_cache(maxsize=512)
def sqlite_page_sql(
    namespace: bool, name: bool, category: bool, public: bool | None, visible: str, order: RepoOrder,
    descending: bool, summary: bool = False,
) -> str:  # fmt: skip
    """``page_sql`` with each row's tag names as a JSON array, for SQLite's reader.

    One statement, where a second one for the tag names cost the reader another hop to its thread.
    The names are looked up around the page, for its rows alone: as a column of the page itself,
    SQLite computed them for every matching row before the LIMIT (250 → 310 µs a page at 10k)."""
    page = page_sql(namespace, name, category, public, visible, order, descending, False, summary)
    direction = "DESC" if descending else "ASC"
    column = _ORDER_COLUMNS[order].removeprefix("r.")
    ordered = f" ORDER BY p.{column} {direction}, p.id {direction}"
    return f"SELECT p.*, {_SQLITE_TAG_NAMES} FROM ({page}) p{ordered}"


@lru_cache(maxsize=256)
def count_sql(namespace: bool, name: bool, category: bool, public: bool | None, visible: str) -> str:
    """The total of a shape alone (a page past the end has no row to carry it); it may take fewer
    parameters than the page (``parameter_count``)."""
    if kept(namespace, name, category):
        return _kept_total(namespace, category, public, visible)
    return "SELECT count(*)" + _filtered(namespace, name, category, public, visible)


@lru_cache(maxsize=8)
def exists_sql(visible: str) -> str:
    """Whether namespace $1 has a repository visible under ``visible`` (its parameters from $2)."""
    join, condition = visible_sql(visible, 2)
    return (
        f"SELECT 1{_FROM}{join} WHERE r.namespace_id = $1"
        + (f" AND {condition}" if condition else "")
        + " LIMIT 1"
    )


# One repository by id or by (namespace id, name): the lone point reads of ``RepositoryStore``.
_ONE_REPOSITORY = (
    f"SELECT {_REPOSITORY_COLUMNS.format(namespace='n.name')}{_FROM}{_JOIN_NAMESPACE}{_WITH_CREATOR}"
)
REPOSITORY_BY_ID_SQL = _ONE_REPOSITORY + " WHERE r.id = $1"
# ``REPOSITORY_BY_ID_SQL`` with the rest of its namespace's columns after the creator's (an ABEJA
# page shows both: one read where the namespace's own lookup made two, ~100 µs of CPU, issue 19).
_NAMESPACE_REST = (
    ", n.kind AS namespace_kind, n.display_name AS namespace_display_name,"
    " n.creator_id AS namespace_creator_id, n.created_at AS namespace_created_at,"
    " n.updated_at AS namespace_updated_at"
)
REPOSITORY_AND_NAMESPACE_BY_ID_SQL = (
    f"SELECT {_REPOSITORY_COLUMNS.format(namespace='n.name')}{_NAMESPACE_REST}"
    f"{_FROM}{_JOIN_NAMESPACE}{_WITH_CREATOR} WHERE r.id = $1"
)
REPOSITORY_BY_NAME_SQL = _ONE_REPOSITORY + " WHERE r.namespace_id = $1 AND r.name = $2"
# By namespace name and name ($1, $2): ``CatalogService.repository``'s one read, where the namespace's
# own lookup first was a second round trip (~100 µs of CPU of each v1 detail, issue 19).
REPOSITORY_BY_PATH_SQL = _ONE_REPOSITORY + " WHERE n.name = $1 AND r.name = $2"


# A tag with its creator (``repositories._tag_from_row``, by position), for the tag page.
_TAG_COLUMNS = (
    "t.id, t.repository_id, t.name, t.digest, t.image_id, t.media_type, t.size, t.manifest, t.created_at,"
    " t.updated_at, t.pull_count, t.pulled_at, " + _CREATOR_COLUMNS
)
_TAG_CREATOR = " LEFT JOIN users c ON c.id = t.creator_id"
_TAG_ORDER_COLUMNS = {
    TagOrder.NAME: "t.name",
    TagOrder.UPDATED_AT: "t.updated_at",
    TagOrder.CREATED_AT: "t.created_at",
}


def _tags_where(name: bool) -> str:
    """The tags of repository $1; the one named $2 if ``name``."""
    return " WHERE t.repository_id = $1" + (" AND t.name = $2" if name else "")


@lru_cache(maxsize=16)
def tag_page_sql(name: bool, order: TagOrder, descending: bool) -> str:
    """A page of tags with the total (``TagStore.page``); LIMIT and OFFSET are its last two parameters."""
    direction = "DESC" if descending else "ASC"
    count = 2 if name else 1
    return (
        f"SELECT {_TAG_COLUMNS}, count(*) OVER () AS total FROM tags t{_TAG_CREATOR}{_tags_where(name)}"
        f" ORDER BY {_TAG_ORDER_COLUMNS[order]} {direction}, t.id {direction}"
        f" LIMIT ${count + 1} OFFSET ${count + 2}"
    )


TAG_BY_NAME_SQL = f"SELECT {_TAG_COLUMNS} FROM tags t{_TAG_CREATOR}{_tags_where(True)}"


def tag_count_sql(name: bool) -> str:
    return "SELECT count(*) FROM tags t" + _tags_where(name)


def shape(
    query: RepoQuery, visibility: Visibility, pattern: str | None, *, sqlite: bool = False
) -> tuple[tuple[Any, ...], list[Any]]:
    """The shape key (which filters are set) and the filter parameters, in the statement's order."""
    params: list[Any] = []
    for value in (query.namespace, pattern, query.category):
        if value is not None:
            params.append(value)
    kind = visibility_kind(visibility)
    params.extend(visibility_params(visibility, kind, sqlite=sqlite))
    key = (
        query.namespace is not None,
        pattern is not None,
        query.category is not None,
        query.is_public,
        kind,
    )
    return key, params
