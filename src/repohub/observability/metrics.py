"""Prometheus metrics. Other modules increment the counters here; ``/metrics`` exposes them.

Multi-process safe: ``repohub serve --workers N`` (N > 1) sets ``PROMETHEUS_MULTIPROC_DIR`` before the
workers start, so prometheus-client keeps each worker's values in files there and ``/metrics`` sums
them (gauges: the sum over live workers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from repohub.private_files import private_dir

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

HTTP_REQUESTS = Counter(
    "repohub_http_requests",
    "HTTP requests answered, by dialect, route template, method and status",
    ["dialect", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "repohub_http_request_duration_seconds",
    "Time to answer an HTTP request, by dialect and route template",
    ["dialect", "route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Label pool: "session" (SQLAlchemy's, for use cases) or "reader" (the asyncpg pool of lone hot reads).
DB_POOL_IN_USE = Gauge(
    "repohub_db_pool_connections_in_use",
    "Database connections checked out, by pool",
    ["pool"],
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "repohub_db_pool_size",
    "Configured database pool size (without overflow), by pool",
    ["pool"],
    multiprocess_mode="livesum",
)
# Read replicas (``store.replicas``), label ``database``: a replica's ``host:port/db``, or ``primary``
# for the reads counter. Set by each process's health loop, about once a second.
DB_REPLICA_UP = Gauge(
    "repohub_db_replica_up",
    "1 when the read replica takes reads (answering, lag within REPOHUB_REPLICA_MAX_LAG), else 0",
    ["database"],
    multiprocess_mode="livemin",  # a replica one worker cannot use is shown as not up
)
DB_REPLICA_LAG = Gauge(
    "repohub_db_replica_lag_seconds",
    "How far the read replica's replay is behind its primary (NaN while unknown)",
    ["database"],
    multiprocess_mode="livemax",
)
DB_LONE_READS = Counter(
    "repohub_db_lone_reads",
    "Lone reads (list and detail pages, token grants, immutability checks) answered, by database",
    ["database"],
)
# Incremented by whoever issues a token: kind is "api" (login, CLI) or "registry" (Distribution JWT).
TOKENS_ISSUED = Counter("repohub_tokens_issued", "Credentials issued, by kind", ["kind"])
# Incremented by the registry event sink for each notification applied: action is push, pull, delete…
EVENTS_APPLIED = Counter("repohub_registry_events_applied", "Registry events applied, by action", ["action"])
# Events skipped as invalid (their envelope is applied without them), by reason: "tag".
EVENTS_REJECTED = Counter(
    "repohub_registry_events_rejected", "Registry events skipped as invalid, by reason", ["reason"]
)
RATE_LIMITED = Counter("repohub_rate_limited", "Requests refused by a rate limit, by limit", ["limit"])
# Retention (``domain.retention.runner``): tags a run deleted (catalogue and registry), and how long runs
# took, by trigger: "schedule" (the replica that claimed the schedule) or "cli" (``repohub retention run``).
RETENTION_DELETED = Counter("repohub_retention_deleted_tags", "Tags deleted by retention runs")
RETENTION_RUNS = Counter(
    "repohub_retention_runs", "Retention runs finished, by trigger and outcome", ["trigger", "outcome"]
)
RETENTION_DURATION = Histogram(
    "repohub_retention_run_duration_seconds",
    "Time of one retention run, by trigger",
    ["trigger"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)

# Webhook delivery attempts (``domain.webhooks.delivery``), by outcome: "succeeded", "failed" (the
# receiver's error or none), "expired" (given up before an attempt: older than REPOHUB_WEBHOOK_MAX_AGE).
WEBHOOK_ATTEMPTS = Counter("repohub_webhook_attempts", "Webhook delivery attempts, by outcome", ["outcome"])


class ReplicaFigures(Protocol):
    """One database's figures as the store's replica reader gives them (``ReplicaStatus``)."""

    @property
    def name(self) -> str: ...
    @property
    def state(self) -> str: ...  # "up", "down" or "lagging"
    @property
    def lag(self) -> float | None: ...
    @property
    def served(self) -> int: ...  # reads answered since the process started


def replica_reporter() -> Callable[[Iterable[ReplicaFigures]], None]:
    """What the health loop hands its figures to: the gauges set, the reads counter advanced by
    what was served since the last report (the hot path only counts in a plain integer)."""
    reported: dict[str, int] = {}

    def report(figures: Iterable[ReplicaFigures]) -> None:
        for figure in figures:
            DB_LONE_READS.labels(figure.name).inc(figure.served - reported.get(figure.name, 0))
            reported[figure.name] = figure.served
            if figure.name == "primary":
                continue
            DB_REPLICA_UP.labels(figure.name).set(1 if figure.state == "up" else 0)
            DB_REPLICA_LAG.labels(figure.name).set(float("nan") if figure.lag is None else figure.lag)

    return report


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


_before_scrape: list[Callable[[], None]] = []


def before_scrape(hook: Callable[[], None]) -> None:
    """Run ``hook`` at each scrape: values read then (a pool's state) cost requests nothing."""
    _before_scrape.append(hook)


def render() -> tuple[bytes, str]:
    """The exposition text for a scrape, merged across workers in multi-process mode."""
    for hook in _before_scrape:
        hook()
    if is_multiprocess():
        registry = CollectorRegistry()
        # prometheus_client's multiprocess module has no annotations (its py.typed notwithstanding).
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def process_exited() -> None:
    """Drop this worker's live gauges (multi-process mode) when it stops."""
    if is_multiprocess():
        _multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]  # unannotated


def prepare_workers(workers: int, directory: Path) -> None:
    """Before uvicorn starts N > 1 workers: give them a fresh shared directory for metric files.

    prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` from the environment when a worker imports
    it, so this is the one place repohub writes the environment (inherited by the workers). An
    operator who sets the variable already keeps their directory.
    """
    if workers <= 1 or is_multiprocess():
        return
    private_dir(directory)  # under the data directory, which it may be the first to make
    for stale in directory.glob("*.db"):  # values of a previous run would be summed in otherwise
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
