"""Registry tokens signed back to back: the ones asked for in one turn of the event loop, together.

An ES256 signature costs OpenSSL about 22 µs with its P-256 tables in the CPU's caches, and three to
seven times that once a request's worth of Python has pushed them out, which is how every token
request used to find them (docs/benchmarks.md). Under load, the event loop starts many token requests
in one turn; each one's claims wait here while it yields for one turn, and the first of them to come
back signs them all in a row, so that only the first signature of the batch pays for cold caches.
A lone request waits one turn of the loop, a few microseconds.

Each request yields itself for the turn rather than await a future that a callback at the end of
the turn sets: that took one more turn of the loop and a future per token, 9.0-10.1 µs of CPU for a
lone token besides its signature against 4.6-5.8 now; about the same per token in batches of 32
(micro-benchmark with the signature stubbed out, on a loaded machine).
"""

from __future__ import annotations

import asyncio

from repohub.auth.registry_token import SigningKey, sign_jws

__all__ = ["BatchSigner"]


class _Waiting:
    """One request's claims, and once its batch is signed, its token or what failed it."""

    __slots__ = ("error", "gone", "payload", "token")

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.token: str | None = None
        self.error: Exception | None = None
        self.gone = False  # its request was cancelled (the client went away): not signed


class BatchSigner:
    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self._waiting: list[_Waiting] = []

    async def sign(self, payload: bytes) -> str:
        """The compact JWS of ``payload`` (``registry_token.sign_jws``), signed with this turn's others."""
        waiting = _Waiting(payload)
        self._waiting.append(waiting)
        try:
            await asyncio.sleep(0)  # one turn: the other requests of this one add theirs meanwhile
        except asyncio.CancelledError:
            waiting.gone = True
            raise
        if waiting.token is None and waiting.error is None:
            self._sign_waiting()  # the first of its batch back: it signs them all
        if waiting.error is not None:
            raise waiting.error
        assert waiting.token is not None  # signed by this call or an earlier one of its batch
        return waiting.token

    def _sign_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for each in waiting:
            if each.gone:
                continue
            try:
                each.token = sign_jws(self._key, each.payload)
            except Exception as error:  # that token's failure is its request's, not the batch's
                each.error = error
