"""Routing on the path as sent, so that ``%2F`` inside a segment stays part of a name.

SWR clients put multi-level repository names into one path segment (``repos/team%2Fapp``). Servers
decode ``%2F`` to ``/`` before routing, which would make ``repos/a%2Ftags`` look like the tag list of
``a``. :class:`RawSegmentRoute` matches against the raw path instead, with every segment decoded but
its own ``/`` and ``%`` re-escaped; the ``segment`` convertor then decodes a parameter exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote, unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from repohub.api.routing import StrictJsonRoute


class SegmentConvertor(Convertor[str]):
    """One path segment, percent-decoded once."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return quote(value, safe="")


register_url_convertor("segment", SegmentConvertor())


def raw_path(scope: Scope) -> str:
    """The path exactly as the client sent it (no query); the decoded path when the server lacks it."""
    raw: bytes | None = scope.get("raw_path")  # an ASGI scope's values are Any
    if not raw:
        return str(scope["path"])
    return raw.decode("latin-1").split("?", 1)[0]


def signed_path(scope: Scope) -> str:
    """The path the client signed: behind a prefix-stripping proxy the prefix must be put back."""
    path = raw_path(scope)
    root_path: str = scope.get("root_path", "")
    if root_path and not path.startswith(root_path + "/") and path != root_path:
        return root_path + path
    return path


def reaches_a_route(scope: Scope, routes: Sequence[BaseRoute], path: str) -> bool:
    """Whether a request like this one (same method and root path) but at the raw ``path`` would reach
    one of ``routes``. Only asked for paths holding ``%2F`` (aksk.verify), so its cost is off the hot
    paths."""
    probe = {
        "type": "http",
        "method": scope["method"],
        "path": unquote(path),
        "root_path": scope.get("root_path", ""),
    }
    return any(route.matches(probe)[0] is Match.FULL for route in routes)


def _routable(path: str) -> str:
    return "/".join(quote(unquote(segment), safe="") for segment in path.split("/"))


# The routable form is computed once per request and kept in the scope for the other SWR routes.
_ROUTABLE = "repohub.swr.routable_path"


class RawSegmentRoute(StrictJsonRoute):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") != "http" or not scope.get("raw_path"):
            return super().matches(scope)
        routable = scope.get(_ROUTABLE)
        if routable is None:
            routable = scope[_ROUTABLE] = _routable(raw_path(scope))
        return super().matches({**scope, "path": routable})
