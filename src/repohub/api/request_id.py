"""``X-Request-Id``: taken from the request when it is sane, generated otherwise, echoed on every response.

"Every response" includes the 500 Starlette's ServerErrorMiddleware makes of an unhandled error, and
that layer sits outside everything ``add_middleware`` installs: so ``install`` wraps the whole stack.
"""

from __future__ import annotations

import re
import secrets

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((value for name, value in scope["headers"] if name == b"x-request-id"), b"")
        text = incoming.decode("latin-1")
        request_id = text if _SANE.fullmatch(text) else secrets.token_hex(16)  # uuid4().hex's form, cheaper
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def install(app: Starlette) -> None:
    """Make ``RequestIdMiddleware`` the outermost layer, outside ServerErrorMiddleware as well, so the
    unhandled-error 500 carries the id and its handler finds it in the scope (for the error log)."""
    build = app.build_middleware_stack

    def build_with_request_id() -> ASGIApp:
        return RequestIdMiddleware(build())

    # Starlette builds the stack lazily on the first request, after every handler and middleware is
    # in; wrapping the builder on this instance (a method assignment to mypy) wraps what it builds.
    app.build_middleware_stack = build_with_request_id  # type: ignore[method-assign]
