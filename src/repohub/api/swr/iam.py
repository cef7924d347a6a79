"""The one IAM call huaweicloudsdkcore makes for BasicCredentials without a project id.

With a region and ``with_iam_endpoint`` pointing here, the SDK asks ``GET /v3/projects?name=<region>``
(signed with the same AK/SK) and needs exactly one project back: the caller's own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from repohub.api.deps import StateDep
from repohub.api.openapi import UNAUTHENTICATED, UNAVAILABLE
from repohub.api.routing import PrefixRouter
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.domain.accounts import project_id_for

PREFIX = "/v3"
router = PrefixRouter(prefix=PREFIX, tags=["SWR"])


class Project(BaseModel):
    id: str
    name: str
    domain_id: str
    enabled: bool


class Projects(BaseModel):
    projects: list[Project]


@router.get("/projects", response_model=Projects, responses=error_responses(UNAUTHENTICATED, UNAVAILABLE))
async def keystone_list_projects(
    service: ServiceDep,
    state: StateDep,
    name: Annotated[str | None, Query(description="region name; any name gets the caller's project")] = None,
) -> Projects:
    """The caller's project (one per user), under whatever region name was asked for; a robot
    account has none."""
    user = service.principal.user
    if user is None:  # swr_service binds a user or a robot account
        return Projects(projects=[])
    project = Project(
        id=project_id_for(user), name=name or "repohub", domain_id=state.settings.domain_name, enabled=True
    )
    return Projects(projects=[project])
