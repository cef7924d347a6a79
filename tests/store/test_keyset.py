"""Keyset pages (``store.keyset``): the lone read and the session's agree, and a deep page at the middle
of 100,000 repositories is an index range scan from the marker, not a scan from the start."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from repohub.domain.clock import utcnow
from repohub.domain.queries import RepoWalk, TagWalk, Visibility
from repohub.store import pg_pages
from repohub.store.keyset import repository_walk_sql, tag_walk_sql
from tests.store.test_lone_reads import both
from tests.world import World

ROWS, NAMESPACES = 100_000, 20


async def test_lone_and_session_walks_agree(app: FastAPI, world: World) -> None:
    await world.account("alice")
    await world.org("team", owner="alice")
    alice = await world.user_id("alice")
    for number in range(5):
        await world.repository(f"team/app{number}", by="alice", public=number % 2 == 0)
    app_id = await world.repository_id("team/app0")
    for name in ("v1", "v2", "v3"):
        await world.tag(app_id, name, manifest="{}", creator="alice")
    member = Visibility(member_id=alice, now=utcnow())
    first = await both(app, lambda store: store.keyset.repositories(RepoWalk(limit=2), member))
    assert [repo.name for repo in first.items] == ["app0", "app1"] and first.more
    rest = await both(
        app, lambda store: store.keyset.repositories(RepoWalk(after=first.items[-1].id, limit=10), member)
    )
    assert [repo.name for repo in rest.items] == ["app2", "app3", "app4"] and not rest.more
    public = await both(app, lambda store: store.keyset.repositories(RepoWalk(), Visibility()))
    assert [repo.name for repo in public.items] == ["app0", "app2", "app4"]
    tags = await both(app, lambda store: store.keyset.tags(app_id, TagWalk(limit=2)))
    assert [tag.name for tag in tags.items] == ["v1", "v2"] and tags.more
    assert tags.items[0].creator is not None and tags.items[0].creator.username == "alice"


async def _seed(app: FastAPI, world: World) -> int:
    """100,000 repositories over 20 namespaces (round robin by id) and 1,000 tags in one; the id at
    the middle."""
    await world.account("alice")
    first = min([await world.org(f"ns{number:02d}", owner="alice") for number in range(NAMESPACES)])
    state = app.state.repohub
    now: Any = utcnow()
    if state.engine.dialect.name != "postgresql":
        now = pg_pages.sqlite_time(now)
    insert = (
        "INSERT INTO repositories (namespace_id, name, description, full_description, category,"
        " is_public, is_automated, logo, size, tag_count, download_count, upload_count, star_count,"
        f" created_at, updated_at) SELECT $1 + (q.n % {NAMESPACES}), 'r' || q.n, '', '', 'other',"
        f" q.n % 3 = 0, false, 'default-icon.jpg', 0, 0, 0, 0, 0, $2, $2 FROM ({_series(state, ROWS)}) q"
    )
    async with state.sessions() as session:
        await _run(session, insert, [first, now])
        await session.commit()
    repository = await world.repository_id("ns00/r0")
    async with state.sessions() as session:
        tags = (
            "INSERT INTO tags (repository_id, name, digest, image_id, media_type, size, created_at,"
            " updated_at, pull_count) SELECT $1, 't' || q.n, 'sha256:' || q.n, 'i' || q.n, 'm', 0, $2,"
            f" $2, 0 FROM ({_series(state, 1000)}) q"
        )
        await _run(session, tags, [repository, now])
        await session.execute(text("ANALYZE"))
        await session.commit()
    async with state.sessions() as session:
        ids = (await session.execute(text("SELECT min(id), max(id) FROM repositories"))).one()
    return int(ids[0] + (ids[1] - ids[0]) // 2)


async def _namespace_id(app: FastAPI, name: str) -> int:
    async with app.state.repohub.sessions() as session:
        found = await session.execute(text("SELECT id FROM namespaces WHERE name = :name"), {"name": name})
        return int(found.scalar_one())


def _series(state: Any, count: int) -> str:
    """The numbers 0 to ``count`` - 1 as a query yielding ``n``."""
    if state.engine.dialect.name == "postgresql":
        return f"SELECT g AS n FROM generate_series(0, {count - 1}) g"
    counted = f"SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {count - 1}"
    return f"WITH RECURSIVE s(n) AS ({counted}) SELECT n FROM s"


async def _run(session: Any, sql: str, params: list[Any]) -> None:
    """``sql`` (``$n`` parameters) on the session's connection. On PostgreSQL without the row
    triggers: the counts' (migration 0010) update the same 20 rows 100,000 times in one transaction,
    each update walking the versions before it (400 s measured). No count is read here, and the next
    test's TRUNCATE fires no row trigger."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await connection.exec_driver_sql(re.sub(r"\$(\d+)", r"?\1", sql), tuple(params))
        return
    raw = (await connection.get_raw_connection()).driver_connection
    await raw.execute("SET session_replication_role = replica")
    try:
        await raw.execute(sql, *params, timeout=120)
    finally:
        await raw.execute("RESET session_replication_role")


