"""Two ``repohub serve`` processes on one PostgreSQL share the retention schedule: one run per interval.

Both replicas wake every 0.5–1.5 s (interval 2 s) and race for the ``schedules`` row; the runs are
read back from both processes' logs ("retention run started" / "finished"), their metrics and the
retention log.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from repohub.auth.secrets import SecretBox
from repohub.config import Settings
from repohub.domain.entities import Principal
from repohub.store import migrate
from repohub.store.engine import create_engine, create_sessionmaker
from repohub.store.tables import RetentionLogRow, ScheduleRow, TagRow
from tests.postgres import create_database
from tests.server import serve
from tests.world import DOCKER_V2, make_service

INTERVAL = 2
KEEP_ONE = {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 1}}]}


async def _setup(settings: Settings) -> None:
    """Repository team/app with five tags a day apart and a policy keeping the newest."""
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            service = make_service(session, SecretBox(settings.resolved_secret_key))
            owner = await service.accounts.create_user("owner", "owner-password")
            await service.accounts.create_org("team", owner="owner")
            service.acting_as(Principal(owner, via="token"))
            repository = await service.catalog.create_repository("team", "app")
            start = datetime(2025, 1, 1, tzinfo=UTC)
            async with service.store.transaction():
                for day in range(5):
                    await service.store.tags.upsert(
                        repository.id,
                        name=f"t{day}",
                        digest="sha256:" + f"{day}".ljust(64, "0"),
                        image_id="",
                        media_type=DOCKER_V2,
                        size=10,
                        manifest=None,
                        creator_id=None,
                        at=start + timedelta(days=day),
                    )
                await service.store.tags.refresh_summary(repository.id)
            await service.retentions.create(repository, KEEP_ONE)
    finally:
        await engine.dispose()


async def _facts(settings: Settings) -> tuple[int, list[str], Any]:
    engine = create_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            logged = (await session.execute(select(func.count()).select_from(RetentionLogRow))).scalar_one()
            tags = sorted((await session.execute(select(TagRow.name))).scalars())
            schedule = (await session.execute(select(ScheduleRow))).scalars().one()
            return int(logged), tags, (schedule.next_due_at, schedule.holder, schedule.lease_until)
    finally:
        await engine.dispose()


def _runs(log: Path) -> list[dict[str, Any]]:
    """The retention lines of a server's JSON log, with their time as a datetime."""
    runs = []
    for line in log.read_text().splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("logger") == "repohub.retention" and entry["message"].startswith("retention run"):
            entry["at"] = datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
            runs.append(entry)
    return runs


def _scheduled_runs(metrics_text: str) -> float:
    """Scheduled runs that finished well, from one process's /metrics."""
    found = re.findall(r"^repohub_retention_runs_total\{([^}]*)\} (\S+)$", metrics_text, re.MULTILINE)
    return sum(
        float(value) for labels, value in found if 'trigger="schedule"' in labels and 'outcome="ok"' in labels
    )


def test_two_replicas_run_the_schedule_once_per_interval(tmp_path: Path) -> None:
    url = create_database()
    migrate.upgrade(url)
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key="replica-secret", _env_file=None)
    asyncio.run(_setup(settings))
    env = {"REPOHUB_RETENTION_INTERVAL": str(INTERVAL)}
    with serve(settings, extra_env=env) as one, serve(settings, extra_env=env) as two:
        time.sleep(7.5)
        scraped = sum(_scheduled_runs(httpx.get(f"{s.url}/metrics", timeout=10).text) for s in (one, two))
        lines = sorted(_runs(one.log) + _runs(two.log), key=lambda entry: entry["at"])
    logged, tags, (next_due, holder, lease) = asyncio.run(_facts(settings))

    started = [entry for entry in lines if entry["message"] == "retention run started"]
    finished = [entry for entry in lines if entry["message"] == "retention run finished"]
    # The first run is due one interval after the first replica's first wake-up, then one per
    # interval (the first replica started a few seconds before the second and the 7.5 s wait).
    assert len(started) >= 2, lines
    assert scraped == len(finished) >= len(started) - 1  # a run may still be going at the scrape
    # Never two at once: each run starts after the previous one finished, at least an interval after
    # the previous start (log times have millisecond resolution; the claims are a row's due time).
    for before, after in itertools.pairwise(started):
        # ...and no interval is skipped: a due run starts at a replica's next wake-up (at most
        # 0.75 of the interval later), with room for a loaded machine.
        assert INTERVAL - 0.05 <= (after["at"] - before["at"]).total_seconds() < 3 * INTERVAL, (before, after)
    for run_end, next_start in zip(finished, started[1:], strict=False):
        assert run_end["holder"] == started[finished.index(run_end)]["holder"]
        assert next_start["at"] >= run_end["at"]
    # The policy's work was done once: four tags deleted and logged once, the later runs found nothing.
    assert [entry["deleted"] for entry in finished] == [4] + [0] * (len(finished) - 1)
    assert logged == 4 and tags == ["t4"]
    # The row moved one interval on at each claim (the last within the last few seconds).
    assert next_due > datetime.now(UTC) - timedelta(seconds=3 * INTERVAL)
    assert (holder is None) == (lease is None)


async def test_the_app_runs_the_schedule_in_its_lifespan_and_stops_it_on_shutdown(tmp_path: Path) -> None:
    from prometheus_client import REGISTRY

    from repohub.app import create_app

    url = f"sqlite+aiosqlite:///{tmp_path / 'repohub.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    settings = Settings(
        database_url=url, data_dir=tmp_path, secret_key="s", retention_interval=1, _env_file=None
    )
    labels = {"trigger": "schedule", "outcome": "ok"}

    def runs() -> float:
        return REGISTRY.get_sample_value("repohub_retention_runs_total", labels) or 0.0

    before, started = runs(), datetime.now(UTC)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await asyncio.sleep(3)
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 2  # shutdown is prompt: the task is cancelled, then awaited
    assert runs() > before
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            schedule = (await session.execute(select(ScheduleRow))).scalars().one()
    finally:
        await engine.dispose()
    # Created due one interval after the first wake-up, then claimed (moved an interval on) at least once.
    assert schedule.next_due_at > started + timedelta(seconds=2)
