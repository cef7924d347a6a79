"""Read replicas (issue 19): reads on a streaming standby, and none lost when it stops mid-run.

``python -m bench.replica`` starts a throwaway primary and one hot standby (``bench.pgcluster``),
loads a small dataset into the primary (``bench.dataset``), and runs one read scenario with wrk (a
v1 repository detail of a random repository: two lone reads each) three times, each against a
fresh ``repohub serve``:

1. without the replica (every read on the primary);
2. with it: the standby's own ``pg_stat_statements`` must show the reads;
3. with it, the standby stopped a third into the run and started again at two thirds: every request
   must answer 200, and reads must land on the standby again once it is back.

It prints throughput both ways (on a 2-core machine the standby competes for the same CPUs, so no
target is set on it) and exits 1 if a request failed or no read was observed on the standby.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from bench import pgcluster
from bench.dataset import Dataset, Size, prepare_pg
from bench.scenarios import LUA
from bench.servers import free_port, repohub_command, repohub_env, running
from bench.wrk import Load, Measured, run

__all__ = ["main"]

PATH = "/v1/repositories/{ns}/{repo}"
# What repohub's role ran in the bench's database, the replica health check's statement left out.
CALLS_SQL = (
    "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
    " WHERE s.userid = 'repohub'::regrole AND d.datname = '{database}'"
    " AND s.query NOT LIKE '%pg_is_in_recovery%'"
)


@dataclass(frozen=True)
class Run:
    label: str
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    standby_statements: int  # statements repohub ran on the standby during the run (its own count)
    primary_reads: float  # lone reads repohub counted on the primary (/metrics), during the run
    replica_reads: float  # and on the replica


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replica", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=Size.parse, default=Size(50, 40, 2), help="NxMxT (default 50x40x2)")
    parser.add_argument("--seconds", type=float, default=12.0, help="each wrk run (default 12)")
    parser.add_argument("--connections", type=int, default=16)
    return parser.parse_args(argv)


@contextmanager
def serving(dataset: Dataset, work: Path, replica_url: str | None) -> Iterator[str]:
    port = free_port()
    env = repohub_env(dataset.url, work / "data")
    if replica_url is not None:
        env["REPOHUB_DATABASE_REPLICA_URLS"] = replica_url
    with running(repohub_command(port, 1), env, port, work / f"serve-{port}.log", "/healthz") as server:
        if replica_url is not None:
            wait_replica(server.url, "up")
        yield server.url


def lone_reads(url: str) -> dict[str, float]:
    """``repohub_db_lone_reads_total`` by database: "primary" and the replica's, as /metrics shows."""
    time.sleep(1.2)  # the health loop hands the counts to /metrics once a second
    found: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("repohub_db_lone_reads_total{"):
            label, value = line.rsplit(" ", 1)
            found["primary" if '"primary"' in label else "replica"] = float(value)
    return found


