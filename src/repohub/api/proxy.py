"""Honour X-Forwarded-* from trusted reverse proxies only, and keep ``path`` and ``root_path`` consistent.

Uvicorn's own middleware covers the scheme and client address; v1's absolute ``next`` links also
need the public host and any path prefix the proxy strips, so one middleware handles all four.

ASGI's ``path`` includes ``root_path`` (Starlette builds ``request.url`` from ``path`` alone), so a
prefix a proxy stripped (``X-Forwarded-Prefix``, or the configured root path) is put back in front
of ``path`` as well; routing takes it off again.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Receive, Scope, Send

# A host[:port] as it may appear in a URL; anything else in X-Forwarded-Host is ignored.
_HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+")


def _first(value: bytes) -> str:
    return value.decode("latin-1").split(",")[0].strip()


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _prepend(scope: Scope, prefix: str) -> None:
    scope["path"] = prefix + scope["path"]
    if raw := scope.get("raw_path"):
        scope["raw_path"] = prefix.encode("latin-1") + raw


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: frozenset[str], root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path.rstrip("/")
        self.trust_all = "*" in trusted
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self._with_root_path(scope)
            if self._is_trusted(scope):
                scope = self._apply(scope)
        await self.app(scope, receive, send)

    def _with_root_path(self, scope: Scope) -> Scope:
        """The configured (or server's) root path, also in front of ``path`` if a proxy stripped it."""
        root = self.root_path or scope.get("root_path", "").rstrip("/")
        if not root:
            return scope
        scope = dict(scope)
        scope["root_path"] = root
        if not _under(scope["path"], root):
            _prepend(scope, root)
        return scope

    def _is_trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        return self.trust_all or (client is not None and client[0] in self.trusted)

    def _apply(self, scope: Scope) -> Scope:
        forwarded = {
            name: value
            for name, value in scope["headers"]
            if name in (b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-for", b"x-forwarded-prefix")
        }
        if not forwarded:
            return scope
        scope = dict(scope)
        if proto := forwarded.get(b"x-forwarded-proto"):
            scheme = _first(proto).lower()
            if scheme in ("http", "https"):
                scope["scheme"] = (
                    scheme if scope["type"] == "http" else {"http": "ws", "https": "wss"}[scheme]
                )
        if (host := forwarded.get(b"x-forwarded-host")) and _HOST.fullmatch(_first(host)):
            headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
            headers.append((b"host", _first(host).encode("latin-1")))
            scope["headers"] = headers
        if client := forwarded.get(b"x-forwarded-for"):
            scope["client"] = (_first(client), 0)
        if prefix := forwarded.get(b"x-forwarded-prefix"):
            cleaned = "/" + _first(prefix).strip("/")
            if _PREFIX.fullmatch(cleaned):
                scope["root_path"] = cleaned + scope.get("root_path", "")
                _prepend(scope, cleaned)
        return scope
