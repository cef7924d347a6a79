"""A minimal HTTP/1.1 client for webhook POSTs: keep-alive connections to checked addresses.

Why not httpx: a delivery is one small POST whose answer only its status matters, to an address
already checked (``domain.webhooks.targets``). httpx and httpcore spent about 2.5 ms of CPU on each
(their pool looks at every connection for every request, and without ``sniffio`` httpcore searched
``sys.path`` for it on every one), where this spends a tenth of that: the difference between some
250 and over 500 deliveries a second from one process (``bench.webhooks``).

What it does, and all it does:

- ``Connections.post(target, path, headers, body, verify=..., limit=...)``: the status code of a
  ``POST`` to ``target.address`` (the checked IP: never resolved again here), ``Host`` naming the host,
  TLS's SNI and certificate check too (``https``; ``verify=False`` skips the check).
- The answer is read up to ``limit`` bytes of body (``Content-Length``, chunked, or to the close),
  for at most ``BODY_WAIT`` seconds once its status is known (a 2xx whose body stalls is a 2xx).
- The connection is kept for the next request to the same host, port, address and TLS setting only
  when the whole answer was read, it gave its length one way (not both), and it did not say
  ``Connection: close`` (an HTTP/1.0 answer must say ``keep-alive``). While kept, a watcher reads
  from it: anything the server sends or a close it makes while the connection is idle (an unasked
  ``408``, a stray answer) ends it, so a later request never reads someone else's answer. At most
  ``max_idle`` connections are kept in all, each for ``IDLE_SECONDS``.
- Errors are :class:`HttpError` (a malformed answer, a connection cut) or the socket's ``OSError``;
  the caller bounds the whole call with its timeout. Nothing is logged.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from repohub.domain.webhooks.targets import Target

__all__ = ["BODY_WAIT", "IDLE_SECONDS", "MAX_HEAD", "Connections", "HttpError"]

MAX_HEAD = 64 * 1024  # bytes of status line and headers an answer may have
IDLE_SECONDS = 30.0  # how long an idle connection is kept
BODY_WAIT = 2.0  # seconds an answer's body may take once its status is known


class HttpError(Exception):
    """The answer was not HTTP/1.x, or the connection ended inside it."""


class _Stale(Exception):
    """A kept connection the server had closed: nothing of the request reached it, or nothing of an
    answer came back before the close (the one case a request is sent again, on a new connection)."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    address: str
    verify: bool


@dataclass(slots=True)
class _Answer:
    code: int
    reusable: bool


