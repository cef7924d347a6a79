"""``python -m bench.plans``: PostgreSQL's ``EXPLAIN (ANALYZE, BUFFERS)`` of each list scenario's SQL.

A reviewer of a plan change wants to see whether a first page is a top-N index scan or a sort of
every visible row, at the size that matters (1M). The statements are not copied here: each scenario's
query object is built as its dialect builds it (SWR's from the scenario's own query string through
``api.swr.filters``; v1's and ABEJA's as their routers do) and handed, with the visibility
``domain.access`` gives the bench user (or the site admin), to the store's own page method. The store
sends its SQL (``store.pg_pages``) to a reader that runs each statement and explains it twice: as a
custom plan (the parameters known, what PostgreSQL plans for the first five executions of a prepared
statement) and as a generic one (``plan_cache_mode = force_generic_plan``: what it switches to after
them when the generic plan's estimate is no worse, for every later request of a served app). Each
plan gets a one-line verdict: the most rows any node touched (returned plus removed by filters, over
its loops) against the page's 20. A list scenario gets its plans once ``CALLS`` knows which store
call it makes (the v3 marker page: add its keyset call there). Store calls no dialect serves yet have
plans-only scenarios (``PLAN_ONLY``): the web catalogue's first page by pulls (issue 20).

python -m bench.plans --size 1m --database bench_1m
python -m bench.plans --size 10k --scenarios swr_admin,swr_member --plan generic
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import asyncpg

from bench import dataset as data
from bench.dataset import ADMIN_USER, BENCH_USER
from bench.scenarios import BY_KEY, LIST_PAGES, Scenario, expand
from repohub import defaults
from repohub.api.swr import filters
from repohub.domain import access
from repohub.domain.entities import Principal, User
from repohub.domain.queries import RepoOrder, RepoQuery, TagQuery, Visibility
from repohub.store.repositories import RepositoryStore, TagStore
from repohub.store.session import LazySession

__all__ = ["PLAN_ONLY", "Explained", "Explaining", "main", "verdict"]

MODES = ("custom", "generic")
# A first page touching more than this many rows per row shown is not a top-N scan.
TOP_N_FACTOR = 10


@dataclass
class Explained:
    sql: str
    params: list[Any]
    plans: dict[str, tuple[str, str]] = field(default_factory=dict)  # mode → (verdict, text plan)


class Explaining:
    """A reader (``store.readers.Reader``) that runs each statement for real, then explains it."""

    def __init__(self, connection: asyncpg.Connection, modes: Sequence[str], page_rows: int) -> None:
        self._connection = connection
        self._modes = modes
        self._page_rows = page_rows
        self.statements: list[Explained] = []

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        rows: list[Any] = await self._connection.fetch(sql, *params)  # first, so the plans read warm pages
        explained = Explained(sql, list(params))
        for mode in self._modes:
            plan = await (self._generic(sql, params) if mode == "generic" else self._custom(sql, params))
            explained.plans[mode] = plan
        self.statements.append(explained)
        return rows

    async def close(self) -> None:
        """The connection is the caller's."""

    async def _custom(self, sql: str, params: Sequence[Any]) -> tuple[str, str]:
        text = await self._connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *params)
        return self._explained([row[0] for row in text])

    async def _generic(self, sql: str, params: Sequence[Any]) -> tuple[str, str]:
        """EXECUTE takes no bound parameters: the values go in as literals, each typed by PREPARE."""
        connection = self._connection
        arguments = ", ".join(_literal(value) for value in params)
        execute = f"EXECUTE bench_plan({arguments})" if params else "EXECUTE bench_plan"
        async with connection.transaction():
            await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE bench_plan AS {sql}")
            try:
                text = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {execute}")
            finally:
                await connection.execute("DEALLOCATE bench_plan")
        return self._explained([row[0] for row in text])

    def _explained(self, lines: list[str]) -> tuple[str, str]:
        return verdict(lines, self._page_rows), "\n".join(lines)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


