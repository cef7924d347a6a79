"""`make bench` keeps working: its smoke mode runs every scenario for a second and writes the report.

Not a timed test: it checks that the generator, the floor, the servers, wrk and the report fit
together and that every measured row has numbers and no failed requests, not how fast they are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import floor
from bench.scenarios import BY_KEY

from tests.postgres import create_database

PROJECT = Path(__file__).resolve().parents[1]


def test_the_floor_is_carried_by_the_project() -> None:
    """A clone has nothing beside it: every file the floor is served, loaded and measured from is in
    the project's own bench/, none in ../shared."""
    app_dir = Path(floor.command(8101)[floor.command(8101).index("--app-dir") + 1])
    used = [app_dir / "floor_app.py", floor.SCHEMA, floor.list_script()]
    for path in used:
        assert path.is_file() and path.resolve().is_relative_to(PROJECT / "bench"), path


def test_bench_smoke_writes_report_with_numbers(tmp_path: Path) -> None:
    # Any database on the test server will do: the bench creates (and drops) its own beside it.
    server = create_database().replace("postgresql+asyncpg://", "postgresql://", 1)
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--server", server, "--out", str(tmp_path / "docs"),
         "--work", str(tmp_path / "work")],
        cwd=PROJECT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    markdown = (tmp_path / "docs" / "benchmarks.md").read_text()
    assert "| data (repos / tags) |" in markdown and "Machine:" in markdown
    assert (tmp_path / "docs" / "benchmarks.png").read_bytes().startswith(b"\x89PNG")

    rows = json.loads((tmp_path / "docs" / "benchmarks.json").read_text())
    by = {(row["backend"], row["scenario"]): row for row in rows}
    floor_row, swr = by[("floor", "swr_list")], by[("postgresql", "swr_list")]
    assert floor_row["status"] == "ok" and floor_row["rate"] > 0
    for row in rows:
        # Every scenario either ran cleanly or names the endpoint it still lacks; none crashed.
        assert row["status"] in ("ok", "endpoint missing"), row
        if row["status"] == "ok":
            assert row["rate"] > 0 and 0 < row["p50_ms"] <= row["p99_ms"], row
            assert row["errors"] == 0, row
    assert {key for backend, key in by if backend == "postgresql"} == set(BY_KEY)
    if swr["status"] == "ok":
        assert swr["ratio"] == swr["rate"] / floor_row["rate"]
        assert f"{swr['ratio']:.2f}× floor ({floor_row['rate']:,.0f}/s)" in markdown
    events = by[("postgresql", "registry_events")]
    if events["status"] == "ok":
        assert "(exact)" in events["note"], events  # each recorded event added one download


def test_retention_bench_smoke_deletes_down_to_the_kept_tags(tmp_path: Path) -> None:
    """``python -m bench.retention`` at a tiny size: the registry seeded, the run deleting, counts
    checked by the bench itself (it fails otherwise), statements per page as the runner promises."""
    from tests.e2e.registry import require_binaries
    from tests.server import free_port

    require_binaries()
    server = create_database().replace("postgresql+asyncpg://", "postgresql://", 1)
    done = subprocess.run(
        [sys.executable, "-m", "bench.retention", "--server", server, "--tags", "40", "--keep", "5",
         "--repositories", "120", "--port", str(free_port())],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(done.stdout)["retention"]
    assert results["keep"]["deleted"] == 35 and results["keep"]["left_in_registry"] == 5
    assert results["keep"]["deletions_per_second"] > 0
    assert results["quiet"]["tag_rule keep 10"]["statements_per_page"] == 1.0
    assert results["quiet"]["date_rule 30 days"]["statements_per_page"] == 2.0


def test_retention_bench_sample_deletes_only_the_oldest_and_projects_the_whole_run(tmp_path: Path) -> None:
    """``--sample``: the dry run decides over all the tags, the real run deletes only the sampled
    oldest (the bench lists both sides and fails on any other name), and the whole run is projected."""
    from tests.e2e.registry import require_binaries
    from tests.server import free_port

    require_binaries()
    server = create_database().replace("postgresql+asyncpg://", "postgresql://", 1)
    done = subprocess.run(
        [sys.executable, "-m", "bench.retention", "--server", server, "--tags", "40", "--keep", "5",
         "--sample", "10", "--repositories", "20", "--port", str(free_port())],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    keep = json.loads(done.stdout)["retention"]["keep"]
    assert keep["dry_run_deleted"] == 35 and keep["sample"] == 10
    assert keep["deleted"] == 10 and keep["left_in_registry"] == 30 and keep["left_in_catalogue"] == 30
    assert keep["head_phase_seconds"] > 0 and keep["deletions_per_second"] > 0
    constant, linear = (
        keep["projected_run_seconds_constant_rate"],
        keep["projected_run_seconds_linear_in_tags"],
    )
    assert constant > linear > keep["head_phase_seconds"]


def test_webhook_bench_smoke_delivers_every_event_once(tmp_path: Path) -> None:
    """``python -m bench.webhooks`` at a tiny size: every intake variant measured, and the burst's
    deliveries received by the bench's receiver once each (the bench fails otherwise)."""
    from tests.server import free_port

    server = create_database().replace("postgresql+asyncpg://", "postgresql://", 1)
    done = subprocess.run(
        [sys.executable, "-m", "bench.webhooks", "--server", server, "--events", "300", "--rounds", "1",
         "--envelopes", "1", "--port", str(free_port())],
        cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(done.stdout)["webhooks"]
    for kind in ("intake_pushes", "intake_pulls"):
        rates = results[kind]["events_per_second"]
        assert set(rates) == {"without_outbox", "no_hooks", "a_hook_not_selecting",
                              "one_delivery_an_event", "ten_deliveries_an_event"}  # fmt: skip
        assert all(rate > 0 for rate in rates.values()), rates
        assert results[kind]["ratio_to_without_outbox"]["without_outbox"] == 1.0
    delivery = results["delivery"]
    assert delivery["received"] == {"requests": 300, "unique_delivery_ids": 300}
    assert delivery["deliveries_per_second"] > 0
