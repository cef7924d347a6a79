"""``python -m bench.webhooks`` (run by ``make bench``): what webhooks cost and how fast they go out.

On a fresh PostgreSQL database beside ``--server`` (dropped afterwards), one invocation, printed as
JSON:

* **the outbox's cost on intake**: envelopes of 100 push events applied by the event intake in this
  process (``RegistryService.apply_events``, as ``POST /registry/events`` applies them after parsing),
  in rounds that interleave five variants so drift hits all alike: *without the outbox* (the intake's
  call of ``enqueue`` replaced by nothing: the intake as it was before webhooks), *no hooks* (a
  namespace without hooks: the one read), *a hook not selecting* (the namespace's hook selects other
  repositories), *one delivery an event* (a hook selecting every push: one outbox row per event) and
  *ten deliveries an event* (ten such hooks). Events/s of each, and each as a ratio of the first.
* **delivery**: a burst of ``--events`` push events (10,000) applied for a namespace with one hook,
  then one delivery worker (``domain.webhooks.delivery``, in this process) sends them to a minimal
  receiver (``bench.receiver``, its own process on the same machine); deliveries/s from the worker's
  start until the receiver holds every delivery id, and the ids counted (each exactly once).

python -m bench.webhooks                     # 10,000 events; the intake rounds at 20 envelopes a variant
python -m bench.webhooks --events 500 --rounds 2 --envelopes 3     # seconds (smoke)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from sqlalchemy import text

from bench import dataset as data
from repohub.auth.secrets import SecretBox
from repohub.config import Settings
from repohub.domain.entities import NamespaceKind, Role
from repohub.domain.registry import RegistryService
from repohub.domain.registry.events import RegistryEvent
from repohub.domain.webhooks.delivery import DeliveryWorker, Tuning
from repohub.domain.webhooks.hooks import FORMAT_HARBOR, HookSpec
from repohub.outbound.sender import HttpSender
from repohub.store import migrate
from repohub.store.database import Database
from repohub.store.unit import Store

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
OCI = "application/vnd.oci.image.manifest.v1+json"
PER_ENVELOPE = 100
VARIANTS = (
    "without_outbox",
    "no_hooks",
    "a_hook_not_selecting",
    "one_delivery_an_event",
    "ten_deliveries_an_event",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="a PostgreSQL URL of the server to use")
    parser.add_argument("--events", type=int, default=10_000, help="push events of the delivery burst")
    parser.add_argument("--rounds", type=int, default=5, help="intake rounds (each variant once a round)")
    parser.add_argument("--envelopes", type=int, default=4, help="envelopes of 100 events a variant a round")
    parser.add_argument("--port", type=int, default=5088, help="the receiver's port")
    return parser.parse_args(argv)


def pulls(repository: str, count: int) -> list[RegistryEvent]:
    """``count`` manifest GETs by tag (of tags p0..p99, which ``intake`` pushes first) by alice."""
    now = datetime.now(UTC)
    return [
        RegistryEvent(
            id=str(uuid.uuid4()),
            action="pull",
            repository=repository,
            timestamp=now,
            media_type=OCI,
            digest="sha256:" + "0" * 64,
            tag=f"p{number % PER_ENVELOPE}",
            method="GET",
            actor="alice",
        )
        for number in range(count)
    ]


def pushes(repository: str, count: int, prefix: str) -> list[RegistryEvent]:
    """``count`` pushes of new tags to ``repository`` by alice, each its own manifest."""
    now = datetime.now(UTC)
    return [
        RegistryEvent(
            id=str(uuid.uuid4()),
            action="push",
            repository=repository,
            timestamp=now,
            media_type=OCI,
            digest="sha256:" + uuid.uuid4().hex * 2,
            tag=f"{prefix}{number}",
            size=1000,
            method="PUT",
            actor="alice",
        )
        for number in range(count)
    ]


async def apply(database: Database, events: Sequence[RegistryEvent]) -> None:
    async with database.sessions() as session:
        await RegistryService(Store(session), None, None).apply_events(events)


# -- the world --------------------------------------------------------------------------------------
async def seed(database: Database, hook_url: str) -> dict[str, int]:
    """alice (a site admin); namespaces ``free`` (no hooks), ``bench`` (one hook selecting pushes to
    ``bench/delivered*`` only) and ``ten`` (ten hooks selecting every push)."""
    async with database.sessions() as session:
        store = Store(session)
        async with store.transaction():
            user = await store.users.add(username="alice", email="a@x.test", password_hash="-", is_admin=True)
            ids = {}
            for name in ("free", "bench", "ten"):
                namespace = await store.namespaces.add(name=name, kind=NamespaceKind.ORG, creator_id=user.id)
                await store.namespaces.set_member(namespace.id, user.id, Role.ADMIN)
                ids[name] = namespace.id
            for _ in range(10):
                await store.webhooks.add(
                    ids["ten"], _spec(hook_url, "**"), creator_id=user.id, creator="alice"
                )
            ids["hook"] = await store.webhooks.add(
                ids["bench"], _spec(hook_url, "delivered*"), creator_id=user.id, creator="alice"
            )
    return ids


def _spec(url: str, repositories: str) -> HookSpec:
    from repohub.domain.immutability.rules import Selector
    from repohub.domain.webhooks.hooks import Scope

    scope = Scope(Selector("repoMatches", repositories), Selector("matches", "**"))
    return HookSpec(FORMAT_HARBOR, url, frozenset({"push", "pull"}), name="bench", scope=scope)


@contextmanager
def without_outbox() -> Any:
    async def nothing(*_args: Any, **_kwargs: Any) -> int:
        return 0

    with mock.patch("repohub.domain.registry.events.enqueue", nothing):
        yield


# -- the outbox's cost on intake --------------------------------------------------------------------
async def _timed(run: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


async def intake(database: Database, rounds: int, envelopes: int, kind: str) -> dict[str, Any]:
    """Events/s of each variant (module doc) for envelopes of ``kind`` (push, pull), the rounds
    interleaved. Pulls are of tags pushed first (without the outbox)."""
    repositories = {
        "without_outbox": "bench/plain",
        "no_hooks": "free/app",
        "a_hook_not_selecting": "bench/quiet",
        "one_delivery_an_event": "bench/delivered-intake",
        "ten_deliveries_an_event": "ten/app",
    }
    seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    if kind == "pull":
        with without_outbox():
            for repository in repositories.values():
                await apply(database, pushes(repository, PER_ENVELOPE, "p"))
    for round_number in range(rounds):
        for variant in VARIANTS:
            repository = repositories[variant]
            batches = [
                pulls(repository, PER_ENVELOPE)
                if kind == "pull"
                else pushes(repository, PER_ENVELOPE, f"r{round_number}e{n}-")
                for n in range(envelopes)
            ]

            async def run(batches: list[list[RegistryEvent]] = batches) -> None:
                for batch in batches:
                    await apply(database, batch)

            if variant == "without_outbox":
                with without_outbox():
                    seconds[variant].append(await _timed(run))
            else:
                seconds[variant].append(await _timed(run))
    events = envelopes * PER_ENVELOPE
    rates = {variant: events / statistics.median(values) for variant, values in seconds.items()}
    base = rates["without_outbox"]
    return {
        "events": kind,
        "events_per_envelope": PER_ENVELOPE,
        "envelopes_per_variant_round": envelopes,
        "rounds": rounds,
        "events_per_second": {variant: round(rate, 1) for variant, rate in rates.items()},
        "ratio_to_without_outbox": {variant: round(rate / base, 3) for variant, rate in rates.items()},
    }


# -- delivery ---------------------------------------------------------------------------------------
DeliveryRun = Callable[[Database, int, int], Awaitable[dict[str, Any]]]


@contextmanager
def receiver(port: int) -> Iterator[str]:
    """``bench.receiver`` on ``port``, its own process; the URL of its counts."""
    process = subprocess.Popen([sys.executable, "-m", "bench.receiver", str(port)], cwd=PROJECT)
    url = f"http://127.0.0.1:{port}/count"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the bench receiver did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _outbox(database: Database, sql: str) -> int:
    """Run ``sql`` (a count, or a DELETE: 0) on the outbox and commit."""
    async with database.sessions() as session:
        result = await session.execute(text(sql))
        value = result.scalar() if result.returns_rows else 0
        await session.commit()
    return int(value or 0)


async def burst(database: Database, events: int) -> float:
    """``events`` pushes to ``bench/delivered-burst`` applied (its hook selects them); seconds taken."""
    await _outbox(database, "DELETE FROM webhook_deliveries")  # the intake rounds' rows
    started = time.perf_counter()
    for first in range(0, events, PER_ENVELOPE):
        count = min(PER_ENVELOPE, events - first)
        await apply(database, pushes("bench/delivered-burst", count, f"b{first}-"))
    seconds = time.perf_counter() - started
    written = await _outbox(database, "SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
    assert written == events, written
    return seconds


async def deliver(database: Database, events: int, port: int) -> dict[str, Any]:
    """The burst (module doc): ``events`` pushes applied, then one worker delivers them."""
    applied_seconds = await burst(database, events)
    tuning = Tuning(registry_host="127.0.0.1:5000")
    sender = HttpSender(timeout=tuning.timeout, allow_private=True, connections=tuning.concurrency)
    with receiver(port) as counts:
        async with sender:
            worker = DeliveryWorker(
                database.store, sender, SecretBox("bench"), tuning, database.memory.webhook_nudge
            )
            started = time.perf_counter()
            task = asyncio.create_task(worker.run_forever())
            try:
                received = await _until_received(counts, events, task)
                received_seconds = time.perf_counter() - started
                await _until_recorded(database, events, task)
                recorded_seconds = time.perf_counter() - started
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    return {
        "events": events,
        "apply_seconds": round(applied_seconds, 2),
        "received": received,
        "receive_seconds": round(received_seconds, 2),
        "deliveries_per_second": round(events / received_seconds, 1),
        "all_recorded_seconds": round(recorded_seconds, 2),
        "worker_concurrency": tuning.concurrency,
    }


async def _until_recorded(database: Database, events: int, task: asyncio.Task[None]) -> None:
    delivered = 0
    while delivered < events:
        assert not task.done(), task
        await asyncio.sleep(0.05)
        delivered = await _outbox(database, _DELIVERED)


_DELIVERED = "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered'"


async def _until_received(counts: str, events: int, task: asyncio.Task[None]) -> dict[str, int]:
    """The receiver's counts once it holds every delivery id (the worker must not have ended)."""
    async with httpx.AsyncClient() as client:
        while True:
            got = (await client.get(counts)).json()
            if got["unique"] >= events or task.done():
                assert not task.done(), task
                return {"requests": int(got["requests"]), "unique_delivery_ids": int(got["unique"])}
            await asyncio.sleep(0.1)


