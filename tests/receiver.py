"""A real webhook receiver for tests: an HTTP/1.1 server on a free loopback port, in the test's loop.

It keeps every request it was sent (method, path, headers, body) and answers each with what
``answer`` says (a status code, 200 by default), keeping connections alive as a real server would.
``connections`` counts the TCP connections it accepted, so a test can tell that none was made.
Small on purpose: it speaks enough HTTP for the sender (Content-Length bodies), nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Received", "Receiver"]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased; the last value of a repeated header
    body: bytes
    at: float  # time.monotonic() when it arrived

    def json(self) -> Any:
        return json.loads(self.body)


Answer = Callable[[Received], Awaitable[int] | int]


@dataclass
class Receiver:
    answer: Answer = lambda _request: 200
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    url: str = ""  # set by start
    port: int = 0
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host`` (a name: each of its addresses, on one ``port``; 0: a free one)."""
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = port or int(self._server.sockets[0].getsockname()[1])
        self.url = f"http://{host}:{self.port}"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            await self._server.wait_closed()

    async def wait_for(self, count: int, within: float = 10.0) -> list[Received]:
        """The requests once there are ``count`` of them (AssertionError after ``within`` seconds)."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{len(self.received)} of {count} requests arrived in {within} s"
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return self.received

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._open.add(writer)
        try:
            while (request := await _read(reader)) is not None:
                self.received.append(request)
                self._arrived.set()
                status = self.answer(request)
                if not isinstance(status, int):
                    status = await status
                body = b"ok"
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the receiver is closing
        finally:
            self._open.discard(writer)
            writer.close()


async def _read(reader: asyncio.StreamReader) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(method, path, headers, body, time.monotonic())
