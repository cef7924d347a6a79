"""`make bench` keeps working: its smoke mode runs every scenario for a second and writes the report.

Not a timed test: it checks that the generator, the floor, the servers, wrk and the report fit
together and that every measured row has numbers and no failed requests, not how fast they are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from bench import dataset as data
from bench import floor, plans, targets
from bench.__main__ import ratio_of, scalar
from bench.report import Result
from bench.scenarios import BY_KEY, UI_PAIRS, Scenario, app_routes, route_exists

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
    assert "### Targets (issue 19)" in markdown and "| postgresql | 1 | swr_list |" in markdown
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
    for page, twin in UI_PAIRS.items():
        row = by[("postgresql", page)]
        assert row["status"] == "ok", row  # the web pages are served: none is "endpoint missing"
        assert 0 < row["bytes"] < 100 * 1024 and row["ratio_to"].startswith(f"{twin} ("), row
    events = by[("postgresql", "registry_events")]
    if events["status"] == "ok":
        assert "(exact)" in events["note"], events  # each recorded event added one download


def _execute(url: str, statement: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as connection:
            connection.execute(statement)
        return

    async def run() -> None:
        connection = await asyncpg.connect(data.pg_dsn(url))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


def _tiny_dataset(backend: str, tmp_path: Path) -> Callable[[], data.Dataset]:
    """How to prepare (generate, then reuse) a 3 x 7 x 2 dataset on ``backend``."""
    size = data.Size(3, 7, 2)
    if backend == "sqlite":
        return lambda: data.prepare_sqlite(tmp_path, size, log=False)
    url = create_database()
    return lambda: data.prepare_pg(url, size, database=url.rsplit("/", 1)[1], log=False)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_bulk_load_leaves_counts_kept_by_the_trigger_and_refuses_a_drift(
    backend: str, tmp_path: Path
) -> None:
    """The load backfills namespace_counts with the trigger off and turns it on again: a later change
    is counted (no drift after it), and counts that differ from a recount stop the bench."""
    prepare = _tiny_dataset(backend, tmp_path)
    ds = prepare()
    assert scalar(ds.url, "SELECT sum(repositories) FROM namespace_counts") == 21
    assert scalar(ds.url, "SELECT sum(tags) FROM namespace_counts") == 42
    _execute(
        ds.url, "UPDATE repositories SET is_public = NOT is_public WHERE id = 1"
    )  # counted by the trigger
    assert scalar(ds.url, data.COUNT_DRIFT) == 0
    prepare()  # reused: the check passes
    _execute(ds.url, "UPDATE namespace_counts SET tags = tags + 1 WHERE namespace_id = 1")
    with pytest.raises(RuntimeError, match="differ from a recount"):
        prepare()


def test_plans_explain_every_list_scenario_custom_and_generic(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bench.plans`` drives the store's own page methods for each list scenario and prints
    both plans of each statement with a verdict."""
    ds = _tiny_dataset("postgresql", Path())()
    server, _, database = ds.url.rpartition("/")
    assert (
        plans.main(["--size", ds.size.label, "--database", database, "--server", server + "/postgres"]) == 0
    )
    out = capsys.readouterr().out
    for key in plans.CALLS:
        assert f"== {key}: " in out, key
    statements = out.count("-- statement ")
    assert statements >= len(plans.CALLS)
    assert out.count("-- custom plan: top-N: ") == out.count("-- generic plan: top-N: ") == statements
    assert "Buffers: shared" in out


def _row(size: data.Size, scenario: str, p50: float, *, connections: int = 32, run: str = "a",
         backend: str = "postgresql", ratio: float | None = None) -> Result:  # fmt: skip
    return Result(size=size.label, repositories=size.repositories, tags=0, backend=backend, workers=1,
                  scenario=scenario, title=scenario, status="ok", rate=1.0, p50_ms=p50, p99_ms=p50,
                  ratio=ratio, ratio_to="floor", connections=connections, run=run)  # fmt: skip