_NODE = re.compile(
    r"^\s*(?:->\s+)?(?P<name>.+?)\s+\(cost=[^)]*\)\s+(?P<actual>\(actual[^)]*\)|\(never executed\))"
)
_ACTUAL = re.compile(r"rows=(\d+) loops=(\d+)")
_REMOVED = re.compile(r"^\s*Rows Removed by (?:Filter|Join Filter|Index Recheck): (\d+)")
_BUFFERS = re.compile(r"^\s*Buffers: (.*)$")
_EXECUTION = re.compile(r"^Execution Time: ([\d.]+) ms")


@dataclass
class _Node:
    name: str
    rows: int  # per loop
    loops: int
    removed: int = 0  # per loop, as EXPLAIN gives it

    @property
    def touched(self) -> int:
        """Rows the node returned and threw away (its filters'), over all its loops."""
        return (self.rows + self.removed) * self.loops


def _nodes(lines: Sequence[str]) -> list[_Node]:
    nodes: list[_Node] = []
    for line in lines:
        node = _NODE.match(line)
        if node is not None:
            actual = _ACTUAL.search(node["actual"])
            rows, loops = (int(actual[1]), int(actual[2])) if actual else (0, 0)
            nodes.append(_Node(node["name"], rows, loops))
            continue
        removed = _REMOVED.match(line)
        if removed is not None and nodes:
            nodes[-1].removed += int(removed[1])
    return nodes


def verdict(lines: Sequence[str], page_rows: int) -> str:
    """One line of an ``EXPLAIN (ANALYZE, BUFFERS)``: top-N or not (no node touched more than
    ``TOP_N_FACTOR`` rows per row of the page), the widest node, the sorts, the buffers of the whole
    statement (its first node's) and the execution time."""
    nodes = _nodes(lines)
    if not nodes:
        return "no plan read"
    widest = max(nodes, key=lambda node: node.touched)
    sorts = [f"{node.touched:,}" for node in nodes if node.name in ("Sort", "Incremental Sort")]
    buffers = next((found[1] for line in lines if (found := _BUFFERS.match(line))), "no buffers")
    execution = next((found[1] for line in lines if (found := _EXECUTION.match(line))), "?")
    kind = "yes" if widest.touched <= TOP_N_FACTOR * page_rows else "NO"
    return (
        f"top-N: {kind}; widest node {widest.name!r} touched {widest.touched:,} rows for a page of"
        f" {page_rows}; sorts: {', '.join(sorts) + ' rows' if sorts else 'none'}; buffers {buffers};"
        f" execution {execution} ms"
    )


# -- what each list scenario asks the store ----------------------------------------------------
Sample = tuple[str, str, int, int]
Call = Callable[[RepositoryStore, TagStore, Visibility, Sample, str], Awaitable[object]]


async def _swr_page(
    repos: RepositoryStore, _tags: TagStore, seen: Visibility, _s: Sample, path: str
) -> object:
    """As ``api.swr.router.list_repos_details`` reads its query string (``filter`` aside)."""
    given = dict(parse_qsl(urlsplit(path).query))
    params = {key: given.get(key) for key in filters.REPO_KEYS}
    query, _page = filters.repo_query(filters.merged(params, None, filters.REPO_KEYS))
    return await repos.summaries(query, seen)


async def _namespace_page(
    repos: RepositoryStore, _t: TagStore, seen: Visibility, sample: Sample, _p: str
) -> object:
    """v1's and ABEJA's first page of a namespace (their routers' RepoQuery, ``namespace_page``'s
    namespace), 20 by name."""
    return await repos.page(RepoQuery(namespace=sample[0], offset=0, limit=20, order=RepoOrder.NAME), seen)


async def _tag_page(_r: RepositoryStore, tags: TagStore, _v: Visibility, sample: Sample, _p: str) -> object:
    """ABEJA's tags page (its router's TagQuery: newest first)."""
    return await tags.page(sample[3], TagQuery(offset=0, limit=20))


async def _pulls_page(
    repos: RepositoryStore, _t: TagStore, seen: Visibility, _s: Sample, path: str
) -> object:
    """The web catalogue's first page by pulls, most first (``RepoOrder.DOWNLOADS``), the private
    repositories alone if the path says so: meant to walk ``ix_repositories_download_count_id``
    backwards as the other orders walk theirs, a top-N scan."""
    public = False if path.endswith("private") else None
    query = RepoQuery(limit=20, order=RepoOrder.DOWNLOADS, descending=True, is_public=public)
    return await repos.summaries(query, seen)


