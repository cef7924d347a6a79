"""The grant-facts memos: forget on the next commit, after its time, and beyond its size."""

from __future__ import annotations

import asyncio
import time

import pytest

from repohub.domain.access import AccessFacts
from repohub.domain.entities import Role
from repohub.domain.grant_facts import TimedMemo

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


async def test_callers_missing_at_once_share_one_read() -> None:
    memo = TimedMemo[int, AccessFacts]()
    reads: list[int] = []

    async def read() -> AccessFacts:
        reads.append(1)
        await asyncio.sleep(0.01)
        return FACTS

    answers = await asyncio.gather(*(memo.get_or_load(3, 0, read) for _ in range(32)))
    assert answers == [FACTS] * 32 and len(reads) == 1
    assert await memo.get_or_load(3, 0, read) == FACTS and len(reads) == 1  # remembered
    assert await memo.get_or_load(3, 1, read) == FACTS and len(reads) == 2  # a commit since: read again


async def test_when_the_shared_read_fails_the_others_read_themselves() -> None:
    memo = TimedMemo[int, AccessFacts]()
    reads: list[str] = []

    async def failing() -> AccessFacts:
        reads.append("failed")
        await asyncio.sleep(0.01)
        raise ConnectionError("database went away")

    async def working() -> AccessFacts:
        reads.append("worked")
        return FACTS

    first = asyncio.ensure_future(memo.get_or_load(3, 0, failing))
    await asyncio.sleep(0)  # the first read is under way
    second = await memo.get_or_load(3, 0, working)
    assert second == FACTS and reads == ["failed", "worked"]
    with pytest.raises(ConnectionError):
        await first
