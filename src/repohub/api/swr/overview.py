"""SWR's tenant overview and quota usage: ``GET /v2/manage/overview`` (``show_domain_overview``) and
``GET /v2/manage/projects/{project_id}/quotas`` (``list_quotas``).

Translation only: ``domain.quotas`` decides whose namespaces count (a site admin: every one; a user:
those it belongs to, SWR's overview being the tenant's) and reads the counts the database keeps, one
indexed read per call. The answers, where SWR's documents leave a choice:

* ``store_space`` is bytes (the sum of the tags' image sizes, as a repository's ``size``); the SDK
  types it a float and names no unit.
* ``downflow_size`` is 0: repohub counts pulls but not the bytes pulled. Metering them would mean
  sizing every pulled manifest on the event intake's hot path; an honest 0 is documented instead.
* ``list_quotas``: the caller's own project id (anything else answers as a missing project); one
  ``namespace`` entry (how many namespaces the caller sees; repohub sets no limit on them, so
  ``quota_limit`` is -1) and one ``repository`` entry per namespace, with a ``namespace`` field the
  SDK ignores: the limit ``repohub quotas set`` gave it (-1: none) and how many it holds.
  ``?namespace=NAME`` narrows the list to that namespace's entry. ``unit`` is empty: they are counts.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response
from pydantic import BaseModel, Field

from repohub.api.deps import StateDep
from repohub.api.openapi import COMMON
from repohub.api.routing import PrefixRouter
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_response
from repohub.domain.quotas import NO_LIMIT
from repohub.store.counts import QuotaUse

__all__ = ["PREFIX", "router"]

PREFIX = "/v2/manage"
router = PrefixRouter(
    prefix=PREFIX, tags=["SWR"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)

NAMESPACE_QUOTA = "namespace"  # SWR's own key
REPOSITORY_QUOTA = "repository"  # repohub's, per namespace
DOWNFLOW_SIZE = 0.0  # pulled bytes are not metered (module doc)


class DomainOverview(BaseModel):
    domain_id: str
    domain_name: str
    namspace_num: int = Field(description="namespaces the caller sees (SWR's spelling)")
    repo_num: int
    image_num: int = Field(description="tags")
    store_space: float = Field(description="bytes")
    downflow_size: float = Field(description="always 0: repohub does not meter pulled bytes")


class Quota(BaseModel):
    quota_key: str
    quota_limit: int = Field(description="-1: no limit")
    used: int
    unit: str
    namespace: str | None = Field(default=None, description="the namespace of a repository quota")


class Quotas(BaseModel):
    quotas: list[Quota]


@router.get("/overview", response_model=DomainOverview)
async def show_domain_overview(service: ServiceDep, state: StateDep) -> Response:
    """Namespaces, repositories, images (tags) and storage over the namespaces the caller sees."""
    totals = await service.quotas.overview()
    domain = state.settings.domain_name
    body = {
        "domain_id": domain,
        "domain_name": domain,
        "namspace_num": totals.namespaces,
        "repo_num": totals.repositories,
        "image_num": totals.tags,
        "store_space": float(totals.size),
        "downflow_size": DOWNFLOW_SIZE,
    }
    return json_response(body)


def _repository_entry(use: QuotaUse) -> dict[str, object]:
    return {
        "quota_key": REPOSITORY_QUOTA,
        "quota_limit": use.limit if use.limit is not None else NO_LIMIT,
        "used": use.used,
        "unit": "",
        "namespace": use.namespace,
    }


@router.get("/projects/{project_id}/quotas", response_model=Quotas)
async def list_quotas(
    service: ServiceDep,
    project_id: Annotated[str, Path(description="the caller's project id")],
    namespace: Annotated[str | None, Query(description="only this namespace's repository quota")] = None,
) -> Response:
    """The caller's quotas: its namespaces' count, and each namespace's repository limit and use."""
    found = await service.quotas.repository_quotas(project_id, namespace)
    entries = [_repository_entry(use) for use in found]
    if namespace is None:
        seen = {"quota_key": NAMESPACE_QUOTA, "quota_limit": NO_LIMIT, "used": len(found), "unit": ""}
        entries.insert(0, seen)
    return json_response({"quotas": entries})
