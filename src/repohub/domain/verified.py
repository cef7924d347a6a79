"""A short-lived, per-process memory of API tokens that were just verified.

Every authenticated request of every dialect (and each ``GET /registry/token``) would otherwise cost a
database round trip for the token alone. A token is remembered by its SHA-256 digest (never the token
itself) for a few seconds and never past its own expiry; revoking it in this process forgets it at
once, and a revocation made elsewhere (another worker, the CLI) takes effect within ``TTL_SECONDS``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime

from repohub.domain.entities import User

TTL_SECONDS = 5.0
MAX_ENTRIES = 10_000


class VerifiedTokens:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max = max_entries
        # digest -> (monotonic deadline, wall-clock expiry of the token or None, user)
        self._entries: OrderedDict[str, tuple[float, datetime | None, User]] = OrderedDict()

    def get(self, digest: str, now: datetime) -> User | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        deadline, expires_at, user = entry
        if time.monotonic() >= deadline or (expires_at is not None and expires_at <= now):
            self._entries.pop(digest, None)
            return None
        return user

    def put(self, digest: str, user: User, expires_at: datetime | None) -> None:
        self._entries[digest] = (time.monotonic() + self._ttl, expires_at, user)
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        self._entries.pop(digest, None)

    def clear(self) -> None:
        self._entries.clear()


TOKENS = VerifiedTokens()
