"""Fill repohub's own schema fast: N namespaces x M repositories x T tags, users, memberships, tokens.

PostgreSQL gets COPY (asyncpg ``copy_records_to_table``), SQLite one ``executemany`` per table; the
HTTP API would take hours for a million rows. The rows look like the floor's (``bench/yardstick``):
namespaces ``ns1..nsN``, repository names ``repo-<r>-<6 hex>``, one repository in three public, the
newest updated first, so both answer the same page for the same request.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from repohub.auth.secrets import hash_password, token_digest
from repohub.domain.entities import CATEGORIES
from repohub.store import counts, migrate

MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
BENCH_USER, ADMIN_USER = "bench", "bench-admin"
PASSWORD = "bench-password"
CHUNK = 50_000


@dataclass(frozen=True)
class Size:
    namespaces: int
    per_namespace: int
    tags: int

    @property
    def repositories(self) -> int:
        return self.namespaces * self.per_namespace

    @property
    def label(self) -> str:
        return f"{self.namespaces}x{self.per_namespace}x{self.tags}"

    @classmethod
    def parse(cls, text: str) -> Size:
        """``1000x100x10`` (namespaces x repositories each x tags each), or a name of ``NAMED_SIZES``."""
        if text.lower() in NAMED_SIZES:
            return NAMED_SIZES[text.lower()]
        parts = [int(part) for part in text.lower().split("x")]
        if len(parts) != 3 or min(parts) < 1:
            raise ValueError(f"size must look like 1000x100x10, got {text!r}")
        return cls(*parts)


# The sizes issue 19's targets name: 10k / 100k / 1M repositories, 10 tags each, and the comparison of
# unfiltered pages with a namespace page at 20 namespaces x 1,000 repositories (the bench user is a
# member of all 20, so an unfiltered page of its has 20,000 rows to choose its 20 from).
NAMED_SIZES = {
    "10k": Size(100, 100, 10),
    "100k": Size(1000, 100, 10),
    "1m": Size(10_000, 100, 10),
    "20x1000": Size(20, 1000, 10),
}


@dataclass(frozen=True)
class Dataset:
    size: Size
    url: str  # SQLAlchemy URL of repohub's database
    token: str  # API token of the (non-admin) bench user, member of every namespace
    admin_token: str
    user_namespace_id: int  # id of the bench user's personal namespace

    def sample(self, count: int, seed: int = 7) -> list[tuple[str, str, int, int]]:
        """Random (namespace, repository, namespace id, repository id) of the generated rows."""
        rng = random.Random(seed)
        picked = []
        for _ in range(count):
            n = rng.randint(1, self.size.namespaces)
            r = rng.randint(1, self.size.per_namespace)
            picked.append((f"ns{n}", repo_name(n, r), n, repo_id(self.size, n, r)))
        return picked

    def rule_samples(self, count: int, seed: int = 17) -> list[tuple[str, str, int, int]]:
        """Like ``sample``, from the namespaces holding Harbor's maximum of immutable-tag rules (the
        push check's worst case: every one of them read and tried)."""
        full = max(1, min(self.size.namespaces, MAX_RULES // RULES_PER_NAMESPACE))
        rng = random.Random(seed)
        picked = []
        for _ in range(count):
            n, r = rng.randint(1, full), rng.randint(1, self.size.per_namespace)
            picked.append((f"ns{n}", repo_name(n, r), n, repo_id(self.size, n, r)))
        return picked


# The push check's data: 1,000 immutable-tag rules (fewer when there are fewer than 67 namespaces),
# 15 to a namespace from ns1 on (Harbor's limit, MAX_RULES_PER_NAMESPACE), so the namespaces the
# scenario pushes into hold the maximum. None protects the pushed tag (v1): half select no bench
# repository (their names have no "/"), half no v-tag, so each check reads and tries all 15.
MAX_RULES, RULES_PER_NAMESPACE = 1000, 15


def rule_rows(size: Size, now: datetime) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for index in range(min(MAX_RULES, RULES_PER_NAMESPACE * size.namespaces)):
        n, k = index // RULES_PER_NAMESPACE + 1, index % RULES_PER_NAMESPACE
        tag, repo = ("v*", f"team{k}/**") if k % 2 else (f"release-{k}.*", "**")
        rows.append((index + 1, n, k, False, "matches", tag, "repoMatches", repo, now, now))
    return rows


# Access beyond namespace roles (issue 18): the hot paths keep their ratios with 10,000 repository
# grants and 1,000 shares in the database. The grants are other users' (GRANTEES of GRANTS_EACH),
# a few the bench user's own (so its token grants read the facts of those namespaces' repositories,
# not its roles alone); the shares go to namespaces the bench user belongs to (every one), so that
# each of its list statements could reach them.
GRANTEES, GRANTS_EACH, BENCH_GRANTS, SHARES = 99, 100, 100, 1000
GRANTEE_FIRST_ID = 1001


def access_rows(size: Size, now: datetime) -> dict[str, list[tuple[object, ...]]]:
    pick = random.Random(18)
    repositories = size.repositories
    users = [
        (GRANTEE_FIRST_ID + k, f"grantee-{k}", None, None, None, False, now, now) for k in range(GRANTEES)
    ]
    grants: list[tuple[object, ...]] = []
    for k in range(GRANTEES):
        for repository_id in pick.sample(range(1, repositories + 1), min(GRANTS_EACH, repositories)):
            grants.append((len(grants) + 1, repository_id, GRANTEE_FIRST_ID + k, "viewer", now, now))
    for repository_id in pick.sample(range(1, repositories + 1), min(BENCH_GRANTS, repositories)):
        grants.append((len(grants) + 1, repository_id, 1, "admin", now, now))
    shares: list[tuple[object, ...]] = []
    for repository_id in pick.sample(range(1, repositories + 1), min(SHARES, repositories)):
        domain = pick.randrange(1, size.namespaces + 1)
        ends = None if len(shares) % 2 else now + timedelta(days=30)
        shares.append((len(shares) + 1, repository_id, domain, "read", ends, "", "bench", now, now))
    return {"users": users, "repository_grants": grants, "repository_shares": shares}


ACCESS_COLUMNS = {
    "users": ("id", "username", "email", "display_name", "password_hash", "is_admin", "created_at",
              "updated_at"),
    "repository_grants": ("id", "repository_id", "user_id", "role", "created_at", "updated_at"),
    "repository_shares": ("id", "repository_id", "namespace_id", "permit", "expires_at", "description",
                          "creator", "created_at", "updated_at"),
}  # fmt: skip


async def _pg_access(dsn: str, size: Size) -> None:
    """The grants and shares, written afresh unless there (datasets from before issue 18 get them)."""
    rows = access_rows(size, datetime.now(UTC))
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SELECT count(*) FROM repository_grants") == len(
            rows["repository_grants"]
        ):
            return
        await connection.execute("DELETE FROM repository_shares")
        await connection.execute("DELETE FROM repository_grants")
        await connection.execute(f"DELETE FROM users WHERE id >= {GRANTEE_FIRST_ID}")
        for table, records in rows.items():
            await connection.copy_records_to_table(table, records=records, columns=ACCESS_COLUMNS[table])
        for table in rows:
            await connection.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
            await connection.execute(f"ANALYZE {table}")
    finally:
        await connection.close()


def _sqlite_access(connection: sqlite3.Connection, size: Size) -> None:
    rows = access_rows(size, datetime.now(UTC))
    count = connection.execute("SELECT count(*) FROM repository_grants").fetchone()[0]
    if count == len(rows["repository_grants"]):
        return
    connection.execute("DELETE FROM repository_shares")
    connection.execute("DELETE FROM repository_grants")
    connection.execute(f"DELETE FROM users WHERE id >= {GRANTEE_FIRST_ID}")
    for table, records in rows.items():
        columns = ACCESS_COLUMNS[table]
        marks = ", ".join("?" * len(columns))
        connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [tuple(map(_sqlite_value, row)) for row in records],
        )
    connection.commit()


