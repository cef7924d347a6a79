"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import logging
from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from repohub.api.deps import StateDep
from repohub.observability import metrics
from repohub.store import migrate

router = APIRouter(tags=["operations"])
log = logging.getLogger("repohub.ops")


class Health(BaseModel):
    status: str


@lru_cache(maxsize=1)
def _expected_heads() -> frozenset[str]:
    return migrate.heads()


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "database unreachable or not migrated to head"}},
)
async def readyz(state: StateDep) -> JSONResponse:
    """The database answers and its schema is at the newest migration; with read replicas, each
    replica's state (``up``, ``down``, ``lagging``) and lag, ``degraded`` when one is not up."""
    try:
        found = await migrate.applied(state.engine)
    except Exception as error:  # any failure means "not ready"; the reason goes to logs, not to clients
        log.warning("not ready: database check failed: %s", type(error).__name__)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    if found != _expected_heads():
        log.warning("not ready: schema at %s, code expects %s", sorted(found), sorted(_expected_heads()))
        return JSONResponse({"status": "migrations pending"}, status_code=503)
    replicas = state.database.replicas
    if replicas is None:
        return JSONResponse({"status": "ready"})
    # Ready while the primary is: a replica down or lagging only moves its reads to the primary.
    shown = [
        {"name": status.name, "state": status.state.value, "lag_seconds": status.lag}
        for status in replicas.replica_statuses()
    ]
    degraded = any(status["state"] != "up" for status in shown)
    return JSONResponse({"status": "degraded" if degraded else "ready", "replicas": shown})


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"}
    },
)
async def prometheus_metrics() -> Response:
    """Prometheus exposition (summed over workers when serving with several)."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
