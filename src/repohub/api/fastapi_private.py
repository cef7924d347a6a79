"""The one FastAPI internal repohub reads, behind one function: which dependant FastAPI would solve.

Since FastAPI 0.165 an included router's routes are not copied with the including router's
dependencies merged in; while FastAPI builds the handler of an inclusion it sets
``fastapi.routing._effective_route_context_var`` to the inclusion's context, whose ``dependant``
carries those dependencies and whose ``original_route`` is the route itself. ``APIRoute`` reads it
the same way. A :class:`~repohub.api.routing.PlainRoute` builds its own handler, so it must read it
too, or it would silently drop the including router's dependencies.

``tests/unit/test_fastapi_private.py`` fails, rather than skips, when a FastAPI release renames or
reshapes it; the attribute is read at import so that such a release also fails at startup.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

__all__ = ["effective_dependant"]

_CONTEXT: ContextVar[Any | None] = fastapi_routing._effective_route_context_var


def effective_dependant(route: APIRoute) -> Dependant:
    """The dependant FastAPI would solve for ``route``: the inclusion's (with the including routers'
    dependencies) while FastAPI builds the handler of an inclusion, else the route's own."""
    context = _CONTEXT.get()
    if context is not None and context.original_route is route and context.dependant is not None:
        dependant: Dependant = context.dependant
        return dependant
    return route.dependant