RULE_COLUMNS = ("id", "namespace_id", "priority", "disabled", "tag_decoration", "tag_pattern",
                "repo_decoration", "repo_pattern", "created_at", "updated_at")  # fmt: skip


def repo_name(n: int, r: int) -> str:
    # The floor's name: 'repo-' || r || '-' || md5((n * 100000 + r)::text)::char(6)
    return f"repo-{r}-{hashlib.md5(str(n * 100000 + r).encode()).hexdigest()[:6]}"


def repo_id(size: Size, n: int, r: int) -> int:
    return (n - 1) * size.per_namespace + r


def tokens_for(label: str) -> tuple[str, str]:
    """Deterministic tokens, so a dataset generated once can be reused by later runs."""
    seed = hashlib.sha256(f"repohub-bench:{label}".encode()).hexdigest()
    return f"bench-{seed[:40]}", f"admin-{seed[40:]}"


# -- rows ----------------------------------------------------------------------------------------
def _rows(size: Size, now: datetime) -> dict[str, Iterator[tuple[object, ...]]]:
    token, admin_token = tokens_for(size.label)
    password_hash = hash_password(PASSWORD)
    n_ns = size.namespaces
    bench_id, admin_id = 1, 2
    users = [
        (bench_id, BENCH_USER, "bench@example.test", None, password_hash, False, now, now),
        (admin_id, ADMIN_USER, "admin@example.test", None, password_hash, True, now, now),
    ]
    namespaces = [(n, f"ns{n}", "org", None, None, now, now) for n in range(1, n_ns + 1)]
    namespaces += [
        (n_ns + 1, BENCH_USER, "user", None, bench_id, now, now),
        (n_ns + 2, ADMIN_USER, "user", None, admin_id, now, now),
    ]
    memberships = [(n, bench_id, "member", now) for n in range(1, n_ns + 1)]
    memberships += [(n_ns + 1, bench_id, "admin", now), (n_ns + 2, admin_id, "admin", now)]
    credentials = [
        (1, bench_id, "token", token_digest(token), None, "bench", now, None, None),
        (2, admin_id, "token", token_digest(admin_token), None, "bench", now, None, None),
    ]

    def repositories() -> Iterator[tuple[object, ...]]:
        for n in range(1, n_ns + 1):
            for r in range(1, size.per_namespace + 1):
                updated = now - timedelta(minutes=r)
                yield (
                    repo_id(size, n, r), n, repo_name(n, r), f"repository {r}", "",
                    CATEGORIES[r % len(CATEGORIES)], r % 3 == 0, False, "default-icon.jpg", bench_id,
                    size.tags * 1_000_000, size.tags, 0, 0, 0, None, updated, updated - timedelta(days=1),
                    updated,
                )  # fmt: skip

    def tags() -> Iterator[tuple[object, ...]]:
        for rid in range(1, size.repositories + 1):
            for t in range(1, size.tags + 1):
                digest = hashlib.sha256(f"{rid}:{t}".encode()).hexdigest()
                at = now - timedelta(minutes=t)
                yield (
                    (rid - 1) * size.tags + t, rid, f"v{t}", f"sha256:{digest}", digest[::-1], MEDIA_TYPE,
                    1_000_000 + t, None, bench_id, at, at,
                )  # fmt: skip

    return {
        "users": iter(users),
        "namespaces": iter(namespaces),
        "memberships": iter(memberships),
        "credentials": iter(credentials),
        "repositories": repositories(),
        "tags": tags(),
    }