def wait_replica(url: str, state: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/readyz", timeout=10).json()
        if body.get("replicas") and body["replicas"][0]["state"] == state:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the replica never became {state}")


class Bench:
    def __init__(self, dataset: Dataset, primary: pgcluster.Cluster, standby: pgcluster.Cluster, work: Path):
        self.dataset, self.primary, self.standby, self.work = dataset, primary, standby, work
        self.replica_url = dataset.url.replace(f":{primary.port}/", f":{standby.port}/")
        samples = work / "samples.txt"
        samples.write_text(
            "".join(f"{ns} {repo} {nid} {rid}\n" for ns, repo, nid, rid in dataset.sample(500))
        )
        self.env = {
            "BENCH_LUA": str(LUA),
            "PATH_TEMPLATE": PATH,
            "SAMPLES": str(samples),
            "AUTH_HEADER": f"Authorization: Token {dataset.token}",
        }

    def standby_calls(self) -> int:
        database = self.dataset.url.rsplit("/", 1)[1]
        return int(self.standby.psql(CALLS_SQL.format(database=database)))

    def wrk(self, url: str, seconds: float, connections: int) -> Measured:
        return run(
            url, LUA / "sample_get.lua", self.env, Load(threads=2, connections=connections, seconds=seconds)
        )

    def measure(self, label: str, replica: bool, options: argparse.Namespace) -> Run:
        with serving(self.dataset, self.work, self.replica_url if replica else None) as url:
            self.wrk(url, 2, options.connections)  # warm: prepared statements, verified token
            before, counted = self.standby_calls(), lone_reads(url)
            measured = self.wrk(url, options.seconds, options.connections)
            return self.result(label, measured, before, counted, lone_reads(url))

    def stopped_mid_run(self, options: argparse.Namespace) -> tuple[Run, int]:
        """The standby stopped a third into the run and started at two thirds; then the reads a
        short run puts on it once it is back."""
        with serving(self.dataset, self.work, self.replica_url) as url:
            self.wrk(url, 2, options.connections)
            before, counted = self.standby_calls(), lone_reads(url)
            third = options.seconds / 3
            flip = threading.Thread(target=self._stop_and_start, args=(third,))
            flip.start()
            try:
                measured = self.wrk(url, options.seconds, options.connections)
            finally:
                flip.join()
            result = self.result("with replica, stopped mid-run", measured, before, counted, lone_reads(url))
            wait_replica(url, "up")
            again = self.standby_calls()
            self.wrk(url, 2, options.connections)
            return result, self.standby_calls() - again

    def _stop_and_start(self, third: float) -> None:
        time.sleep(third)
        self.standby.stop("fast")
        time.sleep(third)
        self.standby.start()

    def result(
        self, label: str, measured: Measured, before: int, counted: dict[str, float], after: dict[str, float]
    ) -> Run:
        def delta(where: str) -> float:
            return after.get(where, 0.0) - counted.get(where, 0.0)

        return Run(
            label, measured.rate, measured.p50_ms, measured.p99_ms, measured.requests, measured.errors,
            self.standby_calls() - before, delta("primary"), delta("replica"),
        )  # fmt: skip


def _report(runs: list[Run], back_on_replica: int) -> int:
    for result in runs:
        print(
            f"bench.replica: {result.label:32} {result.rate:8.1f} req/s  p50 {result.p50_ms:6.1f} ms"
            f"  p99 {result.p99_ms:6.1f} ms  errors {result.errors}"
            f"  standby statements {result.standby_statements}"
            f"  lone reads primary/replica {result.primary_reads:.0f}/{result.replica_reads:.0f}"
        )
    without, with_replica, stopped = runs
    print(f"bench.replica: with/without replica throughput {with_replica.rate / without.rate:.2f}x")
    print(f"bench.replica: statements on the standby after its restart: {back_on_replica}")
    print(json.dumps({"runs": [asdict(result) for result in runs], "back_on_replica": back_on_replica}))
    failures = []
    if without.standby_statements:
        failures.append("reads reached the standby without it configured")
    # Each request makes at least one lone read; the standby's own count must show them.
    if with_replica.standby_statements < with_replica.requests or with_replica.replica_reads == 0:
        failures.append("reads were not observed on the standby")
    if stopped.errors or with_replica.errors or without.errors:
        failures.append("requests failed")
    if back_on_replica == 0:
        failures.append("reads did not go back to the standby after its restart")
    for failure in failures:
        print(f"bench.replica: FAILED: {failure}")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="repohub-bench-replica-") as scratch:
        work = Path(scratch)
        with pgcluster.throwaway_cluster(replicable=True) as primary:
            primary.psql("CREATE ROLE repohub SUPERUSER LOGIN")
            primary.psql("CREATE EXTENSION pg_stat_statements")
            server = f"postgresql://repohub@127.0.0.1:{primary.port}/postgres"
            dataset = prepare_pg(server, options.size)
            with pgcluster.standby_of(primary) as standby:
                pgcluster.replayed(primary, standby)
                bench = Bench(dataset, primary, standby, work)
                runs = [
                    bench.measure("without replica", False, options),
                    bench.measure("with replica", True, options),
                ]
                stopped, back = bench.stopped_mid_run(options)
                return _report([*runs, stopped], back)


if __name__ == "__main__":
    raise SystemExit(main())
