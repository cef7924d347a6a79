"""Per-request metrics and the JSON access log, in one pure-ASGI middleware to keep the cost small.

It sits inside the forwarded-headers middleware, so it sees the real client address and the scope
the router fills in (``scope["route"]`` gives the route template, never the raw path, so that label
values stay few).
"""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from repohub.api.dialects import BARE_PREFIXES, LABELS
from repohub.api.proxy import app_path
from repohub.observability import context
from repohub.observability.logs import ACCESS, lean_records
from repohub.observability.metrics import HTTP_DURATION, HTTP_REQUESTS

UNMATCHED = "<unmatched>"


def dialect_of(path: str) -> str:
    """The label of a route template, or of the path of a request no route took (``api.dialects``)."""
    bare = BARE_PREFIXES.get(path)
    if bare is not None:
        return bare
    for prefix, dialect in LABELS:
        if path.startswith(prefix):
            return dialect
    return "other"


class ObserveMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        lean_records()
        # Label children cached by label values: labels() takes a lock and builds a key every call.
        self._counters: dict[tuple[str, str, str, str], Counter] = {}
        self._histograms: dict[tuple[str, str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        client = scope.get("client")
        request = context.RequestContext(
            request_id=str(scope.get("state", {}).get("request_id", "")),
            client=client[0] if client else "",
        )
        token = context.begin(request)
        status = 500  # if the app raises before answering, the outer error handler answers 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            context.end(token)
            self._record(scope, request, status, time.perf_counter() - started)

    def _record(self, scope: Scope, request: context.RequestContext, status: int, elapsed: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        dialect = dialect_of(template if template else app_path(scope))
        label = (template.rstrip("/") or "/") if template else UNMATCHED
        method = scope["method"]
        key = (dialect, label, method, str(status))
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = HTTP_REQUESTS.labels(*key)
        counter.inc()
        histogram = self._histograms.get(key[:3])
        if histogram is None:
            histogram = self._histograms[key[:3]] = HTTP_DURATION.labels(*key[:3])
        histogram.observe(elapsed)
        if ACCESS.isEnabledFor(logging.INFO):
            ACCESS.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request.request_id,
                        "client": request.client,
                        "method": method,
                        "dialect": dialect,
                        "route": label,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "user": request.user,
                    }
                },
            )
