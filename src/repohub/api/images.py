"""``/static/images/...``: the images the API names, such as v1's ``logo_file`` of every repository.

Only the default repository icon exists (no call sets another logo); it ships with the package and
is read once. Browsers and clients may keep it a day and revalidate it by its ETag.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Annotated

from fastapi import Header, Response

from repohub.api.routing import PrefixRouter

__all__ = ["DEFAULT_LOGO", "router"]

DEFAULT_LOGO = "default-icon.jpg"  # the store's default of every repository's logo
_ICON = resources.files("repohub.api").joinpath("static", DEFAULT_LOGO).read_bytes()
_ETAG = '"' + hashlib.sha256(_ICON).hexdigest()[:32] + '"'
_CACHING = {"Cache-Control": "public, max-age=86400", "ETag": _ETAG}

router = PrefixRouter(prefix="/static/images", tags=["images"])


@router.get(
    "/" + DEFAULT_LOGO,
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        304: {"description": "the copy named by If-None-Match is current"},
    },
)
async def default_logo(if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The default repository icon (JPEG)."""
    if if_none_match is not None and _ETAG in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=_CACHING)
    return Response(_ICON, media_type="image/jpeg", headers=_CACHING)
