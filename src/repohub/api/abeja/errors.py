"""ABEJA error body: ``{"error": <code>, "error_description": <message>}`` (+ ``error_detail``).

The abeja-sdk picks its exception class from the status and reads these three keys; the ``error``
code is derived from the status, as ABEJA's own API does, so one status always means one code.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from repohub.api.abeja.schemas import Error
from repohub.api.errors import Failure
from repohub.api.openapi import ErrorResponses

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    # The abeja-sdk has no class of its own for 413 (it raises its base HttpError with this code).
    413: "payload_too_large",
    429: "too_many_requests",
    502: "bad_gateway",
    503: "service_unavailable",
}


error_responses = ErrorResponses(Error)  # for the routes' ``responses=``


def render(_request: Request, failure: Failure) -> Response:
    body: dict[str, Any] = {
        "error": CODES.get(failure.status, "internal_server_error"),
        "error_description": failure.message,
    }
    if failure.error is not None and failure.error.field is not None:
        body["error_detail"] = {"field": failure.error.field}
    headers = {"WWW-Authenticate": 'Bearer realm="repohub"'} if failure.status == 401 else None
    return JSONResponse(body, status_code=failure.status, headers=headers)
