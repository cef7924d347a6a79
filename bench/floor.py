"""The yardstick, ``bench/yardstick/``: the project carries it, so a clone benchmarks on its own.

``floor_schema.sql`` fills its own ``floor_*`` tables in the bench database with the same numbers of
namespaces, repositories and tags; ``floor_app.py`` is served by uvicorn from that directory. They are
copies of ``../shared/bench``, the reference they were checked against (``bench/yardstick/README.md``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

from bench.dataset import Size, pg_dsn, settle_pg

YARDSTICK = Path(__file__).resolve().parent / "yardstick"
SCHEMA = YARDSTICK / "floor_schema.sql"


def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    if not versions:
        raise FileNotFoundError("psql not found (Debian package postgresql-client)")
    return str(versions[-1])


async def _floor_rows(dsn: str) -> tuple[int, int]:
    connection = await asyncpg.connect(dsn)
    try:
        if not await connection.fetchval("SELECT to_regclass('public.floor_tags') IS NOT NULL"):
            return 0, 0
        repos = await connection.fetchval("SELECT count(*) FROM floor_repos")
        tags = await connection.fetchval("SELECT count(*) FROM floor_tags")
        return int(repos), int(tags)
    finally:
        await connection.close()


def prepare(url: str, size: Size) -> None:
    """Load the floor's schema and data into the database of ``url`` unless it is there already."""
    dsn = pg_dsn(url)
    if asyncio.run(_floor_rows(dsn)) == (size.repositories, size.repositories * size.tags):
        return
    print(f"bench: loading the floor's tables ({size.repositories:,} repositories)", flush=True)
    subprocess.run(
        [
            _psql(), "-q", "-X", "-v", "ON_ERROR_STOP=1", "-d", dsn,
            "-v", f"namespaces={size.namespaces}", "-v", f"per_ns={size.per_namespace}",
            "-v", f"tags={size.tags}", "-f", str(SCHEMA),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PGOPTIONS": asyncio.run(_load_options(dsn))},
    )  # fmt: skip
    asyncio.run(settle_pg(dsn))


async def _load_options(dsn: str) -> str:
    """Settings of the schema's session (the file stays the reference's): for a superuser, no
    foreign-key check per generated row (10M tags at 1M repositories; the rows are consistent by
    construction), as the repohub tables are loaded (``dataset._pg_fill``); memory for its indexes.
    At 100k repositories (1M tags, a busy 2-core machine) the floor's load took 45 s, 96 s before."""
    options = "-c client_min_messages=warning -c maintenance_work_mem=256MB"
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            options += " -c session_replication_role=replica"
    finally:
        await connection.close()
    return options


def command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(YARDSTICK),
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def env(url: str) -> dict[str, str]:
    return {**os.environ, "FLOOR_DSN": pg_dsn(url)}


def list_script() -> Path:
    """The floor's own wrk script; scenario 1 uses it for both, so the requests are identical."""
    return YARDSTICK / "swr_list.lua"