def test_targets_judge_growth_ratios_and_unfiltered_pages() -> None:
    small, large, pair = targets.SMALL, targets.LARGE, targets.COMPARISON
    rows = [
        _row(small, "swr_admin", 10.0), _row(large, "swr_admin", 14.0),
        _row(small, "swr_member", 10.0), _row(large, "swr_member", 20.0, run="b"),
        _row(small, "abeja_list", 10.0),
        _row(small, "swr_list", 4.0, ratio=0.85), _row(small, "v1_list", 4.0, ratio=0.5),
        _row(small, "swr_list", 4.0, backend="sqlite", ratio=0.4),
        _row(pair, "swr_list", 5.0), _row(pair, "swr_admin", 14.0), _row(pair, "swr_by_tags", 16.0),
        _row(pair, "swr_member", 6.0, connections=4),
    ]  # fmt: skip
    growth = {check.cells[2]: check for check in targets.growth(rows)}
    assert (growth["swr_admin"].cells[-1], growth["swr_admin"].verdict) == ("1.40×", "met")
    assert growth["swr_member"].verdict == "missed" and "different invocations" in growth["swr_member"].note
    assert growth["abeja_list"].verdict == "not measured at both sizes"
    ratios = {(check.cells[1], check.cells[3]): check.verdict for check in targets.floor_ratios(rows)}
    assert ratios == {("postgresql", "swr_list"): "met", ("postgresql", "v1_list"): "missed",
                      ("sqlite", "swr_list"): "missed"}  # fmt: skip
    compared = {check.cells[2]: check for check in targets.unfiltered(rows)}
    assert (compared["swr_admin"].cells[-1], compared["swr_admin"].verdict) == ("2.80×", "met")
    assert compared["swr_by_tags"].verdict == "missed"
    assert compared["swr_member"].verdict.startswith("not judged: 4 connections")
    markdown = targets.markdown(rows)
    assert markdown.count("| target | verdict |") == 3


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


def test_web_pages_are_judged_against_their_api_call_of_the_same_invocation() -> None:
    """Issue 20: a page is met at ≥ 0.8× its API call's requests/s and under 100 KB; a pair from two
    invocations is not judged, a page without its API call's row says so."""
    small = targets.SMALL

    def row(scenario: str, rate: float, size: int = 20_000, run: str = "a") -> Result:
        return dataclasses.replace(_row(small, scenario, 10.0 / rate, run=run), rate=rate, bytes=size)

    rows = [
        row("swr_list", 100.0), row("ui_list", 85.0),
        row("swr_member", 100.0), row("ui_member", 70.0), row("ui_anonymous", 95.0, size=150_000),
        row("swr_fuzzy", 100.0), row("ui_fuzzy", 100.0, run="b"),
        row("ui_repo", 50.0),
    ]  # fmt: skip
    checks = {check.cells[3]: check for check in targets.web_pages(rows)}
    assert checks["ui_list"].verdict == "met"
    assert checks["ui_list"].cells[5:] == ("0.85×", "1.18×", "—", "19.5")  # no CPU figures in these rows
    assert checks["ui_member"].verdict == "missed"  # too slow
    assert checks["ui_anonymous"].verdict == "missed"  # fast enough, but 146 KB
    assert checks["ui_fuzzy"].verdict == "not judged: measured in different invocations"
    assert checks["ui_repo"].verdict == "no v1_detail row"
    assert "Web catalogue (issue 20)" in targets.markdown(rows)


def test_a_page_outside_the_schema_is_looked_for_among_the_app_routes_and_an_api_call_is_not() -> None:
    routes = app_routes()
    assert route_exists({"paths": {}}, BY_KEY["ui_repo"], routes)
    missing = Scenario("ui_x", "x", "get", "/ui/nowhere", "/ui/nowhere", "get.lua", in_schema=False)
    assert not route_exists({"paths": {}}, missing, routes)
    assert not route_exists({"paths": {}}, dataclasses.replace(BY_KEY["ui_list"], method="delete"), routes)
    # An API scenario still needs its route in the OpenAPI document, whatever the app's routes hold.
    api = dataclasses.replace(BY_KEY["v1_detail"], route="/ui/")
    assert not route_exists({"paths": {}}, api, routes)
    assert route_exists({"paths": {"/ui/": {"get": {}}}}, api, routes)


def test_a_web_page_is_compared_with_its_api_call_and_the_token_with_healthz() -> None:
    rates = {"floor": 200.0, "healthz": 1000.0, "swr_list": 100.0}
    assert ratio_of("ui_list", 80.0, rates) == {"ratio": 0.8, "ratio_to": "swr_list (100/s)"}
    assert ratio_of("registry_token", 500.0, rates) == {"ratio": 0.5, "ratio_to": "/healthz (1,000/s)"}
    assert ratio_of("swr_list", 100.0, rates) == {"ratio": 0.5, "ratio_to": "floor (200/s)"}
    assert ratio_of("ui_member", 80.0, rates) == {}  # its API call was not measured on this server
