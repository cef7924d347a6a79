"""SWR's ``POST /v2/manage/utils/authorizationtoken``: a docker-login credential for the caller.

As Huawei's CreateAuthorizationToken answers: the command in ``X-Swr-Dockerlogin``, the expiry in
``x-swr-expireat`` and ``{"auths": {host: {"auth": base64(user:password)}}}`` (a docker config.json
entry) in the body. The password is an API token that repohub's registry token service accepts,
derived from the caller's token or access key: it lives 24 hours at most and never past its parent,
is revoked with it, and cannot mint another (403).
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi.responses import JSONResponse

from repohub.api.deps import StateDep
from repohub.api.openapi import FORBIDDEN, RATE_LIMITED, UNAUTHENTICATED, UNAVAILABLE
from repohub.api.routing import PrefixRouter
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.router import PREFIX
from repohub.domain.registry import docker_login

router = PrefixRouter(prefix=PREFIX, tags=["SWR"])  # the SWR list router's prefix, a router of its own


@router.post(
    "/utils/authorizationtoken",
    responses={
        200: {
            "headers": {
                "X-Swr-Dockerlogin": {"description": "docker login -u <user> -p <password> <registry>"},
                "x-swr-expireat": {"description": "when the password stops working (UTC, ISO 8601)"},
            }
        },
        **error_responses(UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, UNAVAILABLE),
    },
)
async def create_authorization_token(service: ServiceDep, state: StateDep) -> Any:
    issued, expires = await docker_login(service.accounts, service.principal)
    host = state.settings.registry_host
    user = issued.user.username
    auth = base64.b64encode(f"{user}:{issued.token}".encode()).decode()
    headers = {
        "X-Swr-Dockerlogin": f"docker login -u {user} -p {issued.token} {host}",
        "x-swr-expireat": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return JSONResponse({"auths": {host: {"auth": auth}}}, headers=headers)
