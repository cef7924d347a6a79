"""The ASGI application: wiring of settings, database, routers, error rendering and docs."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig
from fastapi_offline import FastAPIOffline

from repohub.api import dialects, errors, hot_routes, openapi, ops
from repohub.api.deps import AppState
from repohub.api.hosts import AllowedHostsMiddleware
from repohub.api.limits import Limits, LimitsMiddleware
from repohub.api.observe import ObserveMiddleware
from repohub.api.proxy import ForwardedHeadersMiddleware
from repohub.api.request_id import install as install_request_id
from repohub.api.resources import RequestResourcesMiddleware
from repohub.auth.secrets import SecretBox, stand_in_hash
from repohub.config import Settings
from repohub.domain.password_budget import PasswordBudget
from repohub.domain.retention.scheduler import RetentionSchedule
from repohub.domain.webhooks.delivery import DeliveryWorker, Tuning
from repohub.observability import context, dbpool, metrics
from repohub.outbound.sender import HttpSender
from repohub.registry.client import RegistryClient
from repohub.registry.keys import registry_client
from repohub.store.database import Database, reader_pool_stats
from repohub.store.rule_listener import RuleListener

DESCRIPTION = """
One catalogue of container-image repositories, served in three vendor dialects:

* **v1 (Alauda)** under `/v1/repositories/{namespace}/` — `Authorization: Token <token>`
* **ABEJA** under `/organizations/{organization_id}/registry/repositories`
* **SWR** under `/v2/manage/...` — AK/SK signatures or `X-Auth-Token`
"""


_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Writes are audited as the current request's caller (``store.audit``, through the context).
        database = await Database.open(settings, actor=context.current)
        dbpool.instrument(database, reader_pool_stats)
        state = AppState(
            settings=settings,
            database=database,
            secret_box=SecretBox(settings.resolved_secret_key),
            password_budget=PasswordBudget(settings.login_rate_per_user),
        )
        # Deletes and sync call the registry when one is set, signing with this app's own key.
        registry = registry_client(settings, state.signing_key) if settings.registry_url else None
        state.registry = registry
        app.state.repohub = state
        # The stand-in hash that unknown users' passwords are checked against, made now rather than
        # in the first such request (which would then take twice as long as any other).
        await asyncio.to_thread(stand_in_hash)
        # The ~150k objects of the loaded application live as long as the process: keep them out of
        # the collector's sweeps, each of which otherwise paused every request for ~80 ms (the p99).
        gc.collect()
        gc.freeze()
        retention = _start_retention(settings, database, registry)
        rules = _start_rule_listener(settings, database)
        delivery = _start_delivery(settings, database, state.secret_box)
        replicas = _start_replica_health(database)
        try:
            yield
        finally:
            await _stop(replicas)
            await _stop(delivery)
            await _stop(retention)
            await _stop(rules)
            if registry is not None:
                await registry.aclose()
            dbpool.release(database)
            await database.close()
            metrics.process_exited()

    app = FastAPIOffline(
        title="repohub",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={} if settings.opentelemetry else _NO_TELEMETRY,
    )
    renderers = dialects.error_renderers()
    errors.install(app, renderers)
    # FastAPI tries the routers in this order on every request (``api.dialects.routers``: the probes,
    # then each dialect's, hot machine-facing ones first); each dialect router declines a path
    # outside its prefix with one test (api.routing).
    routers = list(dialects.routers())
    doc_pages = list(app.router.routes)  # the schema and the docs' pages, made with the app
    for router in routers:
        app.include_router(router)
    # ...and after them the doc pages, whose five patterns every API request failed first before.
    app.router.routes[:] = [route for route in app.router.routes if route not in doc_pages] + doc_pages
    # The document declares the dialects' 400s (not FastAPI's unused 422) and the credential headers
    # that the dialects' dependencies read themselves.
    openapi.install(app, routers)
    # The reads a PlainRoute serves are found by their routes' own patterns, in the order above,
    # without FastAPI's route search (``api.hot_routes``).
    hot_routes.install(app)
    # The forwarded-headers middleware is always installed: it also puts the configured root path
    # into ``path``; it believes X-Forwarded-* only when proxy headers are on and the peer is trusted.
    trusted = settings.trusted_proxies if settings.proxy_headers else frozenset[str]()
    # Innermost: what the request's dependencies opened (session, pool slot), closed when it is done.
    app.add_middleware(RequestResourcesMiddleware)
    # Body size and credential rate limits, answered in the dialect's format.
    app.add_middleware(
        LimitsMiddleware,
        limits=Limits.of(settings),
        renderers=renderers,
        logins=dialects.login_paths(),
        tokens=dialects.token_paths(),
    )
    if settings.cors_origin_list:  # CORS stays off unless origins are configured
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-Id", "Content-Range", "Retry-After"],
        )
    if "*" not in settings.allowed_host_list:  # off by default (ALLOWED_HOSTS=*)
        # Inside the forwarded-headers middleware (it checks the host a trusted proxy forwards) and
        # inside observation (a refusal is counted and logged); the probes are never refused.
        app.add_middleware(
            AllowedHostsMiddleware,
            allowed_hosts=settings.allowed_host_list,
            renderers=renderers,
            exempt=[route.path for route in ops.router.routes if hasattr(route, "path")],
        )
    # Inside the forwarded-headers middleware: metrics and access log see the real client.
    app.add_middleware(ObserveMiddleware)
    app.add_middleware(ForwardedHeadersMiddleware, trusted=trusted, root_path=settings.root_path)
    install_request_id(app)  # outermost of all, so even an unhandled error's 500 carries the id
    return app


def _start_retention(
    settings: Settings, database: Database, registry: RegistryClient | None
) -> asyncio.Task[None] | None:
    """The retention schedule this replica shares with every other on the database
    (``domain.retention.scheduler``); none when REPOHUB_RETENTION_INTERVAL is 0."""
    if not settings.retention_interval:
        return None
    schedule = RetentionSchedule(database.store, registry, settings.retention_interval)
    return asyncio.create_task(schedule.run_forever(), name="repohub-retention")


def _start_delivery(settings: Settings, database: Database, box: SecretBox) -> asyncio.Task[None] | None:
    """This process's webhook delivery worker (``domain.webhooks.delivery``), sharing the outbox
    with every other replica; none when REPOHUB_WEBHOOK_DELIVERY is false."""
    if not settings.webhook_delivery:
        return None
    tuning = Tuning(
        registry_host=settings.registry_host,
        backoff=settings.webhook_backoff,
        timeout=settings.webhook_timeout,
        concurrency=settings.webhook_concurrency,
        history=timedelta(seconds=settings.webhook_history),
        max_age=timedelta(seconds=settings.webhook_max_age),
    )

    async def deliver() -> None:
        sender = HttpSender(
            timeout=settings.webhook_timeout,
            allow_private=settings.webhook_allow_private,
            connections=settings.webhook_concurrency,
        )
        async with sender:
            worker = DeliveryWorker(database.store, sender, box, tuning, database.memory.webhook_nudge)
            await worker.run_forever()

    return asyncio.create_task(deliver(), name="repohub-webhook-delivery")


def _start_replica_health(database: Database) -> asyncio.Task[None] | None:
    """The checks that keep reads off a replica that is down or lagging (``store.replicas``), their
    figures into ``/metrics``; none without REPOHUB_DATABASE_REPLICA_URLS."""
    if database.replicas is None:
        return None
    watch = database.replicas.watch_forever(metrics.replica_reporter())
    return asyncio.create_task(watch, name="repohub-replica-health")


def _start_rule_listener(settings: Settings, database: Database) -> asyncio.Task[None] | None:
    """On PostgreSQL, what lets push checks answer from the immutable-tag rules they remember
    (``store.rule_listener``); on SQLite every check reads."""
    if not settings.database_url.startswith("postgresql"):
        return None
    listener = RuleListener(
        settings.database_url, database.memory.immutable_rules, connect_timeout=settings.db_connect_timeout
    )
    return asyncio.create_task(listener.run_forever(), name="repohub-rule-listener")


async def _stop(task: asyncio.Task[None] | None) -> None:
    """Cancel the schedule's task and wait for it: a run in progress stops at its next await, its
    open transaction rolled back (the registry may have deleted tags the catalogue then still has:
    the next run finds them absent there and completes the job)."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # a task that failed on its own: shutting down goes on (it was logged)
        logging.getLogger("repohub").exception("background task %s failed", task.get_name())