async def _plan(app: FastAPI, sql: str, params: list[Any], *, generic: bool = False) -> str:
    """The plan of ``sql`` with ``params``: PostgreSQL's EXPLAIN ANALYZE (``generic``: the plan a
    prepared statement may switch to after five runs), SQLite's EXPLAIN QUERY PLAN."""
    state = app.state.repohub
    async with state.sessions() as session:
        connection = await session.connection()
        if state.engine.dialect.name != "postgresql":
            numbered = re.sub(r"\$(\d+)", r"?\1", sql)  # as SQLite's reader reads them
            rows = (await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + numbered, tuple(params))).all()
            return "\n".join(str(row[-1]) for row in rows)
        raw = (await connection.get_raw_connection()).driver_connection
        if generic:
            await raw.execute("SET plan_cache_mode = force_generic_plan")
        try:
            rows = await raw.fetch("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *params)
        finally:
            await raw.execute("RESET plan_cache_mode")
        found = rows[0][0]
        return json.dumps(json.loads(found) if isinstance(found, str) else found, indent=1)


async def test_a_page_at_the_middle_of_100k_repositories_is_an_index_range_scan(
    app: FastAPI, world: World
) -> None:
    middle = await _seed(app, world)
    postgresql = app.state.repohub.engine.dialect.name == "postgresql"
    everything = repository_walk_sql(False, False, False, False, pg_pages.EVERYTHING)
    one_namespace = repository_walk_sql(True, False, False, False, pg_pages.EVERYTHING)
    public = repository_walk_sql(False, False, False, False, pg_pages.PUBLIC)
    alice = await world.user_id("alice")
    member = repository_walk_sql(False, False, False, False, pg_pages.MEMBER)
    now = utcnow() if postgresql else pg_pages.sqlite_time(utcnow())
    tag_page = tag_walk_sql(False)
    ns07 = await _namespace_id(app, "ns07")
    cases = [
        (everything, [middle, 101], "pk_repositories"),
        (one_namespace, [ns07, middle, 101], "ix_repositories_namespace_id_id|pk_repositories"),
        # A page that is not full: the namespace's last, and a namespace without rows. With the id
        # looked up in the statement, PostgreSQL read every row after the marker (1M at 1M).
        (one_namespace, [ns07, 99_990, 101], "ix_repositories_namespace_id_id|pk_repositories"),
        (one_namespace, [10**9, 0, 101], "ix_repositories_namespace_id_id|pk_repositories"),
        (public, [middle, 101], "pk_repositories"),
        (member, [alice, now, middle, 101], "pk_repositories"),
        (tag_page, [await world.repository_id("ns00/r0"), 0, 101], "ix_tags_repository_id_id|pk_tags"),
    ]
    for sql, params, index in cases:
        if not postgresql:
            plan = await _plan(app, sql, params)
            assert "SCAN r" not in plan and "SCAN t" not in plan, plan  # a search, never a full scan
            assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # the index gives the order
            continue
        for generic in (False, True):
            plan = await _plan(app, sql, params, generic=generic)
            print(f"-- {generic} {sql}\n{_shape(plan)}")  # the docstring of store.keyset quotes these
            assert any(name in plan for name in index.split("|")), (generic, plan)
            # The namespaces' 21 rows may be read whole (cheaper than their index); the big tables never.
            scanned = {node.get("Relation Name") for node in _nodes(plan) if node["Node Type"] == "Seq Scan"}
            assert not scanned & {"repositories", "tags"}, (generic, plan)
            assert all(node["Node Type"] != "Sort" for node in _nodes(plan)), (generic, plan)
            # Rows read, kept or filtered out: about its page's (a namespace's are 1 in 20 of the primary
            # key's range), never the 50,000 before the marker.
            read = max(
                (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
                for node in _nodes(plan)
            )
            assert read <= 2_500, (generic, read, plan)


def _shape(plan: str) -> str:
    """A JSON plan's nodes as indented lines: type, index, condition, rows."""
    lines: list[str] = []

    def visit(node: dict[str, Any], depth: int) -> None:
        parts = [node["Node Type"], node.get("Index Name", ""), node.get("Index Cond", "")]
        rows = f"rows={node.get('Actual Rows')} loops={node.get('Actual Loops')}"
        rows += f" removed={node.get('Rows Removed by Filter', 0)}"
        lines.append("  " * depth + " ".join(part for part in parts if part) + " " + rows)
        for child in node.get("Plans", []):
            visit(child, depth + 1)

    for entry in json.loads(plan):
        visit(entry["Plan"], 0)
    return "\n".join(lines)


def _nodes(plan: str) -> list[dict[str, Any]]:
    """Every node of a JSON plan."""
    found: list[dict[str, Any]] = []

    def visit(node: dict[str, Any]) -> None:
        found.append(node)
        for child in node.get("Plans", []):
            visit(child)

    for entry in json.loads(plan):
        visit(entry["Plan"])
    return found
