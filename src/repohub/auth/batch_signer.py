"""Registry tokens signed back to back: the ones asked for in one turn of the event loop, together.

An ES256 signature costs OpenSSL about 22 µs with its P-256 tables in the CPU's caches, and three to
seven times that once a request's worth of Python has pushed them out, which is how every token
request used to find them (docs/benchmarks.md). Under load, the event loop starts many token requests
in one turn; each one's claims wait here, and one callback at the end of that turn signs them all in
a row, so that only the first signature of the batch pays for cold caches. A lone request waits one
turn of the loop, a few microseconds.
"""

from __future__ import annotations

import asyncio

from repohub.auth.registry_token import SigningKey, sign_jws


class BatchSigner:
    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self._waiting: list[tuple[bytes, asyncio.Future[str]]] = []

    async def sign(self, payload: bytes) -> str:
        """The compact JWS of ``payload`` (``registry_token.sign_jws``), signed with this turn's others."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._sign_waiting)
        self._waiting.append((payload, future))
        return await future

    def _sign_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for payload, future in waiting:
            if future.done():  # its request was cancelled (the client went away)
                continue
            try:
                future.set_result(sign_jws(self._key, payload))
            except Exception as error:  # that token's failure is its request's, not the batch's
                future.set_exception(error)
