"""``python -m bench`` (``make bench``): generate data, run the floor and repohub, write the report.

python -m bench                          # 10k and 100k repositories, PostgreSQL, 15 s a scenario
python -m bench --sizes 10000x100x10 --backends postgresql,sqlite --workers 1,2
python -m bench --smoke --out /tmp/x     # seconds: tiny data, 1 s runs (CI keeps `make bench` alive)
python -m bench --profile swr_list,v1_list
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench import cpu, floor, profile, report, servers, targets, wrk
from bench import dataset as data
from bench.scenarios import (
    BY_KEY,
    LUA,
    PUSH_CHECKS,
    SCENARIOS,
    UI_PAIRS,
    Scenario,
    app_routes,
    auth_header,
    event_envelopes,
    expand,
    push_headers,
    push_tokens,
    route_exists,
    with_middle,
)
from bench.scenarios import script_path as scenario_script
from repohub.config import Settings
from repohub.registry.keys import signing_key

PROJECT = Path(__file__).resolve().parents[1]
# Read pages compared with the floor's list page (only scenario 1 is the same page; the rest is context).
FLOOR_COMPARED = ("swr_list", "swr_fuzzy", "swr_fuzzy_known", "v1_list", "v1_detail", "abeja_list",
                  "abeja_tags")  # fmt: skip
WRITES = ("create_repo", "registry_events")  # no warm-up (it would write too); the database settled after
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass(frozen=True)
class Options:
    sizes: list[data.Size]
    backends: list[str]
    workers: list[int]
    scenarios: list[Scenario]
    load: wrk.Load
    server: str
    out: Path
    work: Path
    profile: set[str]
    smoke: bool
    sqlite_max: int
    warmup: float  # seconds of unmeasured load before each read scenario
    database: str | None = None  # the PostgreSQL database of the (one) size, instead of its own name
    prepare_only: bool = False  # generate and settle the data, measure nothing


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="100x100x10,1000x100x10",
        help="comma-separated NAMESPACESxREPOSxTAGS (repositories per namespace, tags each) or "
        f"names of the issue's sizes: {', '.join(f'{k}={v.label}' for k, v in data.NAMED_SIZES.items())}",
    )
    parser.add_argument(
        "--database", help="PostgreSQL database to generate or reuse for the one size (e.g. bench_1m)"
    )
    parser.add_argument(
        "--prepare-only", action="store_true", help="generate and settle the data (and the floor's), no runs"
    )
    parser.add_argument("--backends", default="postgresql", help="postgresql,sqlite")
    parser.add_argument("--workers", default="1", help="comma-separated worker counts for repohub serve")
    parser.add_argument("--scenarios", default=",".join(s.key for s in SCENARIOS))
    parser.add_argument("--seconds", type=float, default=15.0, help="wrk duration per scenario")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_PG", DEFAULT_SERVER),
        help="any URL of the PostgreSQL server; bench databases are created beside it",
    )
    parser.add_argument("--out", type=Path, default=PROJECT / "docs", help="where benchmarks.md goes")
    parser.add_argument("--work", type=Path, default=PROJECT / "bench" / "out", help="logs, SQLite files")
    parser.add_argument("--profile", default="", help="scenarios to sample with py-spy (one worker)")
    parser.add_argument(
        "--sqlite-max", type=int, default=100_000, help="largest repository count run on SQLite"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny data and 1 s runs, in a throwaway database"
    )
    parser.add_argument(
        "--warmup", type=float, default=3.0, help="unmeasured seconds before each read scenario"
    )
    args = parser.parse_args(argv)  # fmt: skip
    unknown = [key for key in args.scenarios.split(",") if key not in BY_KEY]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(BY_KEY)}")
    load = wrk.Load(threads=args.threads, connections=args.connections, seconds=args.seconds)
    sizes = [data.Size.parse(text) for text in args.sizes.split(",")]
    backends = [name for name in args.backends.split(",") if name]
    if args.database and len(sizes) != 1:
        parser.error("--database names the database of one size: give one --sizes")
    if args.smoke:
        sizes, load = [data.Size(4, 25, 2)], wrk.Load(threads=1, connections=4, seconds=2)
        backends = ["postgresql", "sqlite"]
    return Options(
        sizes=sizes,
        backends=backends,
        workers=[int(w) for w in args.workers.split(",")],
        scenarios=[BY_KEY[key] for key in args.scenarios.split(",")],
        load=load,
        server=args.server,
        out=args.out,
        work=args.work,
        profile={key for key in args.profile.split(",") if key},
        smoke=args.smoke,
        sqlite_max=args.sqlite_max,
        warmup=0.0 if args.smoke else args.warmup,
        database=args.database,
        prepare_only=args.prepare_only,
    )


# -- counters for scenario 6 ----------------------------------------------------------------------
def scalar(url: str, sql: str) -> int:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as connection:
            return int(connection.execute(sql).fetchone()[0])

    async def query() -> int:
        connection = await asyncpg.connect(data.pg_dsn(url))
        try:
            return int(await connection.fetchval(sql))
        finally:
            await connection.close()

    return asyncio.run(query())


DOWNLOADS = "SELECT coalesce(sum(download_count), 0) FROM repositories"


def recorded_events(run_id: str) -> str:
    """Events of this run the server recorded as applied (the wrk script's ids start with the run id)."""
    return f"SELECT count(*) FROM registry_events WHERE id LIKE '{run_id}-%'"


def settle(url: str) -> None:
    """Vacuum and checkpoint a PostgreSQL dataset (``dataset.settle_pg``) before a size is measured
    and after a scenario that wrote: otherwise the next run pays for the last one's writes (the
    checkpoint, autovacuum) and its p99 with it (1.1 s for the floor right after SQLite's writes)."""
    if not url.startswith("sqlite"):
        asyncio.run(data.settle_pg(data.pg_dsn(url)))


def remove_written(url: str) -> None:
    """Drop what scenario 4 created, so a reused dataset keeps its size."""
    statement = "DELETE FROM repositories WHERE name LIKE 'bw-%'"
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


# -- one scenario -------------------------------------------------------------------------------
def _checked(scenario: Scenario, answer: httpx.Response, path: str, sample: tuple[str, str, int, int]) -> str:
    """The probe's verdict on its answer: "ok" or why the scenario cannot run."""
    if answer.status_code >= 300 or (scenario.key in PUSH_CHECKS and answer.status_code != 204):
        return f"failed: HTTP {answer.status_code} {answer.text[:160]!r}"
    if scenario.key == "swr_fuzzy_known" and sample[1] not in {row["name"] for row in answer.json()}:
        return f"failed: {path} did not find {sample[0]}/{sample[1]}"  # the answer it is meant to hold
    if not scenario.in_schema and not answer.headers.get("content-type", "").startswith("text/html"):
        return f"failed: {path} answered {answer.headers.get('content-type')!r}, not a page"
    return "ok"


def ratio_of(key: str, rate: float, rates: dict[str, float]) -> dict[str, object]:
    """A scenario's ratio and what it is to: the floor's page (pages), ``/healthz`` (the token, the
    push checks) or the API call a web page is to match (issue 20), each of this invocation."""
    if key in FLOOR_COMPARED:
        # The floor of this invocation is named: a later run may replace the floor row shown.
        reference, label = "floor", "floor"
    elif key in ("registry_token", *PUSH_CHECKS):
        reference, label = "healthz", "/healthz"
    elif key in UI_PAIRS:
        reference = label = UI_PAIRS[key]
    else:
        return {}
    if reference not in rates:
        return {}
    return {"ratio": rate / rates[reference], "ratio_to": f"{label} ({rates[reference]:,.0f}/s)"}


class Runner:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.run_id = uuid.uuid4().hex[:8]
        self.results: list[report.Result] = []
        options.work.mkdir(parents=True, exist_ok=True)

    def _result(self, ds: data.Dataset, backend: str, workers: int, scenario: Scenario, status: str,
                measured: wrk.Measured | None = None, **extra: object) -> report.Result:  # fmt: skip
        row = report.Result(
            size=ds.size.label, repositories=ds.size.repositories, tags=ds.size.repositories * ds.size.tags,
            backend=backend, workers=workers, scenario=scenario.key, title=scenario.title, status=status,
            run=self.run_id,
        )  # fmt: skip
        if measured is not None:
            row.rate, row.p50_ms, row.p99_ms = measured.rate, measured.p50_ms, measured.p99_ms
            row.requests, row.errors = measured.requests, measured.errors
        for key, value in extra.items():
            setattr(row, key, value)
        self.results.append(row)
        label = (
            f"{row.rate:8.0f} req/s  p50 {row.p50_ms:6.1f} ms  p99 {row.p99_ms:6.1f} ms"
            f"  CPU {row.cpu_us:5.0f} µs/req"
            if measured
            else status
        )
        print(f"bench: {ds.size.label:>14} {backend:>10} w{workers} {scenario.key:<16} {label}", flush=True)
        return row

    def _env(
        self, scenario: Scenario, ds: data.Dataset, files: dict[str, Path], auth: bool = True
    ) -> dict[str, str]:
        env = {
            "BENCH_LUA": str(LUA),
            "NAMESPACES": str(ds.size.namespaces),
            "PATH_TEMPLATE": with_middle(scenario.path, ds),
            "SAMPLES": str(files["samples"]),
            "BODIES": str(files["events"]),
            "BODY_TEMPLATE": scenario.body,
            "RUN_ID": self.run_id,
            "TOKENS": str(files["tokens"]),
            **scenario.env,
        }  # fmt: skip
        if auth and scenario.auth != "none":
            env["AUTH_HEADER"] = auth_header(scenario, ds)
        return env

    def _probe(
        self, url: str, scenario: Scenario, ds: data.Dataset, files: dict[str, Path]
    ) -> tuple[str, int]:
        """One request like the scenario's: "ok", "endpoint missing", or what went wrong, and the size
        of its answer's body (issue 20 holds each web page under 100 KB)."""
        try:
            openapi = httpx.get(url + "/openapi.json", timeout=10).json()
        except (httpx.HTTPError, ValueError):
            openapi = {}
        if not route_exists(openapi, scenario, None if scenario.in_schema else app_routes()):
            return "endpoint missing", 0
        headers = {}
        if scenario.auth != "none":
            name, _, value = auth_header(scenario, ds).partition(":")
            headers[name] = value.strip()
        sample = ds.sample(1)[0]
        path = expand(with_middle(scenario.path, ds), sample)
        body: str | None = None
        if scenario.key == "create_repo":
            body = scenario.body.replace("{name}", f"bw-probe-{self.run_id}")
            headers["Content-Type"] = "application/json"
        elif scenario.key in PUSH_CHECKS:
            tag = scenario.env.get("PUSH_TAG", "v1")
            headers.update(push_headers(files["tokens"].read_text().splitlines()[0], tag))
        elif scenario.key == "registry_events":
            first = files["events"].read_text().splitlines()[0]
            counter = itertools.count(1)
            body = re.sub(r"\{uid\}", lambda _: f"probe-{self.run_id}-{next(counter)}", first)
            headers["Content-Type"] = "application/vnd.docker.distribution.events.v1+json"
        try:
            answer = httpx.request(
                scenario.method.upper(), url + path, headers=headers, content=body, timeout=30
            )
        except httpx.HTTPError as error:
            return f"failed: {error}", 0
        return _checked(scenario, answer, path, sample), len(answer.content)

    def _warm_up(self, url: str, script: Path, env: dict[str, str]) -> None:
        """Unmeasured load first: connection pools filled, caches of the server and the database warm,
        as a server in service has them."""
        if self.options.warmup > 0:
            wrk.run(url, script, env, dataclasses.replace(self.options.load, seconds=self.options.warmup))

    def measure(self, url: str, pid: int, backend: str, workers: int, scenario: Scenario, ds: data.Dataset,
                files: dict[str, Path], floor_rates: dict[str, float]) -> None:  # fmt: skip
        status, page_bytes = self._probe(url, scenario, ds, files)
        if status != "ok":
            self._result(ds, backend, workers, scenario, status)
            return
        env = self._env(scenario, ds, files)
        if scenario.key == "registry_events":
            env["CONTENT_TYPE"] = "application/vnd.docker.distribution.events.v1+json"
        counters = (DOWNLOADS, recorded_events(self.run_id))
        before = [scalar(ds.url, sql) for sql in counters] if scenario.key == "registry_events" else []
        spy = None
        if scenario.key in self.options.profile and workers == 1:
            raw = self.options.work / f"profile-{ds.size.label}-{backend}-{scenario.key}.txt"
            spy = profile.start(pid, self.options.load.seconds, raw)
        load = self.options.load
        if scenario.connections is not None and not self.options.smoke:
            load = dataclasses.replace(load, connections=scenario.connections)
        script = scenario_script(scenario, floor.list_script())
        if scenario.key not in WRITES:
            self._warm_up(url, script, env)
        cpu_before = cpu.seconds(pid)
        measured = wrk.run(url, script, env, load)
        cpu_us = (cpu.seconds(pid) - cpu_before) * 1e6 / max(measured.requests, 1)
        extra: dict[str, object] = {"cpu_us": cpu_us, "connections": load.connections, "bytes": page_bytes}
        if spy is not None:
            spy.wait(timeout=120)
            summary = raw.with_suffix(".summary.txt")
            summary.write_text(profile.summarise(raw))
            extra["note"] = f"profile: {summary.name}"
        failed = measured.errors > max(measured.requests // 100, 0)
        if failed:
            extra["note"] = f"{measured.errors} of {measured.requests} requests failed"
        else:
            extra.update(ratio_of(scenario.key, measured.rate, floor_rates))
        # This server's rates, for the ratios of later scenarios (``/healthz``, the web pages' API twins).
        floor_rates[scenario.key] = measured.rate
        if scenario.key == "registry_events":
            time.sleep(1.0)  # requests still in flight when wrk stopped
            downloads, recorded = (
                scalar(ds.url, sql) - was for sql, was in zip(counters, before, strict=True)
            )
            # Every bench event is a client's manifest GET of an existing repository: each event the
            # server recorded as applied must have added exactly one download, no more, no less.
            exact = "exact" if downloads == recorded else f"NOT exact: {recorded:,} events recorded"
            extra.update(
                units_per_s=recorded / max(load.seconds, 1),
                note=f"download counters +{downloads:,} ({exact})",
            )  # fmt: skip
        self._result(ds, backend, workers, scenario, "ok", measured, **extra)
        if scenario.key in WRITES:
            settle(ds.url)

    # -- a whole size ---------------------------------------------------------------------------
    def files_for(self, ds: data.Dataset) -> dict[str, Path]:
        directory = self.options.work / ds.size.label
        directory.mkdir(parents=True, exist_ok=True)
        samples, events = directory / "samples.txt", directory / "events.jsonl"
        tokens = directory / "push-tokens.txt"
        # Signed with the key the served app will load from its data directory (made here if new).
        key = signing_key(Settings(data_dir=self.options.work / "data", _env_file=None))
        tokens.write_text("".join(f"{line}\n" for line in push_tokens(ds, key, 2000)))
        samples.write_text(
            "".join(f"{ns} {repo} {ns_id} {rid}\n" for ns, repo, ns_id, rid in ds.sample(2000))
        )
        events.write_text("\n".join(event_envelopes(ds, 32, "127.0.0.1:5000")) + "\n")
        return {"samples": samples, "events": events, "tokens": tokens}

    def run_floor(self, ds: data.Dataset, files: dict[str, Path], rates: dict[str, float]) -> None:
        floor.prepare(ds.url, ds.size)
        port = servers.free_port()
        log = self.options.work / f"floor-{ds.size.label}.log"
        probe = "/v2/manage/repos?namespace=ns1&limit=1&offset=0"
        with servers.running(floor.command(port), floor.env(ds.url), port, log, probe) as server:
            scenario = BY_KEY["swr_list"]
            env = self._env(scenario, ds, files, auth=False)
            self._warm_up(server.url, floor.list_script(), env)
            cpu_before = cpu.seconds(server.pid)
            measured = wrk.run(server.url, floor.list_script(), env, self.options.load)
            cpu_us = (cpu.seconds(server.pid) - cpu_before) * 1e6 / max(measured.requests, 1)
        rates["floor"] = measured.rate
        self._result(ds, "floor", 1, scenario, "ok", measured, note="bench/yardstick/floor_app.py",
                     cpu_us=cpu_us, connections=self.options.load.connections)  # fmt: skip

    def run_repohub(self, ds: data.Dataset, backend: str, workers: int, files: dict[str, Path],
                    rates: dict[str, float]) -> None:  # fmt: skip
        port = servers.free_port()
        log = self.options.work / f"repohub-{ds.size.label}-{backend}-w{workers}.log"
        env = servers.repohub_env(ds.url, self.options.work / "data")
        try:
            with servers.running(
                servers.repohub_command(port, workers), env, port, log, "/healthz"
            ) as server:
                scenarios = self.options.scenarios
                if self.options.smoke and backend == "sqlite":  # the smoke keeps SQLite to scenario 1
                    scenarios = [s for s in scenarios if s.key in ("healthz", "swr_list")]
                for scenario in scenarios:
                    try:
                        self.measure(server.url, server.pid, backend, workers, scenario, ds, files, rates)
                    except (subprocess.SubprocessError, ValueError, OSError) as error:
                        self._result(ds, backend, workers, scenario, f"failed: {error}"[:200])
        finally:
            remove_written(ds.url)
            settle(ds.url)

    def run(self) -> None:
        opts = self.options
        for size in opts.sizes:
            suffix = f"_smoke_{self.run_id}" if opts.smoke else ""
            # PostgreSQL always: the floor runs on it, and SQLite rows are compared with the floor too.
            started = time.monotonic()
            pg = data.prepare_pg(opts.server, size, suffix=suffix, database=opts.database)
            rates: dict[str, float] = {}
            if opts.prepare_only:
                floor.prepare(pg.url, size)  # settled by each load that wrote
                print(f"bench: {size.label} ready in {time.monotonic() - started:.0f} s", flush=True)
                continue
            try:
                files = self.files_for(pg)
                settle(pg.url)
                self.run_floor(pg, files, rates)
                for backend in opts.backends:
                    if backend == "sqlite" and size.repositories > opts.sqlite_max:
                        continue
                    ds = (
                        pg
                        if backend == "postgresql"
                        else data.prepare_sqlite(
                            opts.work / ("smoke-" + self.run_id if opts.smoke else "sqlite"), size
                        )
                    )
                    for workers in opts.workers:
                        # Ratios are to rates of this server (and the floor): the last one's are dropped
                        for key in [key for key in rates if key != "floor"]:
                            del rates[key]
                        self.run_repohub(ds, backend, workers, files, rates)
            finally:
                if opts.smoke:
                    asyncio.run(data.drop_pg_database(opts.server, data.pg_database(size, suffix)))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    wrk_version = subprocess.run([wrk.wrk_binary(), "-v"], capture_output=True, text=True).stdout.split("\n")[
        0
    ]
    system = f"{platform.system()} {platform.release()}"
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}; {system}; Python {platform.python_version()}; "
        f"{wrk_version.strip()}; PostgreSQL on the same machine"
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    runner = Runner(options)
    runner.run()
    if options.prepare_only:
        return 0
    results_path = options.out / "benchmarks.json"
    results = report.merge(report.load(results_path), runner.results)
    report.save(results_path, results)
    report.plot(results, options.out / "benchmarks.png")
    command = "make bench" + (f" BENCH_ARGS='{shlex.join(sys.argv[1:])}'" if sys.argv[1:] else "")
    report.write_markdown(
        options.out / "benchmarks.md",
        report.generated(results, machine(), command, "benchmarks.png", targets.markdown(results)),
    )
    print(f"bench: wrote {options.out / 'benchmarks.md'}", flush=True)
    print(json.dumps({"results": len(runner.results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
