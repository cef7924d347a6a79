"""OpenAPI declarations of optional string parameters that a hot endpoint reads from the request itself.

FastAPI solves each declared parameter on every request (a measurable share of a cheap endpoint's
CPU, docs/benchmarks.md); endpoints that only need raw strings read ``request.query_params`` or
``request.headers`` and declare what they read here, so ``/docs`` and ``/openapi.json`` stay complete.
"""

from __future__ import annotations

from typing import Any


def parameter(name: str, description: str, *, where: str = "query", repeated: bool = False) -> dict[str, Any]:
    """One optional string parameter (a list of strings when ``repeated``), as OpenAPI writes it."""
    schema: dict[str, Any] = {"type": "string"}
    if repeated:
        schema = {"type": "array", "items": schema}
    return {"name": name, "in": where, "required": False, "description": description, "schema": schema}


def query_parameters(**descriptions: str) -> list[dict[str, Any]]:
    """Optional string query parameters, by name and description."""
    return [parameter(name, description) for name, description in descriptions.items()]
