"""Who is calling the v1 dialect: ``Authorization: Token <token>``, or nobody (anonymous reads)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from repohub.api.deps import bound_service
from repohub.api.parameters import parameter
from repohub.auth.credentials import MalformedCredentials, split_authorization
from repohub.domain.errors import NotAuthenticated
from repohub.domain.service import Service

__all__ = ["ServiceDep", "bind_caller", "v1_service"]


async def bind_caller(service: Service, request: Request) -> None:
    """Bind the caller of `Authorization: Token <token>` (an API token or a robot account's secret);
    no header means anonymous."""
    try:
        parsed = split_authorization(request.headers.get("authorization"))
    except MalformedCredentials as error:
        raise NotAuthenticated(str(error)) from error
    if parsed is None:
        return
    scheme, value = parsed
    if scheme != "token":
        raise NotAuthenticated("use 'Authorization: Token <token>'")
    service.acting_as(await service.accounts.principal_of_token(value))


v1_service = bound_service(
    bind_caller, [parameter("authorization", "Token <api token>; none: anonymous", where="header")]
)
ServiceDep = Annotated[Service, Depends(v1_service)]