class _Connection:
    __slots__ = ("parked_at", "reader", "watcher", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.watcher: asyncio.Task[bytes] | None = None
        self.parked_at = 0.0

    def park(self, now: float) -> None:
        """Kept idle: a read waits for whatever the server sends unasked (it ends the connection)."""
        self.parked_at = now
        self.watcher = asyncio.ensure_future(self.reader.read(1))
        self.watcher.add_done_callback(self._woken)

    def _woken(self, watcher: asyncio.Task[bytes]) -> None:
        if not watcher.cancelled():  # a byte or the close while idle: done with it
            self.writer.close()

    async def take(self) -> bool:
        """Out of the idle pool for a request: whether it is still good for one. The watcher is
        stopped first (a stream has one reader at a time); ``asyncio.wait`` so that a cancellation
        of this caller is never taken for the watcher's."""
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            if not watcher.done():
                watcher.cancel()
                await asyncio.wait([watcher])
            if not watcher.cancelled():
                return False
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
        self.writer.close()


def _host_header(origin: _Origin) -> str:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    default = 443 if origin.scheme == "https" else 80
    return host if origin.port == default else f"{host}:{origin.port}"


def _request_head(origin: _Origin, path: str, headers: list[tuple[str, str]], length: int) -> bytes:
    lines = [f"POST {path or '/'} HTTP/1.1", f"Host: {_host_header(origin)}", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status, *fields = head.decode("latin-1").split("\r\n")
    parts = status.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise HttpError(f"not an HTTP/1.x answer: {status[:80]!r}")
    found: dict[str, str] = {}
    for field in fields:
        name, colon, value = field.partition(":")
        if colon:
            found[name.strip().lower()] = value.strip()
    return int(parts[1]), found


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bool:
    """Read a chunked body up to ``limit`` bytes; whether it was read to its end."""
    read = 0
    while read <= limit:
        size_line = (await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip()
        if not size_line or size_line.strip(b"0123456789abcdefABCDEF"):
            raise HttpError("a malformed chunk size")
        size = int(size_line, 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return True
        if read + size > limit:
            return False
        if (await reader.readexactly(size + 2))[-2:] != b"\r\n":
            raise HttpError("a chunk not ended by CRLF")
        read += size
    return False


async def _read_body(reader: asyncio.StreamReader, fields: dict[str, str], code: int, limit: int) -> bool:
    """Read the answer's body up to ``limit``; whether all of it was read (the connection is reusable)."""
    if code in (204, 304) or 100 <= code < 200:
        return True
    if "chunked" in fields.get("transfer-encoding", "").lower():
        return await _read_chunked(reader, limit)
    length = fields.get("content-length")
    if length is None:
        await reader.read(limit)  # to the close: the connection ends with the answer
        return False
    if not length.isdigit():
        raise HttpError("a malformed Content-Length")
    wanted = int(length)
    if wanted > limit:
        await reader.readexactly(limit)
        return False
    await reader.readexactly(wanted)
    return True


async def _body_within(reader: asyncio.StreamReader, fields: dict[str, str], code: int, limit: int) -> bool:
    """``_read_body`` for at most ``BODY_WAIT`` seconds: the status is the answer, a stalled body is
    only a connection not to keep."""
    try:
        async with asyncio.timeout(BODY_WAIT):
            return await _read_body(reader, fields, code, limit)
    except TimeoutError:
        return False


def _keeps(head: bytes, code: int, fields: dict[str, str]) -> bool:
    """Whether the connection may carry another request after this (fully read) answer."""
    connection = fields.get("connection", "").lower()
    if code == 101 or "close" in connection:
        return False
    if "transfer-encoding" in fields and "content-length" in fields:
        return False  # two lengths: which one the server meant is anybody's guess
    return not head.startswith(b"HTTP/1.0") or "keep-alive" in connection


class Connections:
    """Keep-alive connections by origin; one per worker, closed with ``aclose``."""

    def __init__(self, max_idle: int = 64) -> None:
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._kept = 0  # idle connections in all
        self._max_idle = max_idle
        self._next_sweep = 0.0
        self._contexts: dict[bool, ssl.SSLContext] = {}

    async def post(
        self,
        target: Target,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        *,
        verify: bool,
        limit: int,
    ) -> int:
        origin = _Origin(target.scheme, target.host, target.port, target.address, verify)
        head = _request_head(origin, path, headers, len(body))
        self._sweep()
        connection = await self._reused(origin)
        if connection is not None:
            try:
                return await self._exchange(origin, connection, head + body, limit, reused=True)
            except _Stale:
                pass  # the server closed it while idle: once more, on a new connection
        return await self._exchange(origin, await self._connect(origin), head + body, limit, reused=False)

    async def aclose(self) -> None:
        idle, self._idle, self._kept = self._idle, {}, 0
        for connections in idle.values():
            for connection in connections:
                connection.close()

    async def _reused(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            self._kept -= 1
            if not idle:
                del self._idle[origin]
            if await connection.take():
                return connection
            connection.close()
            idle = self._idle.get(origin)
        return None

    def _park(self, origin: _Origin, connection: _Connection) -> None:
        if self._kept >= self._max_idle:
            connection.close()
            return
        connection.park(asyncio.get_running_loop().time())
        self._idle.setdefault(origin, []).append(connection)
        self._kept += 1

    def _sweep(self) -> None:
        """Now and then, close the connections idle longer than ``IDLE_SECONDS`` or closed meanwhile."""
        now = asyncio.get_running_loop().time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + 1.0
        for origin, idle in list(self._idle.items()):
            kept = [
                item for item in idle if now - item.parked_at < IDLE_SECONDS and not item.writer.is_closing()
            ]
            for item in idle:
                if item not in kept:
                    item.close()
            self._kept -= len(idle) - len(kept)
            if kept:
                self._idle[origin] = kept
            else:
                del self._idle[origin]

    async def _connect(self, origin: _Origin) -> _Connection:
        if origin.scheme == "https":
            reader, writer = await asyncio.open_connection(
                origin.address,
                origin.port,
                ssl=self._context(origin.verify),
                server_hostname=origin.host,
                limit=MAX_HEAD,
            )
        else:
            reader, writer = await asyncio.open_connection(origin.address, origin.port, limit=MAX_HEAD)
        return _Connection(reader, writer)

    def _context(self, verify: bool) -> ssl.SSLContext:
        context = self._contexts.get(verify)
        if context is None:
            context = ssl.create_default_context()
            if not verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._contexts[verify] = context
        return context

    async def _exchange(
        self, origin: _Origin, connection: _Connection, data: bytes, limit: int, *, reused: bool
    ) -> int:
        try:
            try:
                connection.writer.write(data)
                await connection.writer.drain()
                first = await connection.reader.read(1)  # b"": closed before any byte of an answer
            except (ConnectionResetError, BrokenPipeError) as error:
                if reused:
                    raise _Stale from error
                raise
            if not first:
                if reused:
                    raise _Stale
                raise HttpError("the connection closed before an answer")
            answer = await self._answer(first, connection.reader, limit)
        except BaseException:
            connection.close()
            raise
        if answer.reusable:
            self._park(origin, connection)
            await asyncio.sleep(0)  # the watcher's first read: what the server sent already ends it now
        else:
            connection.close()
        return answer.code

    async def _answer(self, first: bytes, reader: asyncio.StreamReader, limit: int) -> _Answer:
        try:
            head = first + await reader.readuntil(b"\r\n\r\n")
            code, fields = _parse_head(head[:-4])
            while 100 <= code < 200 and code != 101:  # interim answers (100, 103): the real one follows
                code, fields = _parse_head((await reader.readuntil(b"\r\n\r\n"))[:-4])
            complete = await _body_within(reader, fields, code, limit)
        except asyncio.LimitOverrunError as error:
            raise HttpError("the answer's headers or a chunk's size line are too long") from error
        except asyncio.IncompleteReadError as error:
            raise HttpError("the connection closed inside the answer") from error
        return _Answer(code, complete and _keeps(head, code, fields))
