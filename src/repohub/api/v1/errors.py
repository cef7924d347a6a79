"""v1 error body: DRF's ``{"detail": ...}`` plus a machine-readable ``code``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from repohub.api.errors import Failure
from repohub.api.openapi import ErrorResponses
from repohub.api.v1.schemas import Error

error_responses = ErrorResponses(Error)  # for the routes' ``responses=``


def render(_request: Request, failure: Failure) -> Response:
    headers = {"WWW-Authenticate": 'Token realm="repohub"'} if failure.status == 401 else None
    return JSONResponse(
        {"detail": failure.message, "code": failure.code}, status_code=failure.status, headers=headers
    )
