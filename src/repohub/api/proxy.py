"""Honour X-Forwarded-* from trusted reverse proxies only, and keep ``path`` and ``root_path`` consistent.

Uvicorn's own middleware covers the scheme and client address; v1's absolute ``next`` links also
need the public host and any path prefix the proxy strips, so one middleware handles all four.

Trusted proxies are addresses or CIDR ranges (``10.0.0.0/8``), or ``*`` for every peer. The client is
found in X-Forwarded-For the way uvicorn and werkzeug's ProxyFix find it: walk the list from the
right (each proxy appends the peer it saw), skip trusted proxies, and take the first untrusted hop.
Entries left of that hop were written by the client and may be forged.

ASGI's ``path`` includes ``root_path`` (Starlette builds ``request.url`` from ``path`` alone), so a
prefix a proxy stripped (``X-Forwarded-Prefix``, or the configured root path) is put back in front
of ``path`` as well; routing takes it off again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from repohub.config import parse_trusted

# A host[:port] as it may appear in a URL; anything else in X-Forwarded-Host is ignored.
HOST = re.compile(r"(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+")
_FORWARDED = frozenset({b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-for", b"x-forwarded-prefix"})


_MAX_VERDICTS = 4096


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; match them against IPv4 ranges.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def app_path(scope: Scope) -> str:
    """The request's path within the app: ``path`` without the ``root_path`` this middleware put in
    front of it (``/`` for the root itself). Every reader of the path that routes, limits or labels
    by it asks here."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


def _first(value: bytes) -> str:
    return value.decode("latin-1").split(",")[0].strip()


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _prepend(scope: Scope, prefix: str) -> None:
    scope["path"] = prefix + scope["path"]
    if raw := scope.get("raw_path"):
        scope["raw_path"] = prefix.encode("latin-1") + raw


class ForwardedHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: Iterable[str], root_path: str = "") -> None:
        self.app = app
        self.root_path = root_path.rstrip("/")
        self.trust_all, self.networks = parse_trusted(trusted)
        # Peer address → trusted? Parsing an address and matching it against the networks on every
        # request cost more than the rest of this middleware; a process sees few distinct peers.
        self._verdicts: dict[str, bool] = {}

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

    def _trusts(self, host: str) -> bool:
        if self.trust_all:
            return True
        known = self._verdicts.get(host)
        if known is None:
            address = _address(host)
            known = address is not None and any(address in network for network in self.networks)
            if len(self._verdicts) >= _MAX_VERDICTS:  # many distinct clients: start over, stay bounded
                self._verdicts.clear()
            self._verdicts[host] = known
        return known

    def _is_trusted(self, scope: Scope) -> bool:
        client = scope.get("client")
        return self.trust_all or (client is not None and self._trusts(client[0]))

    def _client_of(self, forwarded_for: bytes) -> str | None:
        """The first untrusted hop from the right; the leftmost if every hop is a trusted proxy."""
        hops = [hop.strip() for hop in forwarded_for.decode("latin-1").split(",") if hop.strip()]
        if not hops:
            return None
        return next((hop for hop in reversed(hops) if not self._trusts(hop)), hops[0])

    def _apply(self, scope: Scope) -> Scope:
        forwarded: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for" and name in forwarded:
                # Repeated headers are one list (RFC 9110 5.3), in the order the hops appended them.
                forwarded[name] += b"," + value
            elif name in _FORWARDED:
                forwarded[name] = value
        if not forwarded:
            return scope
        scope = dict(scope)
        if proto := forwarded.get(b"x-forwarded-proto"):
            scheme = _first(proto).lower()
            if scheme in ("http", "https"):
                scope["scheme"] = (
                    scheme if scope["type"] == "http" else {"http": "ws", "https": "wss"}[scheme]
                )
        if (host := forwarded.get(b"x-forwarded-host")) and HOST.fullmatch(_first(host)):
            headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
            headers.append((b"host", _first(host).encode("latin-1")))
            scope["headers"] = headers
        if (hops := forwarded.get(b"x-forwarded-for")) and (client := self._client_of(hops)):
            scope["client"] = (client, 0)
        if prefix := forwarded.get(b"x-forwarded-prefix"):
            cleaned = "/" + _first(prefix).strip("/")
            if _PREFIX.fullmatch(cleaned):
                scope["root_path"] = cleaned + scope.get("root_path", "")
                _prepend(scope, cleaned)
        return scope
