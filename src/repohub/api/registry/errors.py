"""Error body of ``/registry/``: Distribution's ``{"errors": [{"code", "message", "detail"}]}``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from repohub.api.errors import Failure
from repohub.api.openapi import ErrorResponses
from repohub.api.registry.schemas import Errors

# Distribution's own error codes where one fits, so docker and skopeo print something familiar.
_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    403: "DENIED",
    404: "NOT_FOUND",
    429: "TOOMANYREQUESTS",
    503: "UNAVAILABLE",
}


error_responses = ErrorResponses(Errors)  # for the routes' ``responses=``


def render(request: Request, failure: Failure) -> Response:
    headers = None
    if failure.status == 401:
        # Token clients retry with Basic credentials; the registry's event sender uses its secret.
        scheme = "Bearer" if request.scope["path"].endswith("/events") else "Basic"
        headers = {"WWW-Authenticate": f'{scheme} realm="repohub"'}
    code = _CODES.get(failure.status, failure.code.upper())
    body = {"errors": [{"code": code, "message": failure.message, "detail": None}]}
    return JSONResponse(body, status_code=failure.status, headers=headers)
