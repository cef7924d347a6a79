"""What a page that builds its own JSON (``api.routing.PlainRoute``) must still answer: the body its
response model would have written, byte for byte, as FastAPI's ``JSONResponse`` writes it."""

from __future__ import annotations

import json

import httpx
from pydantic import BaseModel

__all__ = ["HARD_TEXT", "assert_as_validated"]

# Text that JSON writers disagree on if any: non-ASCII, an astral character, escapes, controls.
HARD_TEXT = 'naïve ☃ 𝄞 "quoted" back\\slash tab\t newline\n bell\x07 del\x7f </script>'


def assert_as_validated(model: type[BaseModel], response: httpx.Response) -> dict:
    """``response`` is a 200 whose body ``model`` reads strictly (no coercion: same types) and writes
    back unchanged (same keys, values and nulls), in the bytes FastAPI's response-model path wrote."""
    assert response.status_code == 200, response.text
    body = response.json()
    validated = model.model_validate_json(response.content, strict=True).model_dump(mode="json")
    assert validated == body
    assert list(validated) == list(body)  # the model's key order, as FastAPI's serialisation gave
    fastapi_bytes = json.dumps(
        validated, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    )
    assert response.content == fastapi_bytes.encode("utf-8")
    assert response.headers["content-type"] == "application/json"
    return body
