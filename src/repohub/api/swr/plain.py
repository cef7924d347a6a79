"""What SWR's calls that take their body as plain JSON share (retention policies, immutable-tag
rules): the body checked to be an object, a numeric path id read as repohub's numeric ids are (not
an integer: no such thing, a 404), and the answer written straight out."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

from repohub.domain.errors import InvalidInput, NotFound
from repohub.domain.numbers import parse_integer

__all__ = ["json_object", "json_response", "path_id"]


def json_response(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json", headers=headers)


def json_object(body: Any, shape: str) -> dict[str, Any]:
    """``body`` if it is a JSON object; ``shape`` names its fields for the 400's message."""
    # FastAPI hands over the raw bytes of a body not sent as application/json.
    if not isinstance(body, dict):
        raise InvalidInput(f"the body must be a JSON object {shape}, sent as application/json", field="body")
    return body


def path_id(text: str, *, field: str, what: str) -> int:
    """A positive integer id from the path; anything else is NotFound (``what`` names the thing)."""
    try:
        return parse_integer(text, field=field, low=1)
    except InvalidInput:
        raise NotFound(f"{what} {text[:32]!r} not found") from None
