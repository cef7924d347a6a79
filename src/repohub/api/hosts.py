"""Which host a request is for: the URL links in answers are built from, and the allowed hosts.

Links (v1's ``next``/``previous``) are built from REPOHUB_PUBLIC_URL when it was set, so that nothing
a client or a proxy sends reaches them; without it they follow the request's Host and a trusted
proxy's X-Forwarded-* (``proxy``), and REPOHUB_ALLOWED_HOSTS keeps Host to known names.

The allowed-hosts check is Starlette's ``TrustedHostMiddleware`` (its patterns: a host, ``*.suffix``
or ``*``), answering a refusal in the dialect's error format rather than as plain text, and never
for the probes: a liveness probe or a metrics scrape comes by address, and answers nothing built
from the host. It runs inside the forwarded-headers middleware: behind a trusted proxy, the host
checked is the one the proxy forwards, which is the one links show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fastapi import Request
from starlette.datastructures import URL
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from repohub.api.deps import state_of
from repohub.api.errors import ErrorRenderers, Failure
from repohub.api.proxy import HOST, app_path
from repohub.domain.errors import InvalidInput

__all__ = ["AllowedHostsMiddleware", "link_url"]

_REFUSED = "the request's Host is not one this service answers for"


def link_url(request: Request) -> URL:
    """The request's URL as a link in its answer shows it: under REPOHUB_PUBLIC_URL if that was set
    (it names where the app's root is reached, path prefix included), else as the request came."""
    base = state_of(request).settings.link_base
    url = request.url
    if base is None:
        return url
    path = app_path({"path": url.path, "root_path": request.scope.get("root_path", "")})
    return URL(f"{base}{path}?{url.query}" if url.query else f"{base}{path}")


def _host_name(header: str) -> str | None:
    """The host of a Host header, lower case (an IPv6 literal keeps its brackets, as in Starlette's
    patterns); None if the header is no ``host[:port]``."""
    if not HOST.fullmatch(header):
        return None
    name = header[: header.index("]") + 1] if header.startswith("[") else header.partition(":")[0]
    return name.lower()


class AllowedHostsMiddleware(TrustedHostMiddleware):
    def __init__(
        self, app: ASGIApp, allowed_hosts: Sequence[str], renderers: ErrorRenderers, exempt: Iterable[str]
    ) -> None:
        # Starlette's constructor checks and normalises the patterns; no redirect to "www." for an API.
        super().__init__(app, allowed_hosts=allowed_hosts, www_redirect=False)
        self.renderers = renderers
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allow_any or scope["type"] != "http" or app_path(scope) in self.exempt:
            await self.app(scope, receive, send)
            return
        if self._allows(scope):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        failure = Failure(400, InvalidInput.code, _REFUSED)
        await self.renderers.for_request(request)(request, failure)(scope, receive, send)

    def _allows(self, scope: Scope) -> bool:
        header = next((value for key, value in scope["headers"] if key == b"host"), b"")
        host = _host_name(header.decode("latin-1"))
        if host is None:
            return False
        return any(
            host == pattern or (pattern.startswith("*") and host.endswith(pattern[1:]))
            for pattern in self.allowed_hosts
        )
