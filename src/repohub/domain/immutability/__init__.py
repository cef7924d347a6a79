"""Immutable tags (SWR's enterprise "immutabletagrules", Harbor's tag immutability).

``doublestar`` compiles the rules' patterns (pure); ``rules`` says what a rule is and which tags it
protects (pure); ``guard`` is the one decision every path that changes tags asks; ``policies`` holds
the use cases that manage the rules.
"""

from typing import TYPE_CHECKING, Any

from repohub.domain.immutability.guard import Immutability, PushRefusal, TagImmutable
from repohub.domain.immutability.rules import ImmutableRule, PushFacts, RuleSpec, Selector, parse_rule

if TYPE_CHECKING:
    from repohub.domain.immutability.policies import ImmutableRules

__all__ = [
    "Immutability",
    "ImmutableRule",
    "ImmutableRules",
    "PushFacts",
    "PushRefusal",
    "RuleSpec",
    "Selector",
    "TagImmutable",
    "parse_rule",
]


def __getattr__(name: str) -> Any:
    """``ImmutableRules`` on first use: the store imports this package's ``rules``, and the use cases
    import the store (through ``domain.roles``), so importing them here, at once, would be a cycle."""
    if name == "ImmutableRules":
        from repohub.domain.immutability.policies import ImmutableRules

        return ImmutableRules
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