def _plan_only(key: str, title: str, path: str, user: str = BENCH_USER) -> Scenario:
    """A list page no dialect serves yet (no route, no wrk script): its path only names it."""
    return Scenario(key, title, "get", "", path, "", user=user)


PLAN_ONLY = {
    scenario.key: scenario
    for scenario in (
        _plan_only("catalogue_by_pulls", "Catalogue page by pulls, member", "catalogue?order=pulls"),
        _plan_only(
            "catalogue_admin_by_pulls", "Catalogue page by pulls, admin", "catalogue?order=pulls", ADMIN_USER
        ),
        _plan_only(
            "catalogue_private_by_pulls", "Catalogue page by pulls, private", "catalogue?order=pulls&private"
        ),
    )
}
CALLS: dict[str, Call] = {
    **{key: _swr_page for key in LIST_PAGES if key.startswith("swr_")},
    "v1_list": _namespace_page,
    "abeja_list": _namespace_page,
    "abeja_tags": _tag_page,
    **{key: _pulls_page for key in PLAN_ONLY},
}


def _no_session() -> Any:
    raise RuntimeError("bench.plans reads through its explaining reader only")


async def _user(connection: asyncpg.Connection, name: str) -> User:
    row = await connection.fetchrow(
        "SELECT id, username, email, display_name, is_admin, created_at, updated_at FROM users"
        " WHERE username = $1",
        name,
    )
    if row is None:
        raise SystemExit(f"bench.plans: no user {name!r} in this database (is it a bench dataset?)")
    return User(**dict(row))


async def explain(dsn: str, dataset: data.Dataset, keys: Sequence[str], modes: Sequence[str]) -> None:
    # The served app's session settings (JIT off), else a generic plan's JIT compile is what shows.
    connection = await asyncpg.connect(dsn, server_settings=dict(defaults.PG_SESSION_SETTINGS))
    try:
        sample = dataset.sample(1)[0]
        for key in keys:
            scenario = BY_KEY.get(key) or PLAN_ONLY[key]
            path = expand(scenario.path, sample)
            user = await _user(connection, scenario.user)
            reader = Explaining(connection, modes, page_rows=20)
            session = LazySession(_no_session, "postgresql")
            seen = access.visibility(Principal(user=user, via="token"), datetime.now(UTC))
            await CALLS[key](RepositoryStore(session, reader), TagStore(session, reader), seen, sample, path)
            _print(key, scenario.title, f"GET {path} as {user.username}", reader.statements)
    finally:
        await connection.close()


def _print(key: str, title: str, request: str, statements: list[Explained]) -> None:
    print(f"== {key}: {title}\n   {request}")
    for number, statement in enumerate(statements, 1):
        print(
            f"-- statement {number}: {' '.join(statement.sql.split())}\n-- parameters: {statement.params!r}"
        )
        for mode, (line, text) in statement.plans.items():
            print(f"-- {mode} plan: {line}\n{text}")
    print(flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plans", description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1m", help="the dataset's size (NxMxT or 10k, 100k, 1m, 20x1000)")
    parser.add_argument("--database", help="its database (default: the bench's own for the size)")
    parser.add_argument(
        "--server", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--scenarios", default=",".join(CALLS), help=f"of {', '.join(CALLS)}")
    parser.add_argument("--plan", choices=("custom", "generic", "both"), default="both")
    args = parser.parse_args(argv)
    keys = [key for key in args.scenarios.split(",") if key]
    unknown = [key for key in keys if key not in CALLS]
    if unknown:
        parser.error(f"no plan for {unknown}; known: {', '.join(CALLS)}")
    size = data.Size.parse(args.size)
    database = args.database or data.pg_database(size)
    dataset = data.open_pg(args.server, size, database)
    modes = MODES if args.plan == "both" else (args.plan,)
    print(f"bench.plans: {database}, {size.repositories:,} repositories ({size.label})\n", flush=True)
    asyncio.run(explain(data.pg_dsn(dataset.url), dataset, keys, modes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