COLUMNS = {
    "users": ("id", "username", "email", "display_name", "password_hash", "is_admin", "created_at",
              "updated_at"),
    "namespaces": ("id", "name", "kind", "display_name", "creator_id", "created_at", "updated_at"),
    "memberships": ("namespace_id", "user_id", "role", "created_at"),
    "credentials": ("id", "user_id", "kind", "lookup", "encrypted_secret", "description", "created_at",
                    "expires_at", "revoked_at"),
    "repositories": ("id", "namespace_id", "name", "description", "full_description", "category",
                     "is_public", "is_automated", "logo", "creator_id", "size", "tag_count",
                     "download_count", "upload_count", "star_count", "pulled_at", "pushed_at",
                     "created_at", "updated_at"),
    "tags": ("id", "repository_id", "name", "digest", "image_id", "media_type", "size", "manifest",
             "creator_id", "created_at", "updated_at"),
}  # fmt: skip
TABLES = tuple(COLUMNS)  # parents first


def _chunks(rows: Iterator[tuple[object, ...]]) -> Iterator[list[tuple[object, ...]]]:
    chunk: list[tuple[object, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _dataset(size: Size, url: str) -> Dataset:
    token, admin_token = tokens_for(size.label)
    return Dataset(size, url, token, admin_token, size.namespaces + 1)


# -- PostgreSQL ----------------------------------------------------------------------------------
def pg_dsn(url: str) -> str:
    """asyncpg's DSN for a SQLAlchemy URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def pg_url(server: str, database: str) -> str:
    """The SQLAlchemy URL of ``database`` on the server that ``server`` (any of its URLs) points at."""
    base = server.replace("postgresql://", "postgresql+asyncpg://", 1)
    head, _, _ = base.rpartition("/")
    return f"{head}/{database}"


async def _pg_populated(dsn: str, size: Size) -> bool:
    connection = await asyncpg.connect(dsn)
    try:
        if not await connection.fetchval("SELECT to_regclass('public.tags') IS NOT NULL"):
            return False
        repos = await connection.fetchval("SELECT count(*) FROM repositories")
        tags = await connection.fetchval("SELECT count(*) FROM tags WHERE name = 'v1'")
        users = await connection.fetchval(f"SELECT count(*) FROM users WHERE id < {GRANTEE_FIRST_ID}")
        return bool(repos == size.repositories and tags == size.repositories and users == 2)
    finally:
        await connection.close()


async def ensure_pg_database(server: str, database: str) -> bool:
    """Create ``database`` if missing; True when it was created."""
    connection = await asyncpg.connect(pg_dsn(pg_url(server, "postgres")))
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{database}"')
        return not exists
    finally:
        await connection.close()


async def drop_pg_database(server: str, database: str) -> None:
    connection = await asyncpg.connect(pg_dsn(pg_url(server, "postgres")))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await connection.close()


async def _pg_fill(dsn: str, size: Size, timings: dict[str, float]) -> None:
    """One transaction: the rows by COPY with the counting trigger (and, for a superuser, the foreign
    key checks) off, the secondary indexes built after, the counts by one GROUP BY.

    Row triggers fire on COPY: the counting trigger's upsert and the foreign keys' checks per row, and
    every one of repositories' thirteen secondary indexes (random keys: names, trigrams) grew a row at
    a time; built once from the loaded rows they are sorted instead (``DEFERRED_INDEXES``). The
    generated rows are consistent by construction, and the counts are checked against a recount
    afterwards. At 1M repositories on a busy 2-core machine (load average 9-11, nice 10) the load took
    666 s before the tags' indexes were deferred too: tags' COPY 480 s, repositories' 32 s, their
    indexes 44 s, the settling 104 s."""
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            if await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
                await connection.execute("SET LOCAL session_replication_role = replica")
            await connection.execute("SET LOCAL maintenance_work_mem = '256MB'")
            await connection.execute(f"TRUNCATE {', '.join(reversed(TABLES))} RESTART IDENTITY CASCADE")
            await connection.execute("ALTER TABLE repositories DISABLE TRIGGER USER")
            deferred = [
                definition
                for table in DEFERRED_INDEXES
                for definition in await _drop_secondary_indexes(connection, table)
            ]
            for table, rows in _rows(size, datetime.now(UTC)).items():
                started = time.monotonic()
                for chunk in _chunks(rows):
                    await connection.copy_records_to_table(table, records=chunk, columns=COLUMNS[table])
                timings[f"copy {table}"] = time.monotonic() - started
            started = time.monotonic()
            for definition in deferred:
                await connection.execute(definition)
            timings["secondary indexes"] = time.monotonic() - started
            await connection.execute("ALTER TABLE repositories ENABLE TRIGGER USER")
            for statement in BACKFILL_COUNTS:
                await connection.execute(statement)
            for table in ("users", "namespaces", "credentials", "repositories", "tags"):
                # Rows came with explicit ids: move each id sequence past them.
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
    finally:
        await connection.close()
    started = time.monotonic()
    await settle_pg(dsn)
    timings["settle (vacuum, analyse, checkpoint, prewarm)"] = time.monotonic() - started


# Tables whose indexes backing no constraint are built after the load. At 100k repositories (1M
# tags, a busy 2-core machine) deferring the tags' two cut their load from 64 to 48 s; the server is
# the bottleneck of a load (the client's CPU was 7 s of the 64), so generating the rows in SQL instead
# of Python saved nothing (61 s).
DEFERRED_INDEXES = ("repositories", "tags")


async def _drop_secondary_indexes(connection: asyncpg.Connection, table: str) -> list[str]:
    """Drop ``table``'s indexes that back no constraint; their definitions, to create them again."""
    rows = await connection.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition"
        " FROM pg_index i WHERE i.indrelid = $1::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        table,
    )
    for row in rows:
        await connection.execute(f"DROP INDEX {row['name']}")
    return [row["definition"] for row in rows]


# The kept counts (migration 0010) recomputed from the rows by the store's own recounts
# (``store.counts.RECOUNTS``, what ``repohub counts check`` compares): the load's refill after it
# bypassed the triggers, and the check that the kept counts are right. Refilled whole: the memberships'
# trigger counted what the load had written so far.
BACKFILL_COUNTS = tuple(
    statement
    for table, _kept, recount in counts.RECOUNTS
    for statement in (f"DELETE FROM {table.split(' ')[0]}", f"INSERT INTO {table} {recount}")
)
COUNT_DRIFT = " + ".join(  # in the form both take (SQLite has no parenthesised compound SELECT)
    f"(SELECT count(*) FROM (SELECT * FROM ({kept} EXCEPT {recount}) kept_only"
    f" UNION ALL SELECT * FROM ({recount} EXCEPT {kept}) recounted_only) drift)"
    for _table, kept, recount in counts.RECOUNTS
)
COUNT_DRIFT = f"SELECT {COUNT_DRIFT}"


def check_counts(drift: int, where: str) -> None:
    """Fail the bench when the kept counts differ from a recount (rows of either side unmatched)."""
    if drift:
        raise RuntimeError(f"namespace_counts in {where} differ from a recount in {drift} rows")


async def _pg_drift(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval(COUNT_DRIFT))
    finally:
        await connection.close()


async def settle_pg(dsn: str) -> None:
    """Leave freshly loaded tables as a long-running database has them: the first reads after a bulk
    load write every page again (hint bits), and autovacuum comes by for the inserts; either one in
    the middle of a run was the p99 (stalls of 0.4 s with the disk at 44% iowait). Frozen, analysed
    and checkpointed, a run measures the server. Every table and index is then read once into the
    page cache (``pg_prewarm``), as a database in service has its working set: at 1M repositories the
    first random namespace pages came from disk during the run (p99 0.76 s, the floor's 0.18 s)."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("VACUUM (FREEZE, ANALYZE)")
        await connection.execute("CHECKPOINT")
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        await connection.execute(_PREWARM)
    finally:
        await connection.close()


_PREWARM = """
SELECT pg_prewarm(c.oid::regclass, 'read')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
"""


def pg_database(size: Size, suffix: str = "") -> str:
    return f"repohub_bench_{size.label}{suffix}"


def prepare_pg(
    server: str, size: Size, *, suffix: str = "", log: bool = True, database: str | None = None
) -> Dataset:
    """The migrated, filled database ``repohub_bench_<size>`` (or ``database``); generated once,
    reused afterwards. Its kept counts are checked against a recount either way."""
    database = database or pg_database(size, suffix)
    url = pg_url(server, database)
    asyncio.run(ensure_pg_database(server, database))
    migrate.upgrade(url)
    if not asyncio.run(_pg_populated(pg_dsn(url), size)):
        if log:
            print(f"bench: generating {size.repositories:,} repositories in {database}", flush=True)
        started, timings = time.monotonic(), dict[str, float]()
        asyncio.run(_pg_fill(pg_dsn(url), size, timings))
        if log:
            phases = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in timings.items())
            print(f"bench: generated in {time.monotonic() - started:.0f} s ({phases})", flush=True)
    asyncio.run(_pg_rules(pg_dsn(url), size))
    asyncio.run(_pg_access(pg_dsn(url), size))
    check_counts(asyncio.run(_pg_drift(pg_dsn(url))), database)
    return _dataset(size, url)


def open_pg(server: str, size: Size, database: str) -> Dataset:
    """A generated dataset as it is (nothing written): for tools that read one, such as bench.plans."""
    url = pg_url(server, database)
    try:
        populated = asyncio.run(_pg_populated(pg_dsn(url), size))
    except asyncpg.InvalidCatalogNameError:
        populated = False
    if not populated:
        raise SystemExit(
            f"{database} holds no {size.label} dataset: python -m bench --sizes {size.label}"
            f" --database {database} --prepare-only"
        )
    return _dataset(size, url)


async def _pg_rules(dsn: str, size: Size) -> None:
    """The rules, written afresh (datasets generated before immutable tags existed get them too)."""
    rows = rule_rows(size, datetime.now(UTC))
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SELECT count(*) FROM immutable_rules") == len(rows):
            return
        await connection.execute("DELETE FROM immutable_rules")
        await connection.copy_records_to_table("immutable_rules", records=rows, columns=RULE_COLUMNS)
        await connection.execute("ANALYZE immutable_rules")
    finally:
        await connection.close()


# -- SQLite --------------------------------------------------------------------------------------
def _sqlite_value(value: object) -> object:
    # The app stores aware datetimes as SQLAlchemy's SQLite format, in UTC, without the offset.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def prepare_sqlite(directory: Path, size: Size, *, log: bool = True) -> Dataset:
    path = directory / f"repohub_bench_{size.label}.db"
    url = f"sqlite+aiosqlite:///{path}"
    directory.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url)
    with sqlite3.connect(path) as connection:
        repos = connection.execute("SELECT count(*) FROM repositories").fetchone()[0]
        users = connection.execute(f"SELECT count(*) FROM users WHERE id < {GRANTEE_FIRST_ID}").fetchone()[0]
        if repos != size.repositories or users != 2:
            if log:
                print(f"bench: generating {size.repositories:,} repositories in {path}", flush=True)
            _sqlite_fill(connection, size)
        _sqlite_rules(connection, size)
        _sqlite_access(connection, size)
        if repos != size.repositories or users != 2:
            connection.execute("ANALYZE")
        check_counts(connection.execute(COUNT_DRIFT).fetchone()[0], str(path))
    return _dataset(size, url)


def _sqlite_fill(connection: sqlite3.Connection, size: Size) -> None:
    """One transaction, as on PostgreSQL: the counting triggers dropped for the load (SQLite cannot
    disable one) and created again from their own text, the counts by one GROUP BY."""
    triggers = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'repositories'"
    ).fetchall()
    connection.commit()
    connection.execute("BEGIN")
    try:
        for name, _sql in triggers:
            connection.execute(f'DROP TRIGGER "{name}"')
        for table in ("namespace_counts", "catalogue_counts", "member_counts", *reversed(TABLES)):
            connection.execute(f"DELETE FROM {table}")
        for table, rows in _rows(size, datetime.now(UTC)).items():
            marks = ", ".join("?" * len(COLUMNS[table]))
            statement = f"INSERT INTO {table} ({', '.join(COLUMNS[table])}) VALUES ({marks})"
            for chunk in _chunks(rows):
                connection.executemany(statement, [tuple(map(_sqlite_value, row)) for row in chunk])
        for _name, sql in triggers:
            connection.execute(sql)
        for statement in BACKFILL_COUNTS:
            connection.execute(statement)
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def _sqlite_rules(connection: sqlite3.Connection, size: Size) -> None:
    rows = rule_rows(size, datetime.now(UTC))
    if connection.execute("SELECT count(*) FROM immutable_rules").fetchone()[0] == len(rows):
        return
    connection.execute("DELETE FROM immutable_rules")
    marks = ", ".join("?" * len(RULE_COLUMNS))
    connection.executemany(
        f"INSERT INTO immutable_rules ({', '.join(RULE_COLUMNS)}) VALUES ({marks})",
        [tuple(map(_sqlite_value, row)) for row in rows],
    )
    connection.commit()
