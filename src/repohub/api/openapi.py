"""What the OpenAPI document says an operation answers: each error status it can really return, with
its dialect's error body, and no 422 (repohub answers validation errors with a 400 in the dialect's
format, so FastAPI's default 422 would be a status no client ever sees).

Dialects describe their errors through one :class:`ErrorResponses` each (in their ``errors.py``), so
a status's description and headers are written once, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]

# Statuses by cause, named so that routes read as what can happen to them.
BAD_INPUT, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT = 400, 401, 403, 404, 409
TOO_LARGE = 413  # a body over REPOHUB_MAX_BODY_BYTES (api.limits), on operations that take one
UNSUPPORTED_MEDIA_TYPE = 415  # a body of a media type the operation does not read (the v1 login)
RATE_LIMITED = 429  # the credential endpoints (api.limits)
REGISTRY_REFUSED = 502  # deletes and retags that go through the registry first
UNAVAILABLE = 503  # the database (or the registry) is down: every database-backed operation
# What every operation of a dialect router may answer.
COMMON = (BAD_INPUT, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, UNAVAILABLE)

_DESCRIPTIONS = {
    BAD_INPUT: "Malformed request or a rule broken (validation errors included)",
    UNAUTHENTICATED: "Credentials missing, malformed, unknown or expired",
    FORBIDDEN: "Authenticated, but not allowed to do this",
    NOT_FOUND: "Does not exist, or is not visible to the caller",
    CONFLICT: (
        "Conflicts with what exists (duplicate name, non-empty namespace...), or would delete, move or "
        "overwrite an immutable tag (an immutable-tag rule protects it, or a tag to delete shares its "
        "image with one)"
    ),
    TOO_LARGE: "The request body is larger than REPOHUB_MAX_BODY_BYTES",
    UNSUPPORTED_MEDIA_TYPE: "The body is not of a media type this operation reads",
    RATE_LIMITED: "Too many requests from this client or for this user; retry after Retry-After",
    REGISTRY_REFUSED: "The registry refused or failed to delete (or retag) the images; nothing was changed",
    UNAVAILABLE: "The database (or the registry) is unavailable; retry later",
}
_HEADERS = {
    RATE_LIMITED: {
        "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}},
    },
}


@dataclass(frozen=True, slots=True)
class ErrorResponses:
    """Builds the ``responses=`` entries of one dialect: its error body model for each status."""

    model: type[BaseModel]

    def __call__(self, *statuses: int) -> Responses:
        responses: Responses = {}
        for status in statuses:
            entry: dict[str, Any] = {"model": self.model, "description": _DESCRIPTIONS[status]}
            if status in _HEADERS:
                entry["headers"] = _HEADERS[status]
            responses[status] = entry
        return responses


_VALIDATION_REF = "#/components/schemas/HTTPValidationError"


def drop_unreturned_validation_errors(document: dict[str, Any]) -> None:
    """Remove the 422 FastAPI adds to every operation with parameters, and its now unused schemas."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            schema = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema")
            if schema == {"$ref": _VALIDATION_REF}:  # only FastAPI's own; a declared 422 would stay
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    if _VALIDATION_REF not in repr(document):
        schemas.pop("HTTPValidationError", None)
        if "#/components/schemas/ValidationError" not in repr(document):
            schemas.pop("ValidationError", None)


def _declared_by_dependencies(dependant: Dependant) -> list[dict[str, Any]]:
    """Parameters that dependencies read from the request themselves (``api.deps.bound_service``)."""
    found: list[dict[str, Any]] = []
    for dependency in dependant.dependencies:
        found += getattr(dependency.call, "openapi_parameters", [])
        found += _declared_by_dependencies(dependency)
    return found


def declare_dependency_parameters(routers: Sequence[APIRouter], document: dict[str, Any]) -> None:
    """Add to each operation the parameters its dependencies read themselves, unless it declares
    one of that name already. ``routers``: included without a prefix of their own, so a route's
    path is its path in the document."""
    for route in (route for router in routers for route in router.routes):
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        extra = _declared_by_dependencies(route.dependant)
        if not extra:
            continue
        operations = document.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            parameters = operation.setdefault("parameters", [])
            known = {(item.get("in"), item.get("name", "").lower()) for item in parameters}
            parameters += [item for item in extra if (item["in"], item["name"].lower()) not in known]


def install(app: FastAPI, routers: Sequence[APIRouter] = ()) -> None:
    """Make ``app`` serve its document without the 422s and with the parameters the dependencies
    of ``routers`` read themselves. Idempotent: wraps the class's method."""

    def openapi() -> dict[str, Any]:
        document = app.openapi_schema
        if document is None:
            document = type(app).openapi(app)  # generated once, then cached (as app.openapi_schema)
            drop_unreturned_validation_errors(document)
            declare_dependency_parameters(routers, document)
        return document

    app.openapi_schema = None  # a document generated before this would keep its 422s
    # FastAPI's documented way to extend the document is to replace the method on the instance.
    app.openapi = openapi  # type: ignore[method-assign]
