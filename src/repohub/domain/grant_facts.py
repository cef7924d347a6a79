"""A per-process memo of what registry token grants depend on, kept for two seconds.

A ``docker pull`` or ``push`` asks ``GET /registry/token`` again and again for the same repositories,
and each scope's answer rests on a few facts (the namespace, the repository, the caller's role) that
rarely change. An entry lives ``TTL_SECONDS`` and is void as soon as this process commits any write,
so its own changes show at once; a change committed by another process (a replica, the CLI) shows
within ``TTL_SECONDS``. A token issued from them outlives any such change by its whole lifetime
(``REPOHUB_REGISTRY_TOKEN_TTL``) anyway. One memo per application (per database), held by its state.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from repohub.store.registry import AccessFacts

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000
Key = tuple[str, str, int | None]  # namespace, repository name, caller's user id
NAMESPACE_WIDE = ""  # in place of a repository name (never a valid one): the caller's role only


class GrantFacts:
    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max = max_entries
        # key -> (monotonic deadline, commit count when read, facts)
        self._entries: OrderedDict[Key, tuple[float, int, AccessFacts]] = OrderedDict()

    def get(self, key: Key, commits: int) -> AccessFacts | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline, seen_commits, facts = entry
        if seen_commits != commits or time.monotonic() >= deadline:
            del self._entries[key]
            return None
        return facts

    def put(self, key: Key, commits: int, facts: AccessFacts) -> None:
        self._entries[key] = (time.monotonic() + self._ttl, commits, facts)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
