"""A router that declines, at once, every request outside its path prefix.

FastAPI tries the routes of every included router in turn, each a regular expression, and does so
twice a request (to select, then to handle): about forty failed matches for a v1 page, a fifth of
its CPU (docs/benchmarks.md). repohub's routers never share a prefix, so a request whose path does
not start with a router's prefix cannot match any of its routes.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope


class PrefixRouter(APIRouter):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.prefix and not get_route_path(scope).startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)
