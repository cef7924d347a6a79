"""Errors to responses: one status table, and per-dialect bodies chosen by the request's path.

Each dialect registers a renderer for its path prefix; anything raised while serving a path under
that prefix (domain errors, bad request bodies, unknown routes, a database outage) is answered in the
dialect's own error format, so a vendor SDK can always parse it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from repohub.api.proxy import app_path
from repohub.api.request_id import request_id_of
from repohub.domain import errors
from repohub.store.faults import DATABASE_ERROR, UNAVAILABLE_ERRORS, is_bad_character, is_unavailable

log = logging.getLogger("repohub.errors")

STATUS: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 400,
    errors.NotAuthenticated: 401,
    errors.PermissionDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.QuotaExceeded: 403,  # as a refusal: asking again changes nothing until the limit does
    errors.RateLimited: 429,
    errors.UpstreamFailed: 502,
    errors.UpstreamUnavailable: 503,
}
_HTTP_CODES = {
    404: errors.NotFound,
    405: errors.InvalidInput,
    401: errors.NotAuthenticated,
    413: errors.InvalidInput,
    415: errors.InvalidInput,
}


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong, independent of any dialect's body format."""

    status: int
    code: str
    message: str
    error: errors.DomainError | None = None


Renderer = Callable[[Request, Failure], Response]


def status_of(error: errors.DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


def default_renderer(_request: Request, failure: Failure) -> Response:
    return JSONResponse({"detail": failure.message, "code": failure.code}, status_code=failure.status)


class ErrorRenderers:
    def __init__(self) -> None:
        self._by_prefix: list[tuple[str, Renderer]] = []
        self._by_pattern: list[tuple[re.Pattern[str], Renderer]] = []

    def register(self, prefix: str, renderer: Renderer) -> None:
        self._by_prefix.append((prefix, renderer))
        self._by_prefix.sort(key=lambda entry: len(entry[0]), reverse=True)

    def register_pattern(self, pattern: re.Pattern[str], renderer: Renderer) -> None:
        """Paths no prefix describes (``/v2/{project_id}/instances/...``, ``/v2``): ``pattern`` matches
        the whole path; patterns are tried before prefixes, in the order registered."""
        self._by_pattern.append((pattern, renderer))

    def for_request(self, request: Request) -> Renderer:
        path = app_path(request.scope)
        for pattern, renderer in self._by_pattern:
            if pattern.fullmatch(path):
                return renderer
        for prefix, renderer in self._by_prefix:
            if path.startswith(prefix):
                return renderer
        return default_renderer


def _validation_message(error: RequestValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(
            str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path")
        )
        parts.append(f"{location}: {item.get('msg')}" if location else str(item.get("msg")))
    return "; ".join(parts) or "invalid request"


def _logged(request: Request) -> dict[str, object]:
    """The JSON log line's fields: the request id ties the error to its access line and response."""
    return {"fields": {"request_id": request_id_of(request.scope)}}


def install(app: FastAPI, renderers: ErrorRenderers) -> None:
    def respond(request: Request, failure: Failure) -> Response:
        return renderers.for_request(request)(request, failure)

    @app.exception_handler(errors.DomainError)
    async def on_domain_error(request: Request, error: errors.DomainError) -> Response:
        response = respond(request, Failure(status_of(error), error.code, error.message, error))
        if isinstance(error, errors.RateLimited) and error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> Response:
        return respond(request, Failure(400, errors.InvalidInput.code, _validation_message(error)))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> Response:
        kind = _HTTP_CODES.get(error.status_code, errors.DomainError)
        code = "method_not_allowed" if error.status_code == 405 else kind.code
        response = respond(request, Failure(error.status_code, code, str(error.detail)))
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    # Each class named here is handled inside the app's middleware. What only the catch-all
    # ``Exception`` handler below sees is answered by Starlette's ServerErrorMiddleware instead,
    # outside the app's own middleware but inside the request id's (request_id.install): the right
    # body and the id, and a 500 in the metrics and the access log.
    async def on_database_down(request: Request, error: Exception) -> Response:
        log.warning("dependency unavailable: %s", type(error).__name__, extra=_logged(request))
        failure = Failure(503, errors.UpstreamUnavailable.code, "the database is unavailable, retry later")
        return respond(request, failure)

    for unavailable in (*UNAVAILABLE_ERRORS, OSError, TimeoutError):  # the store's, then the network's
        app.add_exception_handler(unavailable, on_database_down)

    async def on_unexpected(request: Request, error: Exception) -> Response:
        if is_unavailable(error):  # a dropped database connection in another disguise
            return await on_database_down(request, error)
        if is_bad_character(error):
            message = "the request contains a character that cannot be stored (NUL)"
            return respond(request, Failure(400, errors.InvalidInput.code, message))
        log.exception(
            "unexpected error serving %s %s", request.method, request.url.path, extra=_logged(request)
        )
        return respond(request, Failure(500, "internal_error", "internal server error"))

    app.add_exception_handler(DATABASE_ERROR, on_unexpected)
    app.add_exception_handler(Exception, on_unexpected)
