"""``python -m bench.retention`` (run by ``make bench``): what a retention run costs.

Two scenarios on a fresh PostgreSQL database beside ``--server`` (dropped afterwards), one
invocation, printed as JSON:

* **keep 100 of 10,000**: one repository with ``--tags`` tags, each its own manifest in a real
  Distribution registry (``docker-registry``; two blobs uploaded once, then one manifest PUT per tag
  straight to the registry's API with repohub's own tokens: seconds, where 10,000 skopeo pushes would
  take most of an hour) and the same tags in the catalogue (COPY), and a ``tag_rule`` keeping 100.
  The dry run of that decision over all the tags (the catalogue's side), then the real run with
  ``RegistryClient.delete_tags``. Distribution 2.8 looks through every tag of the repository on each
  manifest DELETE, so deletions/s fall as 1/tags and the whole run at 10,000 tags takes over an hour:
  by default (``--sample 300``) the real run deletes only the 300 oldest tags (a rule keeping
  ``tags - 300``), times its HEAD phase and its deletes apart, and reports the full run's time as
  *projected*; ``--sample 0`` runs the whole keep-100. Either way the registry's and the catalogue's
  tags are listed afterwards (exactly the expected names in each, or the bench fails).
* **1,000 repositories without matches**: five tags each, once with a ``tag_rule`` keeping 10 (no
  tag needs reading) and once with a ``date_rule`` of 30 days over tags 0–4 days old (each page's
  tags read in one statement): statements per page of 100 policies, and time.

python -m bench.retention                      # 10,000 tags (300 deleted, the rest projected)
python -m bench.retention --tags 2000 --sample 0          # the whole keep-100 run (minutes)
python -m bench.retention --tags 500 --repositories 100   # seconds (smoke)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

from bench import dataset as data
from repohub.auth.registry_token import Scope, SigningKey, issue_token, load_or_create_signing_key
from repohub.config import Settings
from repohub.domain.gateway import INTERNAL_SUBJECT
from repohub.domain.retention.rules import parse_policy
from repohub.domain.retention.runner import PAGE, RetentionRunner
from repohub.registry.client import RegistryClient
from repohub.store import migrate
from repohub.store.database import Database
from repohub.store.unit import Store

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
SERVICE, ISSUER = "repohub-registry", "repohub"
OCI = "application/vnd.oci.image.manifest.v1+json"
NOW = datetime.now(UTC)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a PostgreSQL URL of the server to use")
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--keep", type=int, default=100)
    parser.add_argument(
        "--sample",
        type=int,
        default=300,
        help="delete only the N oldest tags and project the whole run from their rate (0: the whole run)",
    )
    parser.add_argument("--repositories", type=int, default=1_000)
    parser.add_argument("--port", type=int, default=5077, help="the registry's port")
    return parser.parse_args(argv)


# -- the registry ---------------------------------------------------------------------------------
def _registry_config(work: Path, port: int, cert: Path) -> Path:
    config = work / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'storage'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
        f"auth:\n  token:\n    realm: http://127.0.0.1:1/registry/token\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {cert}\n"
    )
    return config


@contextmanager
def running_registry(work: Path, port: int, cert: Path) -> Iterator[str]:
    log = (work / "registry.log").open("wb")
    process = subprocess.Popen(
        ["docker-registry", "serve", str(_registry_config(work, port, cert))], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/v2/", timeout=1).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("docker-registry did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


class Seeder:
    """Puts images straight into the registry: blobs once, then one manifest per tag."""

    def __init__(self, url: str, key: SigningKey, path: str) -> None:
        token = issue_token(
            key,
            issuer=ISSUER,
            service=SERVICE,
            subject=INTERNAL_SUBJECT,
            access=[Scope("repository", path, ("pull", "push", "delete"))],
            ttl=3600,
        )["token"]
        self.path = path
        self.http = httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    async def blob(self, content: bytes) -> dict[str, Any]:
        digest = "sha256:" + hashlib.sha256(content).hexdigest()
        started = await self.http.post(f"/v2/{self.path}/blobs/uploads/")
        started.raise_for_status()
        location = started.headers["Location"]
        joiner = "&" if "?" in location else "?"
        put = await self.http.put(f"{location}{joiner}digest={digest}", content=content)
        put.raise_for_status()
        return {"digest": digest, "size": len(content)}

    async def tags(self, count: int) -> dict[str, str]:
        """``count`` tags t00000…, each a manifest of its own (an annotation numbers it)."""
        config = await self.blob(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode())
        layer = await self.blob(b"retention bench layer")
        gate = asyncio.Semaphore(16)
        digests: dict[str, str] = {}

        async def put(number: int) -> None:
            tag = f"t{number:05d}"
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
                "annotations": {"bench.number": str(number)},
            }
            body = json.dumps(manifest).encode()
            async with gate:
                answer = await self.http.put(
                    f"/v2/{self.path}/manifests/{tag}", content=body, headers={"Content-Type": OCI}
                )
            answer.raise_for_status()
            digests[tag] = "sha256:" + hashlib.sha256(body).hexdigest()

        await asyncio.gather(*(put(number) for number in range(count)))
        return digests

    async def names(self) -> list[str]:
        found: list[str] = []
        url = f"/v2/{self.path}/tags/list?n=1000"
        while url:
            answer = await self.http.get(url)
            answer.raise_for_status()
            found += answer.json().get("tags") or []
            link = answer.headers.get("Link", "")
            url = link.split(";")[0].strip().strip("<>") if 'rel="next"' in link else ""
        return found


# -- the catalogue --------------------------------------------------------------------------------
async def _namespace(connection: asyncpg.Connection, name: str) -> int:
    return int(
        await connection.fetchval(
            "INSERT INTO namespaces (name, kind, created_at, updated_at)"
            " VALUES ($1, 'org', $2, $2) RETURNING id",
            name,
            NOW,
        )
    )


async def _repositories(connection: asyncpg.Connection, namespace_id: int, names: list[str]) -> list[int]:
    rows = await connection.fetch(
        "INSERT INTO repositories (namespace_id, name, description, full_description, category, is_public,"
        " is_automated, logo, size, tag_count, download_count, upload_count, star_count, created_at,"
        " updated_at) SELECT $1, n, '', '', 'other', false, false, 'default-icon.jpg', 0, 0, 0, 0, 0, $2, $2"
        " FROM unnest($3::text[]) AS n RETURNING id",
        namespace_id,
        NOW,
        names,
    )
    return sorted(int(row["id"]) for row in rows)


async def _tags(connection: asyncpg.Connection, rows: list[tuple[int, str, str, datetime]]) -> None:
    records = [(rid, name, digest, "", OCI, 100, at, at) for rid, name, digest, at in rows]
    columns = [
        "repository_id",
        "name",
        "digest",
        "image_id",
        "media_type",
        "size",
        "created_at",
        "updated_at",
    ]
    await connection.copy_records_to_table("tags", records=records, columns=columns)
    await connection.execute(
        "UPDATE repositories r SET tag_count = (SELECT count(*) FROM tags t WHERE t.repository_id = r.id)"
    )


async def _policies(connection: asyncpg.Connection, repository_ids: list[int], body: dict[str, Any]) -> None:
    rules = parse_policy(body).to_json()
    await connection.executemany(
        "INSERT INTO retentions (repository_id, algorithm, rules, created_at, updated_at)"
        " VALUES ($1, 'or', $2, $3, $3) ON CONFLICT (repository_id) DO UPDATE SET rules = excluded.rules",
        [(rid, rules, NOW) for rid in repository_ids],
    )


# -- the runs -------------------------------------------------------------------------------------
@contextmanager
def counted(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def _run(
    database: Database, registry: RegistryClient | None, namespace: str, *, dry_run: bool = False
) -> tuple[Any, float, int]:
    async with database.sessions() as session:
        with counted(database) as statements:
            started = time.perf_counter()
            report = await RetentionRunner(Store(session), registry).run(namespace=namespace, dry_run=dry_run)
            seconds = time.perf_counter() - started
    return report, seconds, len(statements)


async def quiet(database: Database, dsn: str, count: int) -> dict[str, Any]:
    """``count`` repositories, five tags each, no policy deletes anything: statements and time."""
    connection = await asyncpg.connect(dsn)
    try:
        ids = await _repositories(
            connection, await _namespace(connection, "quiet"), [f"r{i:04d}" for i in range(count)]
        )
        tags = [
            (rid, f"t{n}", "sha256:" + f"{rid}x{n}".ljust(64, "0"), NOW - timedelta(days=n))
            for rid in ids
            for n in range(5)
        ]
        await _tags(connection, tags)
        results: dict[str, Any] = {}
        pages = -(-count // PAGE)
        rules = {
            "tag_rule keep 10": {"template": "tag_rule", "params": {"num": 10}},
            "date_rule 30 days": {"template": "date_rule", "params": {"days": 30}},
        }
        for label, rule in rules.items():
            await _policies(connection, ids, {"algorithm": "or", "rules": [rule]})
            report, seconds, statements = await _run(database, None, "quiet")
            assert report.policies == count and report.deleted == 0, report
            results[label] = {
                "repositories": count,
                "pages": pages,
                "statements": statements,
                "statements_per_page": statements / pages,
                "seconds": round(seconds, 3),
            }
        return results
    finally:
        await connection.close()


class TimedRegistry(RegistryClient):
    """The real client, timing its HEAD phase (``digests``: one HEAD per tag) apart from the deletes."""

    head_seconds = 0.0

    async def digests(self, path: str, tags: Iterable[str]) -> dict[str, str]:
        started = time.perf_counter()
        try:
            return await super().digests(path, tags)
        finally:
            self.head_seconds += time.perf_counter() - started


async def _seed_big(
    connection: asyncpg.Connection, seeder: Seeder, tags: int, keep: int
) -> tuple[int, float]:
    """``tags`` tags in the registry and the catalogue (t00000 the oldest), a policy keeping ``keep``."""
    seeded = time.perf_counter()
    digests = await seeder.tags(tags)
    seed_seconds = time.perf_counter() - seeded
    [rid] = await _repositories(connection, await _namespace(connection, "big"), ["app"])
    ages = [
        (rid, tag, digest, NOW - timedelta(seconds=tags - int(tag[1:]))) for tag, digest in digests.items()
    ]
    await _tags(connection, ages)
    await _keep(connection, rid, keep)
    return rid, seed_seconds


async def _keep(connection: asyncpg.Connection, rid: int, keep: int) -> None:
    await _policies(
        connection, [rid], {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": keep}}]}
    )


def _projection(tags: int, keep: int, doomed: int, rate: float, head_seconds: float) -> dict[str, float]:
    """The full keep-``keep`` run from a sample of ``doomed`` deletions at ``rate``/s. Two models:
    the rate held constant (an upper bound, the sample being taken at the largest size), and the
    cost of a DELETE linear in the tags present (Distribution 2.8 looks through every tag on each),
    the sample's mean size ``tags - doomed/2`` scaled to the full run's ``(tags + keep)/2``."""
    constant = (tags - keep) / rate
    linear = constant * ((tags + keep) / 2) / (tags - doomed / 2)
    return {
        "projected_run_seconds_constant_rate": round(head_seconds + constant, 3),
        "projected_run_seconds_linear_in_tags": round(head_seconds + linear, 3),
    }


async def big(
    database: Database, dsn: str, registry_url: str, key: SigningKey, options: argparse.Namespace
) -> dict[str, Any]:
    """One repository with ``tags`` tags in the registry and the catalogue, a rule keeping ``keep``:
    the dry run of that decision over all the tags, then the real run, whole (``--sample 0``) or
    restricted to the ``sample`` oldest tags (a rule keeping ``tags - sample`` dooms exactly those),
    whose deletion rate projects the whole run."""
    tags, keep = options.tags, options.keep
    doomed = tags - keep if options.sample <= 0 else min(options.sample, tags - keep)
    seeder = Seeder(registry_url, key, "big/app")
    connection = await asyncpg.connect(dsn)
    try:
        rid, seed_seconds = await _seed_big(connection, seeder, tags, keep)
        dry = await _run(database, None, "big", dry_run=True)
        assert dry[0].deleted == tags - keep, dry[0].deleted
        await _keep(connection, rid, tags - doomed)
        registry = TimedRegistry(registry_url, key, issuer=ISSUER, service=SERVICE, timeout=60)
        try:
            report, seconds, statements = await _run(database, registry, "big")
        finally:
            await registry.aclose()
        in_catalogue = await connection.fetch("SELECT name FROM tags WHERE repository_id = $1", rid)
    finally:
        await connection.close()
    in_registry = await seeder.names()
    await seeder.http.aclose()
    expected = {f"t{number:05d}" for number in range(doomed, tags)}
    assert not report.failed, report.failed
    assert report.deleted == doomed, report.deleted
    assert {row["name"] for row in in_catalogue} == expected, len(in_catalogue)
    assert set(in_registry) == expected and len(in_registry) == len(expected), len(in_registry)
    delete_seconds = seconds - registry.head_seconds
    rate = doomed / delete_seconds
    result: dict[str, Any] = {
        "tags": tags,
        "keep": keep,
        "sample": doomed if doomed < tags - keep else 0,
        "seed_seconds": round(seed_seconds, 1),
        "dry_run_seconds": round(dry[1], 3),
        "dry_run_deleted": dry[0].deleted,
        "run_seconds": round(seconds, 2),
        "head_phase_seconds": round(registry.head_seconds, 2),
        "delete_phase_seconds": round(delete_seconds, 2),
        "deleted": report.deleted,
        "deletions_per_second": round(rate, 2),
        "statements": statements,
        "left_in_registry": len(in_registry),
        "left_in_catalogue": len(in_catalogue),
    }
    if doomed < tags - keep:
        result |= _projection(tags, keep, doomed, rate, registry.head_seconds)
    return result


async def measure(url: str, work: Path, options: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(database_url=url, data_dir=work, secret_key="bench-retention", _env_file=None)
    database = await Database.open(settings, lone_reads=False)
    key = load_or_create_signing_key(work / "token.key", work / "token.crt")
    try:
        results = {"quiet": await quiet(database, data.pg_dsn(url), options.repositories)}
        with running_registry(work, options.port, work / "token.crt") as registry_url:
            results["keep"] = await big(database, data.pg_dsn(url), registry_url, key, options)
        return results
    finally:
        await database.close()


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    name = f"repohub_bench_retention_{uuid.uuid4().hex[:8]}"
    asyncio.run(data.ensure_pg_database(options.server, name))
    url = data.pg_url(options.server, name)
    try:
        migrate.upgrade(url)
        with tempfile.TemporaryDirectory(prefix="repohub-bench-retention-") as work:
            results = asyncio.run(measure(url, Path(work), options))
    finally:
        asyncio.run(data.drop_pg_database(options.server, name))
    print(json.dumps({"retention": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
