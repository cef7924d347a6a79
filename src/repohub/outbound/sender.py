"""The one place webhooks touch HTTP: POST a rendered request to its target, checked again.

For each request (``HttpSender.send``):

1. The target is checked again (``domain.webhooks.targets.resolve``): DNS may have changed since the
   hook was created. An unsafe target is a failed attempt, and no connection is made.
2. The checked address is pinned: connections to that host and port go to it (``_PinnedBackend``),
   never to an address resolved again, so the check and the connection cannot disagree (DNS
   rebinding); a connection to a host with no pin is refused. The request keeps its URL, so the
   ``Host`` header, TLS's SNI and the certificate check name the host, and the pool keeps
   connections per host: two hosts on one address never share a TLS connection made for one of them.
3. The POST follows no redirect (a 3xx is a failed attempt), ignores proxies from the environment,
   takes at most ``timeout`` seconds in all (resolving included), and reads at most
   ``BODY_LIMIT`` bytes of the answer, undecoded (the rest is dropped with the connection).

Nothing here logs a request's headers or body: they carry the hook's signature and auth headers.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import typing
from types import TracebackType

import httpcore
import httpx

from repohub.domain.webhooks import targets
from repohub.domain.webhooks.delivery import Attempt
from repohub.domain.webhooks.payloads import Request

__all__ = ["BODY_LIMIT", "POOL_SIZE", "HttpSender"]

BODY_LIMIT = 64 * 1024
POOL_SIZE = 8  # connections per pool (``HttpSender``)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections to the address pinned for a host and port, and to nothing else."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._pins: dict[tuple[str, int], str] = {}

    def pin(self, host: str, port: int, address: str) -> None:
        """Connect to ``address`` for ``host:port`` from now on (every pin was a checked target)."""
        self._pins[host, port] = address

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = self._pins.get((host, port))
        if address is None:
            raise httpcore.ConnectError(f"refused: {host}:{port} is not a checked webhook target")
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 -- httpcore's interface
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: webhooks never connect to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PinnedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, backend: _PinnedBackend, *, verify: bool, connections: int) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx offers no parameter for the network backend: the same pool as its own, with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=connections,
            max_keepalive_connections=connections,
            keepalive_expiry=30.0,
            network_backend=backend,
        )


class HttpSender:
    """One per worker, reused (pooled connections); close it with ``aclose`` or ``async with``.

    Its ``connections`` are spread over pools of ``POOL_SIZE`` taken in turn: httpcore's pool looks
    at every connection for every waiting request each time one changes state, so one pool of 64
    spent more time choosing connections than 64 deliveries spent being sent (a third of the rate
    of eight pools of 8, against a local receiver)."""

    def __init__(
        self, *, timeout: float, allow_private: bool, connections: int = 64, body_limit: int = BODY_LIMIT
    ) -> None:
        self._timeout = timeout
        self._allow_private = allow_private
        self._pools = max(1, -(-connections // POOL_SIZE))
        self._pool_size = min(connections, POOL_SIZE)
        self._body_limit = body_limit
        self._backend = _PinnedBackend()
        self._clients: dict[bool, list[httpx.AsyncClient]] = {}  # by whether certificates are verified
        self._turn = itertools.count()

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
        clients, self._clients = [client for made in self._clients.values() for client in made], {}
        for client in clients:
            await client.aclose()

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
        except (TimeoutError, httpx.TimeoutException):
            error = f"timed out after {self._timeout:g} s"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        return Attempt(code, error, round((time.perf_counter() - started) * 1000))

    async def _post(self, request: Request, *, verify: bool) -> int:
        target = await targets.resolve(request.url, allow_private=self._allow_private)
        url = httpx.URL(request.url)
        self._backend.pin(url.raw_host.decode("ascii"), target.port, target.address)
        headers = list(request.headers)
        async with self._client(verify).stream("POST", url, headers=headers, content=request.body) as answer:
            read = 0
            async for chunk in answer.aiter_raw():
                read += len(chunk)
                if read >= self._body_limit:
                    break
            return answer.status_code

    def _client(self, verify: bool) -> httpx.AsyncClient:
        clients = self._clients.get(verify)
        if clients is None:
            clients = self._clients[verify] = [self._new_client(verify) for _ in range(self._pools)]
        return clients[next(self._turn) % len(clients)]

    def _new_client(self, verify: bool) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=_PinnedTransport(self._backend, verify=verify, connections=self._pool_size),
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            trust_env=False,
        )
