"""Immutable tags (SWR's enterprise "immutabletagrules", Harbor's tag immutability).

``doublestar`` compiles the rules' patterns (pure); ``rules`` says what a rule is and which tags it
protects (pure); ``guard`` is the one decision every path that changes tags asks; ``policies`` holds
the use cases that manage the rules.
"""

# ``policies`` is imported from its module, not from here: the store imports this package's
# ``rules``, and the use cases import the store (through ``domain.roles``).
from repohub.domain.immutability.guard import Immutability, PushRefusal, RuleBook, TagImmutable
from repohub.domain.immutability.rules import ImmutableRule, NamespaceRules, RuleSpec, Selector, parse_rule

__all__ = [
    "Immutability",
    "ImmutableRule",
    "NamespaceRules",
    "PushRefusal",
    "RuleBook",
    "RuleSpec",
    "Selector",
    "TagImmutable",
    "parse_rule",
]
