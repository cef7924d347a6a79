"""A per-process memo of what registry token grants depend on, kept for two seconds.

A ``docker pull`` or ``push`` asks ``GET /registry/token`` again and again, and each scope's answer
rests on a few facts that rarely change: the caller's roles in namespaces, and for anyone without a
role there the repository's existence and visibility. An entry lives ``TTL_SECONDS`` and is void as
soon as this process commits any write, so its own changes show at once; a change committed by
another process (a replica, the CLI) shows within ``TTL_SECONDS``. A token issued from them outlives
any such change by its whole lifetime (``REPOHUB_REGISTRY_TOKEN_TTL``) anyway. One memo per
application (per database), held by its state.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from repohub.domain.access import AccessFacts

__all__ = ["MAX_ENTRIES", "TTL_SECONDS", "FactsKey", "GrantFacts", "MemberFacts", "TimedMemo"]

TTL_SECONDS = 2.0
MAX_ENTRIES = 10_000
FactsKey = tuple[str, str, int | None]  # namespace, repository name, caller's user id
K = TypeVar("K")
V = TypeVar("V")


class TimedMemo(Generic[K, V]):
    """Values remembered for ``ttl`` seconds and while the process's commit count stays the same;
    the oldest go first beyond ``max_entries``."""

    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[K, tuple[float, int, V]] = OrderedDict()  # deadline, commits, value
        self._loading: dict[tuple[K, int], asyncio.Future[V]] = {}  # reads under way, by key and commits

    def get(self, key: K, commits: int) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        deadline, seen_commits, value = entry
        if seen_commits != commits or time.monotonic() >= deadline:
            del self._entries[key]
            return None
        return value

    async def get_or_load(self, key: K, commits: int, load: Callable[[], Awaitable[V]]) -> V:
        """The remembered value, else what ``load`` reads; callers missing it at the same time share
        one read. (At 10,000 namespaces a user's roles are 10,000 rows: 32 token requests reading them
        at once each time the entry expired held the event loop for 0.7 s, docs/benchmarks.md.)"""
        value = self.get(key, commits)
        if value is not None:
            return value
        pending = self._loading.get((key, commits))
        if pending is not None:
            await asyncio.wait([pending])
            if not pending.cancelled():
                return pending.result()
            # the request reading it went away or failed: read it here
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[(key, commits)] = future
        try:
            value = await load()
        except BaseException:
            future.cancel()  # those waiting read it themselves
            raise
        finally:
            if self._loading.get((key, commits)) is future:
                del self._loading[(key, commits)]
        future.set_result(value)
        self.put(key, commits, value)
        return value

    def put(self, key: K, commits: int, value: V) -> None:
        self._entries[key] = (time.monotonic() + self._ttl, commits, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What a user's memberships settle (``RegistryStore.member_facts``): ``roles``, the facts of no
    particular repository in each namespace it belongs to, by name; ``granted``, the whole facts of
    each repository granted to it in one of them, by path (a grant may be stronger than the role)."""

    roles: Mapping[str, AccessFacts]
    granted: Mapping[tuple[str, str], AccessFacts]


class GrantFacts:
    """``members``: what a user's memberships settle (one read per user answers a push into any
    namespace it belongs to); ``facts``: one repository's facts for one caller, for the rest."""

    def __init__(self, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.members: TimedMemo[int, MemberFacts] = TimedMemo(ttl, max_entries)
        self.facts: TimedMemo[FactsKey, AccessFacts] = TimedMemo(ttl, max_entries)
