"""What the current request is, for logs and the audit trail, without threading it through every call.

The HTTP middleware opens a ``RequestContext``; deeper layers (the service binding its caller) fill in
fields by mutating it, so the values reach the middleware even across copied contexts (thread pools).
Outside a request (the CLI) there is no context and ``current()`` is None.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(slots=True)
class RequestContext:
    request_id: str = ""
    client: str = ""
    user: str | None = None
    # Work of the process's own (a scheduled retention run), not a client's request: its reads decide
    # what to change, so they go to the primary, never to a replica (``store.replicas``).
    background: bool = False


_CURRENT: ContextVar[RequestContext | None] = ContextVar("repohub_request", default=None)


def current() -> RequestContext | None:
    return _CURRENT.get()


def begin(context: RequestContext) -> Token[RequestContext | None]:
    return _CURRENT.set(context)


def end(token: Token[RequestContext | None]) -> None:
    _CURRENT.reset(token)


def note_user(username: str | None) -> None:
    """Record who the caller turned out to be (no-op outside a request)."""
    context = _CURRENT.get()
    if context is not None:
        context.user = username
