"""The one place webhooks touch HTTP: POST a rendered request to its target, checked again.

For each request (``HttpSender.send``):

1. The target is checked again (``domain.webhooks.targets.resolve``): DNS may have changed since the
   hook was created. An unsafe target is a failed attempt, and no connection is made.
2. The connection goes to the checked address (``outbound.http11``), never to an address resolved
   again, so the check and the connection cannot disagree (DNS rebinding). The ``Host`` header, TLS's
   SNI and the certificate check name the host, and kept connections are per host, port, address and
   TLS setting: two hosts on one address never share a TLS connection made for one of them.
3. The POST follows no redirect (a 3xx is a failed attempt), knows no proxy, takes at most
   ``timeout`` seconds in all (resolving included), and reads at most ``BODY_LIMIT`` bytes of the
   answer (the rest is dropped with the connection).

Nothing here logs a request's headers or body: they carry the hook's signature and auth headers.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from urllib.parse import urlsplit

from repohub.domain.webhooks import targets
from repohub.domain.webhooks.delivery import Attempt
from repohub.domain.webhooks.payloads import Request
from repohub.outbound.http11 import Connections, HttpError

__all__ = ["BODY_LIMIT", "HttpSender"]

BODY_LIMIT = 64 * 1024


class HttpSender:
    """One per worker, reused (kept connections); close it with ``aclose`` or ``async with``."""

    def __init__(
        self, *, timeout: float, allow_private: bool, connections: int = 64, body_limit: int = BODY_LIMIT
    ) -> None:
        """``connections``: the most kept idle (the worker's concurrency: no more are open at once)."""
        self._timeout = timeout
        self._allow_private = allow_private
        self._body_limit = body_limit
        self._connections = Connections(max_idle=connections)

    async def __aenter__(self) -> HttpSender:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._connections.aclose()

    async def send(self, request: Request, *, skip_cert_verify: bool) -> Attempt:
        """POST ``request`` (module doc): the status code, or the error that kept it from one."""
        started = time.perf_counter()
        code: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self._timeout):
                code = await self._post(request, verify=not skip_cert_verify)
        except targets.UnsafeTarget as unsafe:
            error = f"unsafe target: {unsafe.message}"
        except TimeoutError:
            error = f"timed out after {self._timeout:g} s"
        except (HttpError, OSError, asyncio.IncompleteReadError, ValueError) as failure:
            error = _failure(failure)  # ValueError: a header the checks let through that cannot be sent
        return Attempt(code, error, round((time.perf_counter() - started) * 1000))

    async def _post(self, request: Request, *, verify: bool) -> int:
        target = await targets.resolve(request.url, allow_private=self._allow_private)
        parts = urlsplit(request.url)
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        headers = list(request.headers)
        return await self._connections.post(
            target, path, headers, request.body, verify=verify, limit=self._body_limit
        )


def _failure(failure: BaseException) -> str:
    """What a job says of a connection that failed: the kind, and what the system said."""
    kind = type(failure).__name__
    if isinstance(failure, OSError) and not isinstance(failure, asyncio.IncompleteReadError):
        kind = "ConnectError"  # refused, reset, unreachable: the receiver was not reached
    detail = str(failure)
    return f"{kind}: {detail}"[:255] if detail else kind
