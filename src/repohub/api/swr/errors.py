"""SWR error body: ``{"error_code": "SVCSTG.SWR.<status><nnnn>", "error_msg": ...}``.

huaweicloudsdkcore reads exactly these two keys (and the X-Request-Id header, set by middleware) into
its ClientRequestException / ServerResponseException.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from repohub.api.errors import Failure
from repohub.api.openapi import ErrorResponses
from repohub.api.swr.schemas import Error

# Detail number per domain error code, so that clients can tell errors of one status apart.
_DETAIL = {
    "invalid_input": 1,
    "method_not_allowed": 5,
    "not_authenticated": 1,
    "permission_denied": 1,
    "quota_exceeded": 2,  # SVCSTG.SWR.4030002; SWR's SDK and docs name no quota code of their own
    "not_found": 1,
    "conflict": 1,
    "rate_limited": 1,
}


error_responses = ErrorResponses(Error)  # for the routes' ``responses=``


def error_code(failure: Failure) -> str:
    return f"SVCSTG.SWR.{failure.status}{_DETAIL.get(failure.code, 0):04d}"


def render(_request: Request, failure: Failure) -> Response:
    return JSONResponse(
        {"error_code": error_code(failure), "error_msg": failure.message}, status_code=failure.status
    )
