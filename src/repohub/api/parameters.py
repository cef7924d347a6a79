"""OpenAPI declarations of optional string parameters that a hot endpoint reads from the request itself.

FastAPI solves each declared parameter on every request (a measurable share of a cheap endpoint's
CPU, docs/benchmarks.md); endpoints that only need raw strings read them with :func:`query_values`
or from ``request.headers`` and declare what they read here, so ``/docs`` and ``/openapi.json`` stay
complete.

:data:`StrictInteger` is the integer of every other query parameter and body field, read by the one
strict parser (``domain.numbers``); the field's own ``ge``/``le`` apply after it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import BeforeValidator, ValidationInfo
from starlette.types import Scope

from repohub.domain.errors import InvalidInput
from repohub.domain.numbers import check_integer, parse_integer


def query_pairs(scope: Scope) -> list[tuple[str, str]]:
    """The query's parameters in order, decoded as ``request.query_params`` decodes them, without
    building its multi-dict, which cost more than the parsing."""
    return parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)


def query_values(scope: Scope) -> dict[str, str]:
    """The query's parameters, the last value of a repeated one winning, as ``request.query_params``
    reads them."""
    return dict(query_pairs(scope))


def _strict_integer(value: object, info: ValidationInfo) -> object:
    """Text or a decoded number as a bounded integer; anything else is left to pydantic to refuse."""
    field = info.field_name or "value"
    try:
        if isinstance(value, str):
            return parse_integer(value, field=field)
        if isinstance(value, int) and not isinstance(value, bool):
            return check_integer(value, field=field)
    except InvalidInput as error:
        raise ValueError(error.message) from None  # pydantic's error: the dialect's 400
    return value


StrictInteger = Annotated[int, BeforeValidator(_strict_integer)]


def parameter(name: str, description: str, *, where: str = "query", repeated: bool = False) -> dict[str, Any]:
    """One optional string parameter (a list of strings when ``repeated``), as OpenAPI writes it."""
    schema: dict[str, Any] = {"type": "string"}
    if repeated:
        schema = {"type": "array", "items": schema}
    return {"name": name, "in": where, "required": False, "description": description, "schema": schema}


def query_parameters(**descriptions: str) -> list[dict[str, Any]]:
    """Optional string query parameters, by name and description."""
    return [parameter(name, description) for name, description in descriptions.items()]
