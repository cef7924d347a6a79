"""What one process remembers of one database between requests, owned by whoever opened it.

Two apps in one process (the tests) each open their own database and so each get their own memory;
nothing here is module- or class-level. The memory travels with the database's sessions (in their
``info``), so a ``Store`` made over any session of an app's sessionmaker (the CLI's, a test's) shares
the app's memory: a token revoked, or a write committed, through it is seen by the app at once.
"""

from __future__ import annotations

import asyncio

from repohub.domain.entities import Credential, Robot
from repohub.domain.verified import VerifiedTokens
from repohub.store.rule_memory import RuleMemory

__all__ = ["INFO_KEY", "Memory"]

INFO_KEY = "repohub_memory"  # the key of the memory in a session's ``info``


class Memory:
    """``commits``: the writes committed through this database so far; memos of read results
        (``domain.grant_facts``) compare it to know that something they remember may have changed.
        ``verified_tokens``: API tokens verified in the last few seconds (``domain.verified``);
        ``verified_robots``: robot accounts' secrets, alike.
        ``next_prune``: the monotonic time after which the event intake prunes old event ids again
        (``domain.registry.events``). ``immutable_rules``: namespaces' enabled immutable-tag rules, while
        a listener keeps them true (``store.rule_memory``). ``webhook_nudge``: set when this process wrote
    webhook deliveries, so its delivery workers look at once instead of at their next poll."""

    __slots__ = (
        "commits",
        "immutable_rules",
        "next_prune",
        "verified_robots",
        "verified_tokens",
        "webhook_nudge",
    )

    def __init__(self) -> None:
        self.commits = 0
        self.next_prune = 0.0
        self.verified_tokens: VerifiedTokens[Credential] = VerifiedTokens()
        self.verified_robots: VerifiedTokens[Robot] = VerifiedTokens()
        self.immutable_rules = RuleMemory()
        self.webhook_nudge = asyncio.Event()
