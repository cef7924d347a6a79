"""SWR's long-term credentials (enterprise edition): ``/v2/{project_id}/instances/{instance_id}/
long-term-credential[s[/{credential_id}]]``.

Translation only: :data:`~repohub.api.swr.instances.InstanceScope` checks the caller (401) and the
instance (404); ``service.accounts`` (``domain.accounts``, its long-term section) mints, lists,
disables and deletes. A long-term credential is a ``docker login`` (and skopeo) credential for the
registry's token server: ``user_id`` (the caller's username) with ``auth_token``, which never expires
(``expire_date`` is null) but stops working when disabled or deleted, or with its user.

Answers as huaweicloudsdkswr's models read them: creation 201 with ``CreateInstanceLtCredential
Response`` (the token shown this once), the list ``{"total", "auth_tokens": [AuthToken]}`` newest
first (``self_only=false``: a site admin's view of every user's; anyone else gets its own either way;
``Content-Range`` when paged, as SWR's other paged lists), enabling or disabling and deletion 200
without a body (their response models have no fields). An id the caller may not manage is a 404,
as an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Response
from pydantic import BaseModel

from repohub.api.openapi import COMMON, TOO_LARGE
from repohub.api.parameters import StrictInteger
from repohub.api.render import iso
from repohub.api.routing import PrefixRouter
from repohub.api.swr import filters
from repohub.api.swr.errors import error_responses
from repohub.api.swr.instances import INSTANCE, PREFIX, InstanceScope
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_object, json_response, path_id
from repohub.domain.accounts import LONG_TERM_NAME, MAX_LONG_TERM_NAME
from repohub.domain.entities import LongTermCredential
from repohub.domain.errors import InvalidInput

__all__ = ["auth_token_of", "router"]

router = PrefixRouter(
    prefix=PREFIX, tags=["SWR enterprise"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)

CREATE = INSTANCE + "/long-term-credential"  # singular: SWR's path for creation
LIST = INSTANCE + "/long-term-credentials"
ONE = LIST + "/{credential_id:segment}"
MAX_PAGE = 100  # SWR's default and maximum page of credentials
MAX_OFFSET = 10_000_000
WITH_BODY = error_responses(TOO_LARGE)
PAGED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"Content-Range": {"description": "offset-count/total, when paged"}}}
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


CREATE_BODY = _body(
    {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "maxLength": MAX_LONG_TERM_NAME, "pattern": LONG_TERM_NAME.pattern}
        },
    }
)
UPDATE_BODY = _body(
    {
        "type": "object",
        "required": ["enable"],
        "additionalProperties": False,
        "properties": {"enable": {"type": "boolean"}},
    }
)
JsonBody = Annotated[Any, Body(description="a JSON object: the schema")]


class LongTermCreated(BaseModel):
    auth_token: str
    created_at: str
    expire_date: str | None
    token_id: str
    user_id: str


class AuthToken(BaseModel):
    created_at: str
    enable: bool
    expire_date: str | None
    instance_id: str
    name: str
    token_id: str
    user_id: str
    user_profile: str


class AuthTokenList(BaseModel):
    total: int
    auth_tokens: list[AuthToken]


def auth_token_of(credential: LongTermCredential, instance_id: str) -> dict[str, Any]:
    """SWR's ``AuthToken``: ``user_id`` is what ``docker login -u`` takes (the owner's username), as
    ``user_profile`` repeats it; never the token."""
    return {
        "created_at": iso(credential.created_at),
        "enable": credential.enabled,
        "expire_date": None,  # until deleted
        "instance_id": instance_id,
        "name": credential.name,
        "token_id": str(credential.id),
        "user_id": credential.user.username,
        "user_profile": credential.user.username,
    }


def _field(body: dict[str, Any], name: str, kind: type, shape: str) -> Any:
    """``body[name]`` of JSON type ``kind``, the body holding nothing else; else a 400 on the field."""
    unknown = sorted(set(body) - {name})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}: the body is {shape}", field=unknown[0])
    value = body.get(name)
    if not isinstance(value, kind):
        raise InvalidInput(f"{name} must be a {'boolean' if kind is bool else 'string'}", field=name)
    return value


def _credential_id(text: str) -> int:
    return path_id(text, field="credential_id", what="long-term credential")


@router.post(
    CREATE, status_code=201, response_model=LongTermCreated, responses=WITH_BODY, openapi_extra=CREATE_BODY
)
async def create_instance_lt_credential(call: InstanceScope, body: JsonBody) -> Response:
    """A long-term credential of the caller (the token is shown this once). Minted from the caller's
    own token or access key: a docker-login or long-term credential mints none (403)."""
    name = _field(json_object(body, "{name}"), "name", str, "{name}")
    service = call.service
    created, token = await service.accounts.create_long_term(service.principal, name)
    answer = {
        "auth_token": token,
        "created_at": iso(created.created_at),
        "expire_date": None,
        "token_id": str(created.id),
        "user_id": created.user.username,
    }
    return json_response(answer, status=201)


@router.get(LIST, response_model=AuthTokenList, responses=PAGED)
async def list_instance_lt_credentials(
    call: InstanceScope,
    offset: Annotated[
        StrictInteger | None, Query(ge=0, le=MAX_OFFSET, description="start index; default 0")
    ] = None,
    limit: Annotated[
        StrictInteger | None, Query(ge=1, le=MAX_PAGE, description=f"default and at most {MAX_PAGE}")
    ] = None,
    self_only: Annotated[
        bool, Query(description="false: a site admin lists every user's (anyone else: its own)")
    ] = True,
) -> Response:
    """The caller's long-term credentials, newest first."""
    page = filters.Paging(offset or 0, limit or MAX_PAGE, offset is not None or limit is not None)
    service = call.service
    found = await service.accounts.long_term_credentials(
        service.principal, everyone=not self_only, offset=page.offset, limit=page.limit
    )
    items = [auth_token_of(credential, call.instance.id) for credential in found.items]
    paged = page.explicit
    headers = {"Content-Range": filters.content_range(page, len(items), found.total)} if paged else None
    return json_response({"total": found.total, "auth_tokens": items}, headers=headers)


@router.put(ONE, status_code=200, response_class=Response, responses=WITH_BODY, openapi_extra=UPDATE_BODY)
async def update_instance_lt_credential(call: InstanceScope, credential_id: str, body: JsonBody) -> Response:
    """Enable (``enable: true``) or disable it; disabled, it authenticates nothing until enabled."""
    wanted = _credential_id(credential_id)  # an id that is no integer names nothing: 404 first
    enable = _field(json_object(body, "{enable}"), "enable", bool, "{enable}")
    service = call.service
    await service.accounts.enable_long_term(service.principal, wanted, enable)
    return Response(status_code=200)


@router.delete(ONE, status_code=200, response_class=Response)
async def delete_instance_lt_credential(call: InstanceScope, credential_id: str) -> Response:
    """Delete it: it authenticates nothing from now on."""
    service = call.service
    await service.accounts.delete_long_term(service.principal, _credential_id(credential_id))
    return Response(status_code=200)
