"""Reads served without FastAPI's route search: a :class:`~repohub.api.routing.PlainRoute` found by
the routes' own compiled patterns and called at once.

FastAPI 0.165 looks for a request's route through each included router's "effective" candidates,
setting and restoring scope keys around every route it tries, twice per router (to select, then to
handle): a fifth of an SWR list page's CPU and more than a quarter of a v1 page's (cProfile by CPU
time, 10k repositories; docs/benchmarks.md, "Scale"). repohub knows its routes' order (``app.py``:
the dialects' routers, then the doc pages) and that a router with a prefix declines every path
outside it (``api.routing.PrefixRouter``), so it can find the route FastAPI would select itself.

:class:`HotRoutes` sits where FastAPI's router is called, inside the exception middleware that
renders errors in a dialect's format. For a ``GET`` or ``HEAD`` it takes the first route whose
pattern matches the path and which accepts the method, as Starlette's matching does; when that
route is a ``PlainRoute``, it sets what matching sets (path parameters, endpoint, route, router)
and calls the route's own ASGI app, the one FastAPI would call. Every other outcome (another kind
of route first, a method only another route accepts, no route: 404s and slash redirects) goes to
FastAPI's router untouched, so it answers as it always did.

The framework detail it rests on: Starlette's ``Router.__call__`` calls ``self.middleware_stack``,
which :func:`install` wraps, and Starlette's ``get_route_path``, the path its routes match.
``tests/unit/test_hot_routes.py`` fails when either stops holding, and
``tests/api/test_hot_routes.py`` holds every answer to FastAPI's own routing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from repohub.api.fastapi_private import inclusions
from repohub.api.proxy import app_path
from repohub.api.routing import PlainRoute

__all__ = ["HotRoutes", "RouteGroup", "install"]

_METHODS = frozenset({"GET", "HEAD"})  # reads only: a body's limits stay FastAPI's to apply
_TELEMETRY = "fastapi.telemetry"  # the scope key of FastAPI's per-request OpenTelemetry state
# Routes that match by their pattern on the path alone (SWR's RawSegmentRoute reads the raw path).
_PATTERN_MATCHING = (APIRoute.matches, Route.matches)


@dataclass(frozen=True, slots=True)
class RouteGroup:
    """A router's routes in FastAPI's order; ``prefix``: the one its paths all start with ('' none)."""

    prefix: str
    routes: Sequence[BaseRoute]  # the router's own list: a route added to it later is seen


@dataclass(slots=True)
class HotRoutes:
    """The ASGI app in front of FastAPI's router (``fallback``); ``groups`` in the order FastAPI tries
    them. ``served`` counts the requests it answered itself (tests, and the check that it is used)."""

    fallback: ASGIApp
    router: APIRouter
    groups: tuple[RouteGroup, ...]
    served: int = field(default=0)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # With OpenTelemetry on (REPOHUB_OPENTELEMETRY) FastAPI names each request's span after the
        # route it selects: those requests take FastAPI's way.
        if scope["type"] != "http" or scope["method"] not in _METHODS or scope.get(_TELEMETRY) is not None:
            await self.fallback(scope, receive, send)
            return
        selected = self.select(scope)
        if selected is None:
            await self.fallback(scope, receive, send)
            return
        route, params = selected
        path_params = dict(scope.get("path_params", {}))
        path_params.update(params)
        scope["path_params"] = path_params
        scope["endpoint"] = route.endpoint
        scope["route"] = route
        scope.setdefault("router", self.router)
        self.served += 1
        await route.app(scope, receive, send)

    def select(self, scope: Scope) -> tuple[Route, dict[str, Any]] | None:
        """The PlainRoute FastAPI would select for this request and its converted path parameters;
        None when FastAPI would select anything else, or nothing."""
        path = app_path(scope)
        route_path = get_route_path(scope)
        method = scope["method"]
        for group in self.groups:
            if group.prefix and not path.startswith(group.prefix):
                continue
            for route in group.routes:
                if not isinstance(route, Route) or type(route).matches not in _PATTERN_MATCHING:
                    return None  # a mount, a websocket, a route matching by rules of its own
                found = route.path_regex.match(route_path)
                if found is None or (route.methods and method not in route.methods):
                    continue  # a method mismatch is only partial: Starlette looks on for a full match
                if not isinstance(route, PlainRoute):
                    return None
                convertors = route.param_convertors
                return route, {
                    key: convertors[key].convert(value) for key, value in found.groupdict().items()
                }
        return None


def install(app: FastAPI) -> HotRoutes:
    """Put :class:`HotRoutes` in front of ``app``'s router, once every router is included: its groups
    are FastAPI's own order of them (``api.fastapi_private.inclusions``, which refuses an inclusion
    that adds dependencies or a prefix of its own); each group reads its router's live route list."""
    groups: list[RouteGroup] = []
    rest: list[BaseRoute] = []
    for entry in inclusions(app):
        if isinstance(entry, APIRouter):
            if rest:
                groups.append(RouteGroup("", rest))
                rest = []
            groups.append(RouteGroup(entry.prefix, entry.routes))
        else:
            rest.append(entry)
    if rest:
        groups.append(RouteGroup("", rest))
    router = app.router
    hot = HotRoutes(fallback=router.middleware_stack, router=router, groups=tuple(groups))
    router.middleware_stack = hot
    return hot
