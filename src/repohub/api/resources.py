"""What a request's dependencies open (its database session and pool slot), closed when the request
is done, by the middleware that owns the request's exit stack.

FastAPI's ``yield`` dependencies do the same, but shield their exit in a new asyncio task per
request, which with the rest of their machinery was an eighth of an SWR list page's CPU
(docs/benchmarks.md). Dependencies here are plain ``async def`` functions that enter their context
managers on this stack instead.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TypeVar

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

_STACK = "repohub.exit_stack"
T = TypeVar("T")


class RequestResourcesMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with AsyncExitStack() as stack:  # closed after the response went out, or on an error
            scope[_STACK] = stack
            await self.app(scope, receive, send)


async def enter(request: Request, resource: AbstractAsyncContextManager[T]) -> T:
    """Enter ``resource`` for the rest of the request."""
    stack: AsyncExitStack = request.scope[_STACK]
    return await stack.enter_async_context(resource)
