"""The grant-facts memos: forget on the next commit, after its time, and beyond its size."""

from __future__ import annotations

import time

from repohub.domain.entities import Role
from repohub.domain.grant_facts import TimedMemo
from repohub.store.registry import AccessFacts

FACTS = AccessFacts(namespace_id=1, role=Role.MEMBER, repository_id=7, is_public=False)
KEY = ("acme", "app", 3)


def test_remembered_until_a_commit() -> None:
    memo = TimedMemo[tuple[str, str, int], AccessFacts]()
    memo.put(KEY, 5, FACTS)
    assert memo.get(KEY, 5) == FACTS
    assert memo.get(("acme", "app", 4), 5) is None  # another caller
    assert memo.get(KEY, 6) is None  # this process committed a write since
    assert memo.get(KEY, 5) is None  # and the stale entry is gone


def test_forgotten_after_its_time() -> None:
    memo = TimedMemo[tuple[str, str, int], AccessFacts](ttl=0.05)
    memo.put(KEY, 0, FACTS)
    assert memo.get(KEY, 0) == FACTS
    time.sleep(0.06)
    assert memo.get(KEY, 0) is None


def test_bounded_oldest_first() -> None:
    memo = TimedMemo[tuple[str, str, int], AccessFacts](max_entries=2)
    for user_id in (1, 2, 3):
        memo.put(("acme", "app", user_id), 0, FACTS)
    assert memo.get(("acme", "app", 1), 0) is None
    assert memo.get(("acme", "app", 2), 0) == FACTS and memo.get(("acme", "app", 3), 0) == FACTS
