"""The namespaces' enabled immutable-tag rules, remembered between push checks while a listener keeps
them true (``rule_listener``), so that a push no rule can protect is answered without a read.

Only a process whose listener is connected, under a lease its probes renew, remembers anything
(``trusted``): PostgreSQL tells it
of every change to ``immutable_rules`` (a statement trigger's NOTIFY, migration 0007: cascades,
TRUNCATE and hand-written SQL included), and it forgets everything at each notice. Without a
listener (SQLite, the CLI, a listener reconnecting) every check reads, as it would without this.

A read races a notice: a check reads a namespace's rules, a change commits and its notice arrives
(forget), then the check puts what it read. ``generation`` turns that put away: a check puts only
what it read under the generation it saw before reading. What remains is the notice's own delay
(milliseconds, the same for every replica): a change committed is enforced once its notice is in.
"""

from __future__ import annotations

import time

from repohub.domain.immutability.rules import NamespaceRules

__all__ = ["MAX_NAMESPACES", "RuleMemory"]

MAX_NAMESPACES = 4096  # remembered at most; beyond, everything is forgotten and read again


class RuleMemory:
    __slots__ = ("_namespaces", "enabled", "generation", "trusted_until")

    def __init__(self) -> None:
        self.enabled = False
        self.generation = 0
        # A lease the listener renews at each probe its connection answers: a connection cut without
        # a reset ends no session, so without it notices could go nowhere while ``enabled`` held.
        self.trusted_until = 0.0
        self._namespaces: dict[str, NamespaceRules | None] = {}

    @property
    def trusted(self) -> bool:
        return self.enabled and time.monotonic() < self.trusted_until

    def get(self, namespace: str) -> tuple[bool, NamespaceRules | None]:
        """(True, the rules) when remembered (None: no such namespace), else (False, None)."""
        if namespace not in self._namespaces or not self.trusted:
            return False, None
        return True, self._namespaces[namespace]

    def put(self, namespace: str, rules: NamespaceRules | None, generation: int) -> None:
        """Remember what a read under ``generation`` found, unless something changed since."""
        if generation != self.generation or not self.trusted:
            return
        if len(self._namespaces) >= MAX_NAMESPACES:
            self._namespaces.clear()
        self._namespaces[namespace] = rules

    def forget(self) -> None:
        self.generation += 1
        self._namespaces.clear()

    def listening(self, on: bool, *, lease: float = 0.0) -> None:
        """The listener connected (True) or lost (False): either way nothing remembered is trusted."""
        self.forget()
        self.enabled = on
        self.renew(lease if on else 0.0)

    def renew(self, lease: float) -> None:
        """Trust the memory for ``lease`` more seconds (the listener's connection just answered)."""
        self.trusted_until = time.monotonic() + lease
