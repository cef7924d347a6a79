"""The body of ``POST /v1/generate-api-token/``, read once and strictly.

A urlencoded form or a JSON object, nothing else: a multipart body (which Alauda's clients never
send) is a 415 before any password is looked at. A credential given twice is a 400 rather than a
choice between the two, so no reader of the body can take one name while the password check takes
another.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from repohub.api.v1.schemas import LoginRequest
from repohub.domain.errors import InvalidInput

__all__ = ["FORM", "JSON", "login_request"]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# More fields than this is no login (it has two); parse_qsl stops counting there.
_MAX_FIELDS = 16


async def login_request(request: Request) -> LoginRequest:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    if media_type not in (FORM, JSON) and (media_type or body):
        # Nothing at all is only a login without its fields (a 400 below); anything else is a 415.
        raise HTTPException(415, f"send username and password as {FORM} or {JSON}")
    fields = _json_fields(body) if media_type == JSON else _form_fields(body)
    try:
        return LoginRequest.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput("username and password are required strings") from error


def _json_fields(body: bytes) -> Any:
    try:
        fields = json.loads(body, object_pairs_hook=_unique)
    except ValueError as error:
        raise InvalidInput("the body is not valid JSON") from error
    if not isinstance(fields, dict):
        raise InvalidInput("the body must be a JSON object")
    return fields


def _form_fields(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except UnicodeDecodeError as error:
        raise InvalidInput("the form is not UTF-8") from error
    except ValueError as error:  # more than _MAX_FIELDS fields
        raise InvalidInput(f"a login has at most {_MAX_FIELDS} fields") from error
    return _unique(pairs)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """The fields as a mapping; one given twice (JSON allows it, as forms do) is refused."""
    fields: dict[str, Any] = {}
    for name, value in pairs:
        _check_text(name)
        _check_text(value)
        if name in fields:
            raise InvalidInput(f"{name!r} is given more than once", field=name)
        fields[name] = value
    return fields


def _check_text(value: object) -> None:
    """``json.loads`` lets a lone surrogate (``"\\ud800"``) through as a string that no UTF-8 encoder,
    database or password hash takes: refused here, as pydantic's parser refuses it on other routes."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError as error:
            raise InvalidInput("the body holds a lone surrogate: not valid UTF-8 text") from error