async def measure(
    url: str, work: Path, options: argparse.Namespace, deliver: DeliveryRun | None
) -> dict[str, Any]:
    settings = Settings(database_url=url, data_dir=work, secret_key="bench-webhooks", _env_file=None)
    database = await Database.open(settings, lone_reads=False)
    try:
        await seed(database, f"http://127.0.0.1:{options.port}/hook")
        results: dict[str, Any] = {
            "intake_pushes": await intake(database, options.rounds, options.envelopes, "push"),
            "intake_pulls": await intake(database, options.rounds, options.envelopes * 5, "pull"),
        }
        if deliver is not None:
            results["delivery"] = await deliver(database, options.events, options.port)
        return results
    finally:
        await database.close()


def main(argv: list[str] | None = None, deliver: DeliveryRun | None = deliver) -> int:
    options = parse_args(argv)
    name = f"repohub_bench_webhooks_{uuid.uuid4().hex[:8]}"
    asyncio.run(data.ensure_pg_database(options.server, name))
    url = data.pg_url(options.server, name)
    try:
        migrate.upgrade(url)
        with tempfile.TemporaryDirectory(prefix="repohub-bench-webhooks-") as work:
            results = asyncio.run(measure(url, Path(work), options, deliver))
    finally:
        asyncio.run(data.drop_pg_database(options.server, name))
    print(json.dumps({"webhooks": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
