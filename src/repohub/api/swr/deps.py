"""Who is calling an SWR endpoint: an ``SDK-HMAC-SHA256`` signature (AK/SK) or ``X-Auth-Token``.

Every SWR call must be authenticated, as on Huawei Cloud. The signature is checked over the request as
the client sent it (raw path, root-path prefix restored), with the access key's secret from the store;
the SDK's reading of ``%2F`` as ``/`` is taken only where that reading reaches no route of the app.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.types import Scope

from repohub.api.claims import header, token_key
from repohub.api.deps import bound_service
from repohub.api.parameters import parameter
from repohub.api.swr.paths import reaches_a_route, signed_path
from repohub.auth import aksk
from repohub.domain.accounts import project_id_for
from repohub.domain.entities import Principal
from repohub.domain.errors import NotAuthenticated
from repohub.domain.service import Service

__all__ = ["ServiceDep", "bind_caller", "claimed_caller", "signed_request", "swr_service"]


async def signed_request(request: Request) -> aksk.SignedRequest:
    scope = request.scope
    return aksk.SignedRequest(
        method=request.method,
        raw_path=signed_path(scope),
        query=parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
        headers={name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]},
        body=await request.body(),
    )


async def bind_caller(service: Service, request: Request) -> None:
    """Bind the caller; no credentials, a bad signature or an unknown key is a 401."""
    headers = request.headers
    authorization = headers.get("authorization")
    x_auth_token = headers.get("x-auth-token")
    if authorization and authorization.strip().startswith(aksk.ALGORITHM):
        try:
            access_key = aksk.parse_authorization(authorization).access_key
        except aksk.SignatureError as error:
            raise NotAuthenticated(str(error)) from error
        key, secret = await service.accounts.access_key(access_key)
        user = key.user
        # huaweicloudsdkswr sends every body as application/json, signed: no unsigned payload is taken.
        routes_elsewhere = partial(reaches_a_route, request.scope, request.app.router.routes)
        try:
            aksk.verify(await signed_request(request), secret, routes_elsewhere=routes_elsewhere)
        except aksk.SignatureError as error:
            raise NotAuthenticated(f"request signature rejected: {error}") from error
        project_id = headers.get("x-project-id")
        if project_id and project_id != project_id_for(user):
            raise NotAuthenticated("X-Project-Id is not the project of this access key")
        service.acting_as(Principal(user, via="access_key", credential=key))
    elif x_auth_token:  # an API token or a robot account's secret
        service.acting_as(await service.accounts.principal_of_token(x_auth_token.strip()))
    elif authorization:
        raise NotAuthenticated(f"use an {aksk.ALGORITHM} signature or the X-Auth-Token header")
    else:
        raise NotAuthenticated(f"authentication required: an {aksk.ALGORITHM} signature or X-Auth-Token")


swr_service = bound_service(
    bind_caller,
    [
        parameter(
            "authorization", "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=..., Signature=...", where="header"
        ),
        parameter("x-auth-token", "an API token instead of a signature", where="header"),
        parameter("x-project-id", "the project id of the access key", where="header"),
    ],
)
ServiceDep = Annotated[Service, Depends(swr_service)]


def claimed_caller(scope: Scope) -> str | None:
    """Who SWR's docker-login call claims to be, in the order ``bind_caller`` reads it: a signature's
    access key id, else X-Auth-Token. Anything else is a 401 without a database hit, so it needs no key."""
    authorization = header(scope, b"authorization").strip()
    if authorization.startswith(aksk.ALGORITHM):
        try:
            return f"ak:{aksk.parse_authorization(authorization).access_key}"
        except aksk.SignatureError:
            return None
    return token_key(header(scope, b"x-auth-token"))
