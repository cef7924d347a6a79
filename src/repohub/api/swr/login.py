"""SWR's ``POST /v2/manage/utils/authorizationtoken`` and ``POST /v2/manage/utils/secret``: a
docker-login credential for the caller.

The two calls (CreateAuthorizationToken, CreateSecret) are one use case (``domain.registry.
docker_login``) with one answer, as Huawei's answers them: the command in ``X-Swr-Dockerlogin``, the
expiry in ``x-swr-expireat`` and ``{"auths": {host: {"auth": base64(user:password)}}}`` (a docker
config.json entry) in the body. The password is an API token that repohub's registry token service
accepts, derived from the caller's token or access key: it lives 24 hours at most and never past its
parent, is revoked with it, and cannot mint another (403). CreateSecret's ``projectname`` (a region)
is accepted and ignored: repohub is one region.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import JSONResponse

from repohub.api.deps import StateDep
from repohub.api.openapi import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, UNAVAILABLE
from repohub.api.routing import PrefixRouter
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.router import PREFIX
from repohub.domain.registry import docker_login
from repohub.domain.service import Service

router = PrefixRouter(prefix=PREFIX, tags=["SWR"])  # the SWR list router's prefix, a router of its own

DOCKER_LOGIN_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "X-Swr-Dockerlogin": {"description": "docker login -u <user> -p <password> <registry>"},
            "x-swr-expireat": {"description": "when the password stops working (UTC, ISO 8601)"},
        }
    },
    **error_responses(UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, UNAVAILABLE),
}
AUTHORIZATION_TOKEN = "/utils/authorizationtoken"
SECRET = "/utils/secret"


async def _docker_login(service: Service, host: str) -> JSONResponse:
    """The caller's docker-login credential for the registry at ``host``, as both calls answer it."""
    issued, expires = await docker_login(service.accounts, service.principal)
    user = issued.user.username
    auth = base64.b64encode(f"{user}:{issued.token}".encode()).decode()
    headers = {
        "X-Swr-Dockerlogin": f"docker login -u {user} -p {issued.token} {host}",
        "x-swr-expireat": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return JSONResponse({"auths": {host: {"auth": auth}}}, headers=headers)


@router.post(AUTHORIZATION_TOKEN, responses=DOCKER_LOGIN_ANSWER)
async def create_authorization_token(service: ServiceDep, state: StateDep) -> Any:
    return await _docker_login(service, state.settings.registry_host)


@router.post(SECRET, responses=DOCKER_LOGIN_ANSWER)
async def create_secret(
    service: ServiceDep,
    state: StateDep,
    projectname: Annotated[
        str | None, Query(max_length=64, description="SWR's region name; repohub is one region: ignored")
    ] = None,
) -> Any:
    """CreateSecret: the same credential as ``authorizationtoken``, in the same answer."""
    return await _docker_login(service, state.settings.registry_host)
