"""SWR's enterprise-edition calls: ``/v2/{project_id}/instances[/{instance_id}/...]``.

repohub is one instance (``REPOHUB_SWR_INSTANCE_ID``), seen by each user from its own project
(``domain.instances``). The routes of the enterprise-edition calls go on :data:`router` under
:data:`INSTANCE` and take :data:`InstanceScope`: the caller authenticated as everywhere in SWR (AK/SK
or X-Auth-Token; 401 without), the path's project and instance checked (404 in SWR's format for any
other instance id or another caller's project id). New ids those calls hand out (rules, policies,
executions) are integers, as huaweicloudsdkswr's models type them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from repohub.api.deps import StateDep
from repohub.api.openapi import COMMON
from repohub.api.routing import PrefixRouter
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.schemas import (
    DEFAULT_ENTERPRISE_PROJECT,
    InstanceList,
    ShowInstance,
    instance_of,
)
from repohub.domain.entities import User
from repohub.domain.instances import Instance, instance_for, instances_for
from repohub.domain.service import Service

__all__ = ["INSTANCE", "INSTANCES", "PATHS", "InstanceCall", "InstanceScope", "router"]

PREFIX = "/v2"
INSTANCES = "/{project_id:segment}/instances"
INSTANCE = INSTANCES + "/{instance_id:segment}"
# Every path of these calls, for the error renderer (SWR's body on any failure under them, unknown
# sub-paths included). nginx sends /v2/<32 hex>/instances[/...] here (`repohub proxy config`).
PATHS = re.compile(re.escape(PREFIX) + r"/[^/]+/instances(?:/.*)?", re.S)

router = PrefixRouter(
    prefix=PREFIX, tags=["SWR enterprise"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)


def _caller(service: Service) -> User | None:
    """The calling user: swr_service binds one, or a robot account (None here), which has no
    project and so finds none (``domain.instances``)."""
    return service.principal.user


@dataclass(frozen=True, slots=True)
class InstanceCall:
    """What an enterprise-edition call works in: the caller's service and the instance it named."""

    service: Service
    instance: Instance


async def instance_scope(
    service: ServiceDep, state: StateDep, project_id: str, instance_id: str
) -> InstanceCall:
    """The caller first (401), then the path's project and instance (404)."""
    ours = state.settings.resolved_swr_instance_id
    return InstanceCall(service, instance_for(_caller(service), project_id, instance_id, ours))


InstanceScope = Annotated[InstanceCall, Depends(instance_scope)]


@router.get(INSTANCES, response_model=InstanceList)
async def list_instance(
    project_id: str,
    service: ServiceDep,
    state: StateDep,
    request: Request,
    offset: Annotated[int, Query(ge=0, description="start index; default 0")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="default 100, at most 100")] = 100,
    status: Annotated[str | None, Query(description="Initial, Creating, Running or Unavailable")] = None,
    enterprise_project_id: Annotated[str | None, Query()] = None,
) -> Any:
    """The project's instances: repohub itself, in the caller's own project."""
    found = instances_for(_caller(service), project_id, state.settings.resolved_swr_instance_id)
    if status not in (None, "Running") or enterprise_project_id not in (None, DEFAULT_ENTERPRISE_PROJECT):
        found = []  # repohub's one instance is running, in the default enterprise project
    host, version = state.settings.registry_host, request.app.version
    page = [instance_of(instance, host, version) for instance in found[offset : offset + limit]]
    return {"instances": page, "total": len(found)}


@router.get(INSTANCE, response_model=ShowInstance)
async def show_instance(call: InstanceScope, state: StateDep, request: Request) -> Any:
    """repohub as an instance: its registry's address, running."""
    return instance_of(call.instance, state.settings.registry_host, request.app.version)
