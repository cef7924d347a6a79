"""A short-lived memory of API tokens that were just verified.

Every authenticated request of every dialect (and each ``GET /registry/token``) would otherwise cost a
database round trip for the token alone. A token is remembered by its SHA-256 digest (never the token
itself) for a few seconds and never past its own expiry; revoking it in this process forgets it at
once, together with the tokens derived from it that the revocation took along, and a revocation made
elsewhere (another worker, another replica, the CLI) takes effect within ``TTL_SECONDS``. One memory
per database the process opened (``store.memory``), never a module-level one.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime

from repohub.domain.entities import Credential

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


class VerifiedTokens:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max = max_entries
        # digest -> (monotonic deadline, the token; its wall-clock expiry bounds the entry too)
        self._entries: OrderedDict[str, tuple[float, Credential]] = OrderedDict()

    def get(self, digest: str, now: datetime) -> Credential | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        deadline, credential = entry
        expires_at = credential.expires_at
        if time.monotonic() >= deadline or (expires_at is not None and expires_at <= now):
            self._entries.pop(digest, None)
            return None
        return credential

    def put(self, digest: str, credential: Credential) -> None:
        self._entries[digest] = (time.monotonic() + self._ttl, credential)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        self._entries.pop(digest, None)

    def clear(self) -> None:
        self._entries.clear()
