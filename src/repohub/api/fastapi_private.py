"""The FastAPI internals repohub reads, each behind one function: which dependant FastAPI would
solve (:func:`effective_dependant`), and which routers an app includes, in order (:func:`inclusions`).

Since FastAPI 0.165 an included router's routes are not copied with the including router's
dependencies merged in; while FastAPI builds the handler of an inclusion it sets
``fastapi.routing._effective_route_context_var`` to the inclusion's context, whose ``dependant``
carries those dependencies and whose ``original_route`` is the route itself. ``APIRoute`` reads it
the same way. A :class:`~repohub.api.routing.PlainRoute` builds its own handler, so it must read it
too, or it would silently drop the including router's dependencies.

Since the same release ``app.router.routes`` holds one ``_IncludedRouter`` per ``include_router``
call (its ``original_router`` and the inclusion's ``include_context``: prefix, dependencies, body
limit), matched through the inclusion at each request. ``api.hot_routes`` calls an included route's
own ASGI app, which is FastAPI's only for an inclusion that adds nothing: :func:`inclusions` says
which routers those are, and refuses any other.

``tests/unit/test_fastapi_private.py`` fails, rather than skips, when a FastAPI release renames or
reshapes them; the context variable is read at import so that such a release also fails at startup.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from fastapi import FastAPI
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute

__all__ = ["effective_dependant", "inclusions"]

_CONTEXT: ContextVar[Any | None] = fastapi_routing._effective_route_context_var


def effective_dependant(route: APIRoute) -> Dependant:
    """The dependant FastAPI would solve for ``route``: the inclusion's (with the including routers'
    dependencies) while FastAPI builds the handler of an inclusion, else the route's own."""
    context = _CONTEXT.get()
    if context is not None and context.original_route is route and context.dependant is not None:
        dependant: Dependant = context.dependant
        return dependant
    return route.dependant


def inclusions(app: FastAPI) -> list[APIRouter | BaseRoute]:
    """``app``'s routes in the order FastAPI tries them: each included router as the router itself,
    any other route as it is. An inclusion that adds a prefix, dependencies or a body limit of its
    own (or an app with dependencies) is refused with a TypeError: its routes' own apps would skip
    them."""
    if app.router.dependencies:
        raise TypeError("the app's own dependencies would not reach routes called directly")
    found: list[APIRouter | BaseRoute] = []
    for route in app.router.routes:
        context = getattr(route, "include_context", None)
        if context is None:
            found.append(route)
            continue
        if context.prefix or context.dependencies or context.max_body_size is not None:
            raise TypeError(f"{route!r}: include routers bare (their own prefix and dependencies)")
        router: APIRouter = getattr(route, "original_router")  # noqa: B009  (an internal, read by name)
        found.append(router)
    return found
