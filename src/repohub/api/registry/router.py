"""``GET /registry/token`` (Docker token spec) and ``POST /registry/events`` (Distribution notifications).

The token path is hot: the signing key is loaded once per process, an API token given as the Basic
password is checked by its SHA-256 lookup before any password hashing is tried, and the response
is written straight out.
"""

from __future__ import annotations

import hmac
from typing import Annotated

import orjson
from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import ValidationError

from repohub.api.deps import AnonymousServiceDep, StateDep, service_session
from repohub.api.openapi import (
    BAD_INPUT,
    FORBIDDEN,
    RATE_LIMITED,
    TOO_LARGE,
    UNAUTHENTICATED,
    UNAVAILABLE,
)
from repohub.api.parameters import parameter, query_pairs
from repohub.api.registry.deps import authenticated_caller
from repohub.api.registry.errors import error_responses
from repohub.api.registry.push_check import push_check
from repohub.api.registry.schemas import Envelope, EnvelopeOut, TokenOut
from repohub.api.routing import PrefixRouter, plain
from repohub.auth.registry_token import Scope, parse_scope, token_claims
from repohub.domain.errors import InvalidInput, NotAuthenticated
from repohub.observability.metrics import EVENTS_APPLIED, EVENTS_REJECTED, TOKENS_ISSUED

PREFIX = "/registry"
EVENTS_MEDIA_TYPES = ("application/vnd.docker.distribution.events.v1+json", "application/json")
MAX_ENVELOPE_BYTES = 8 * 1024 * 1024
router = PrefixRouter(prefix=PREFIX, tags=["registry"])


_TOKENS_ISSUED = TOKENS_ISSUED.labels("registry")

# The token endpoint reads its query and header itself and is called directly (``api.routing.plain``):
# FastAPI's parameter and dependency solving cost more than everything else the request does
# (profiles in docs/benchmarks.md). Its parameters are declared for the OpenAPI document here instead.
# Checked again for issue 14 with the query still read here: as a normal FastAPI route the same
# endpoint cost 487-819 µs of CPU a request against 400-634 µs as a PlainRoute, best of 5-9 rounds
# in four in-process A/B runs (``bench/plain_ab.py``, docs/benchmarks.md): 11-29 % more, not noise.
_TOKEN_PARAMETERS = [
    parameter("scope", "repository:<name>:<actions> or registry:catalog:*, repeatable", repeated=True),
    parameter("service", "the registry's name"),
    parameter("account", "informational; the credentials decide"),
    parameter("authorization", "Basic user:password or user:token", where="header"),
]


@plain(
    router,
    "GET",
    "/token",
    response_model=None,
    responses={
        200: {"model": TokenOut},
        **error_responses(BAD_INPUT, UNAUTHENTICATED, RATE_LIMITED, UNAVAILABLE),
    },
    openapi_extra={"parameters": _TOKEN_PARAMETERS},
)
async def token(request: Request, state: StateDep) -> Response:
    """A registry bearer token granting what the caller may do of what it asked (the rest is left out)."""
    settings = state.settings
    service_name, requested = _token_query(request)
    if service_name is not None and service_name != settings.registry_service:
        raise InvalidInput(f"unknown service {service_name!r}; this is {settings.registry_service!r}")
    # The service makes only the two use cases asked for (``domain.service``), bound to no caller:
    # the grant is the principal's, given as an argument.
    async with service_session(state) as service:
        principal = await authenticated_caller(service.accounts, request.scope)
        granted = await service.registry.grant(principal, requested)
    claims = token_claims(
        issuer=settings.registry_issuer,
        service=settings.registry_service,
        subject=principal.name or "",  # a user's name, a robot's robot$<namespace>+<name>
        access=granted,
        ttl=settings.registry_token_ttl,
    )
    issued = claims.response(await state.token_signer.sign(claims.payload))
    _TOKENS_ISSUED.inc()
    return Response(orjson.dumps(issued), media_type="application/json")


# nginx's auth_request for manifest PUT and DELETE (``push_check``); nginx hides it from outside.
plain(
    router,
    "GET",
    "/push-check",
    response_model=None,
    responses={204: {"description": "let it through"}, **error_responses(FORBIDDEN, UNAVAILABLE)},
    openapi_extra={
        "parameters": [
            parameter("x-original-method", "the client's method", where="header"),
            parameter("x-original-uri", "the client's request URI", where="header"),
            parameter("authorization", "the client's registry bearer token", where="header"),
        ]
    },
)(push_check)


def _token_query(request: Request) -> tuple[str | None, list[Scope]]:
    """The ``service`` asked for (the last one given, as Starlette reads it) and every ``scope``."""
    service_name: str | None = None
    requested: list[Scope] = []
    for key, value in query_pairs(request.scope):
        if key == "service":
            service_name = value
        elif key == "scope":
            try:
                requested.extend(parse_scope(value))
            except ValueError as error:
                raise InvalidInput(str(error), field="scope") from error
    return service_name, requested


@router.post(
    "/events",
    response_model=EnvelopeOut,
    responses=error_responses(BAD_INPUT, UNAUTHENTICATED, TOO_LARGE, UNAVAILABLE),
)
async def events(
    request: Request,
    state: StateDep,
    service: AnonymousServiceDep,
    authorization: Annotated[str | None, Header(description="Bearer <shared secret>")] = None,
    content_type: Annotated[str | None, Header()] = None,
) -> EnvelopeOut:
    """Apply one envelope of registry notifications (idempotent by event id)."""
    expected = f"Bearer {state.settings.resolved_events_secret}".encode()
    if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
        raise NotAuthenticated("the registry's shared secret is missing or wrong")
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type not in EVENTS_MEDIA_TYPES:
        raise InvalidInput(f"Content-Type must be {EVENTS_MEDIA_TYPES[0]}")
    body = await request.body()
    if len(body) > MAX_ENVELOPE_BYTES:
        raise InvalidInput(f"an envelope may be at most {MAX_ENVELOPE_BYTES} bytes")
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InvalidInput(f"not a notification envelope: {where}: {first.get('msg')}") from error
    result = await service.registry.apply_events([event.to_domain() for event in envelope.events])
    for action, count in result.applied_by_action.items():
        EVENTS_APPLIED.labels(action).inc(count)
    for reason, count in result.rejected_by_reason.items():
        EVENTS_REJECTED.labels(reason).inc(count)
    return EnvelopeOut(applied=result.applied, duplicates=result.duplicates, ignored=result.ignored)
