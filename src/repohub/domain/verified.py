"""A short-lived memory of API tokens (and robot accounts' secrets) that were just verified.

Every authenticated request of every dialect (and each ``GET /registry/token``) would otherwise cost a
database round trip for the token alone. A token is remembered by its SHA-256 digest (never the token
itself) for a few seconds and never past its own expiry; revoking it in this process forgets it at
once, together with the tokens derived from it that the revocation took along, and a revocation made
elsewhere (another worker, another replica, the CLI) takes effect within ``TTL_SECONDS``. One memory
per database the process opened (``store.memory``), never a module-level one. Robot accounts' secrets
are remembered alike, in a memory of their own (``Memory.verified_robots``): disabling, deleting or
rotating a robot in this process forgets its secret at once, elsewhere within ``TTL_SECONDS``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime
from typing import Generic, Protocol, TypeVar

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


class Expiring(Protocol):
    @property
    def expires_at(self) -> datetime | None: ...


T = TypeVar("T", bound=Expiring)


class VerifiedTokens(Generic[T]):
    """What a verified secret's digest named (an API token's ``Credential``, a ``Robot``)."""

    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max = max_entries
        # digest -> (monotonic deadline, the token; its wall-clock expiry bounds the entry too)
        self._entries: OrderedDict[str, tuple[float, T]] = OrderedDict()

    def get(self, digest: str, now: datetime) -> T | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        deadline, credential = entry
        expires_at = credential.expires_at
        if time.monotonic() >= deadline or (expires_at is not None and expires_at <= now):
            self._entries.pop(digest, None)
            return None
        return credential

    def put(self, digest: str, credential: T) -> None:
        self._entries[digest] = (time.monotonic() + self._ttl, credential)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        self._entries.pop(digest, None)

    def clear(self) -> None:
        self._entries.clear()
