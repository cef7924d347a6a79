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
- The answer is read up to ``limit`` bytes of body (``Content-Length``, chunked, or to the close);
  the connection is kept for the next request to the same host, port, address and TLS setting only
  when the whole answer was read and neither side said ``Connection: close``.
- Errors are :class:`HttpError` (a malformed answer, a connection cut) or the socket's ``OSError``;
  the caller bounds the whole call with its timeout. Nothing is logged.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from repohub.domain.webhooks.targets import Target

__all__ = ["MAX_HEAD", "Connections", "HttpError"]

MAX_HEAD = 64 * 1024  # bytes of status line and headers an answer may have
IDLE_PER_ORIGIN = 64  # idle connections kept per origin


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
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
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
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as error:
            raise HttpError("a malformed chunk size") from error
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                pass
            return True
        if read + size > limit:
            return False
        await reader.readexactly(size + 2)
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


class Connections:
    """Keep-alive connections by origin; one per worker, closed with ``aclose``."""

    def __init__(self) -> None:
        self._idle: dict[_Origin, list[_Connection]] = {}
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
        connection = self._reused(origin)
        if connection is not None:
            try:
                return await self._exchange(origin, connection, head + body, limit, reused=True)
            except _Stale:
                pass  # the server closed it while idle: once more, on a new connection
        return await self._exchange(origin, await self._connect(origin), head + body, limit, reused=False)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _reused(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            connection.close()
        return None

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
            idle = self._idle.setdefault(origin, [])
            if len(idle) < IDLE_PER_ORIGIN:
                idle.append(connection)
                return answer.code
        connection.close()
        return answer.code

    async def _answer(self, first: bytes, reader: asyncio.StreamReader, limit: int) -> _Answer:
        try:
            head = first + await reader.readuntil(b"\r\n\r\n")
            code, fields = _parse_head(head[:-4])
            while 100 <= code < 200 and code != 101:  # interim answers (100, 103): the real one follows
                code, fields = _parse_head((await reader.readuntil(b"\r\n\r\n"))[:-4])
            complete = await _read_body(reader, fields, code, limit)
        except asyncio.LimitOverrunError as error:
            raise HttpError("the answer's headers or a chunk's size line are too long") from error
        except asyncio.IncompleteReadError as error:
            raise HttpError("the connection closed inside the answer") from error
        keep = code != 101 and "close" not in fields.get("connection", "").lower()
        return _Answer(code, complete and keep)
