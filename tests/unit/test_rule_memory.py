"""``store.rule_memory``: what a process remembers of immutable-tag rules is trusted only while its
listener holds a current lease, and a read that raced a change is never remembered."""

from __future__ import annotations

import time

from repohub.domain.immutability import NamespaceRules
from repohub.store.rule_memory import RuleMemory

ACME = NamespaceRules(namespace_id=1, rules=())


def test_nothing_is_remembered_without_a_listener() -> None:
    memory = RuleMemory()
    memory.put("acme", ACME, memory.generation)
    assert memory.get("acme") == (False, None)


def test_a_listening_memory_remembers_until_its_lease_lapses() -> None:
    memory = RuleMemory()
    memory.listening(True, lease=0.05)
    memory.put("acme", ACME, memory.generation)
    memory.put("gone", None, memory.generation)  # no such namespace: remembered as such
    assert memory.get("acme") == (True, ACME) and memory.get("gone") == (True, None)
    time.sleep(0.06)  # the connection stopped answering: no renewal
    assert memory.get("acme") == (False, None)
    memory.renew(10)
    assert memory.get("acme") == (True, ACME)


def test_a_read_that_raced_a_notice_is_not_remembered() -> None:
    memory = RuleMemory()
    memory.listening(True, lease=10)
    generation = memory.generation  # a check starts its read
    memory.forget()  # a change's notice arrives meanwhile
    memory.put("acme", ACME, generation)
    assert memory.get("acme") == (False, None)


def test_losing_the_listener_forgets_everything_and_stops_trusting() -> None:
    memory = RuleMemory()
    memory.listening(True, lease=10)
    memory.put("acme", ACME, memory.generation)
    before = memory.generation
    memory.listening(False)
    assert memory.get("acme") == (False, None) and memory.generation > before
    memory.listening(True, lease=10)
    assert memory.get("acme") == (False, None)  # nothing from before the loss comes back
