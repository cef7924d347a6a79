"""Who is calling the ABEJA dialect: every call needs a user (ABEJA has no anonymous access).

The abeja-sdk sends ``Basic base64("user-<user_id>:<personal access token>")``, or ``Bearer <token>``
when given an ``auth_token``. Both carry a repohub API token; with Basic, the user id must be the
token's user, so a token pasted next to someone else's id is refused rather than silently used.
A robot account's secret is taken as a Bearer token (it has no user id for Basic).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from repohub.api.deps import bound_service
from repohub.api.parameters import parameter
from repohub.auth.credentials import MalformedCredentials, decode_basic, split_authorization
from repohub.domain.entities import Principal
from repohub.domain.errors import InvalidInput, NotAuthenticated
from repohub.domain.numbers import parse_integer
from repohub.domain.service import Service

__all__ = ["ServiceDep", "abeja_service", "bind_caller"]

USER_PREFIX = "user-"
_HINT = "use 'Authorization: Basic base64(user-<user_id>:<token>)' or 'Bearer <token>'"


async def _basic_caller(service: Service, encoded: str) -> Principal:
    claimed_id, token = decode_basic(encoded)
    # The SDK always prefixes "user-"; a bare id is accepted too, for hand-written scripts.
    try:
        claimed = parse_integer(claimed_id.removeprefix(USER_PREFIX), field="user_id")
    except InvalidInput:
        raise NotAuthenticated(f"the Basic user must be 'user-<user_id>'; {_HINT}") from None
    principal = await service.accounts.principal_of_token(token)
    # A robot account has no user id to claim: it authenticates with Bearer.
    if principal.user is None or principal.user.id != claimed:
        raise NotAuthenticated("the token does not belong to that user id")
    return principal


async def bind_caller(service: Service, request: Request) -> None:
    try:
        parsed = split_authorization(request.headers.get("authorization"))
        if parsed is None:
            raise NotAuthenticated(f"authentication is required; {_HINT}")
        scheme, value = parsed
        if scheme == "bearer":  # an API token or a robot account's secret
            principal = await service.accounts.principal_of_token(value)
        elif scheme == "basic":
            principal = await _basic_caller(service, value)
        else:
            raise NotAuthenticated(f"unsupported authorization scheme; {_HINT}")
    except MalformedCredentials as error:
        raise NotAuthenticated(str(error)) from error
    service.acting_as(principal)


abeja_service = bound_service(
    bind_caller,
    [parameter("authorization", "Basic base64(user-<user_id>:<token>) or Bearer <token>", where="header")],
)
ServiceDep = Annotated[Service, Depends(abeja_service)]
