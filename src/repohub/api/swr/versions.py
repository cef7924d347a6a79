"""SWR's ``list_api_versions`` (``GET /``) and ``show_api_version`` (``GET /{api_version}``).

The root is also the first page a newcomer opens: a browser (``Accept: text/html``) is sent to the
web catalogue (``/ui/``) instead. ``/{api_version}`` is only ``v<digits>``, so it never shadows
``/docs``, ``/healthz`` or any other page; like the cloud's, these two answer without credentials.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse
from starlette.convertors import Convertor, register_url_convertor

from repohub.api.swr.errors import error_responses
from repohub.api.swr.schemas import ApiVersion, ApiVersions
from repohub.domain.errors import NotFound

__all__ = ["PATHS", "router"]

# SWR's one API version; ``updated``: when repohub's SWR dialect last changed shape.
CURRENT = {
    "id": "v2",
    "status": "CURRENT",
    "updated": "2026-12-01T00:00:00Z",
    "version": "",
    "min_version": "",
}
_VERSION = r"v[0-9]+"
# The paths of these two calls, for the error renderer (SWR's body, e.g. for an unknown version).
PATHS = re.compile(rf"/(?:{_VERSION})?")


class VersionConvertor(Convertor[str]):
    regex = _VERSION

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("api_version", VersionConvertor())

router = APIRouter(tags=["SWR"])


def _detail(request: Request, version: dict[str, str]) -> dict[str, Any]:
    # The address the client used (behind a proxy, its public host and prefix: api.proxy). No
    # trailing slash, unlike the cloud's: behind `repohub proxy config`'s nginx, /v2/ is the registry's.
    href = f"{str(request.base_url).rstrip('/')}/{version['id']}"
    return {**version, "links": {"href": href, "rel": "self"}}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get(
    "/",
    response_model=ApiVersions,
    responses={307: {"description": "a browser (Accept: text/html) is sent to the web catalogue, /ui/"}},
)
async def list_api_versions(request: Request) -> Any:
    """The API versions (SWR's v2); a browser is sent to the web catalogue."""
    if _wants_html(request):
        return RedirectResponse(request.scope.get("root_path", "") + "/ui/", status_code=307)
    return {"versions": [_detail(request, CURRENT)]}


@router.get("/{api_version:api_version}", response_model=ApiVersion, responses=error_responses(404))
async def show_api_version(
    request: Request, api_version: Annotated[str, Path(pattern=f"^{_VERSION}$")]
) -> Any:
    """One API version; only v2 exists."""
    if api_version != CURRENT["id"]:
        raise NotFound(f"API version {api_version!r} does not exist; the current one is v2")
    return {"version": _detail(request, CURRENT)}
