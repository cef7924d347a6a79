"""The pages' stylesheet and script, read once and served from memory by repohub itself (no CDN:
the pages work offline, as ``/docs`` does). Their URLs carry a hash of their content, so a browser
keeps them for a year and a new release is fetched at once."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from repohub.api.routing import PlainRoute, PrefixRouter
from repohub.domain.errors import NotFound

__all__ = ["asset_url", "router"]

_DIRECTORY = Path(__file__).parent / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
router = PrefixRouter(prefix="/ui", route_class=PlainRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str


@lru_cache(maxsize=1)
def _assets() -> dict[str, Asset]:
    found = {}
    for path in sorted(_DIRECTORY.iterdir()):
        if path.suffix in _TYPES:
            body = path.read_bytes()
            found[path.name] = Asset(body, _TYPES[path.suffix], hashlib.sha256(body).hexdigest()[:12])
    return found


def asset_url(root: str, name: str) -> str:
    return f"{root}/static/{name}?v={_assets()[name].version}"


@router.get("/static/{name}")
async def asset(request: Request, name: str) -> Response:
    found = _assets().get(name)
    if found is None:
        raise NotFound(f"no asset {name!r}")
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
    return Response(found.body, media_type=found.media_type, headers=headers)
