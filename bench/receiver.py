"""``python -m bench.receiver PORT``: the minimal webhook receiver ``bench.webhooks`` delivers to.

A raw asyncio HTTP/1.1 server (keep-alive, ``Content-Length`` bodies): every POST is answered
``204`` at once and its ``X-Repohub-Delivery`` remembered; ``GET /count`` answers
``{"requests": N, "unique": M}``. Kept this small so that the receiver's own cost, on the same two
cores as the worker, is a small part of what the bench measures.
"""

from __future__ import annotations

import asyncio
import json
import sys

__all__ = ["main"]

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


class _Counts:
    def __init__(self) -> None:
        self.requests = 0
        self.ids: set[bytes] = set()


def _header(head: bytes, name: bytes) -> bytes | None:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip()
    return None


async def _serve(counts: _Counts, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(_header(head, b"content-length") or b"0")
            if length:
                await reader.readexactly(length)
            if head.startswith(b"GET /count"):
                body = json.dumps({"requests": counts.requests, "unique": len(counts.ids)}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                counts.requests += 1
                delivery = _header(head, b"x-repohub-delivery")
                if delivery is not None:
                    counts.ids.add(delivery)
                writer.write(_NO_CONTENT)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _main(port: int) -> None:
    counts = _Counts()
    server = await asyncio.start_server(lambda r, w: _serve(counts, r, w), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    asyncio.run(_main(int(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
