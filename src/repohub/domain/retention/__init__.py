"""Retention (SWR's image "aging"): policies that delete old tags, and the runs that apply them.

``rules`` (pure) says what a policy is and which tags it deletes; ``patterns`` compiles clients'
regular expressions safely; ``policies`` holds the use cases that manage policies.
"""

from repohub.domain.retention.policies import Retention, RetentionPolicies
from repohub.domain.retention.rules import (
    Doomed,
    Policy,
    Rule,
    Selector,
    TagFacts,
    Template,
    doomed,
    parse_policy,
)

__all__ = [
    "Doomed",
    "Policy",
    "Retention",
    "RetentionPolicies",
    "Rule",
    "Selector",
    "TagFacts",
    "Template",
    "doomed",
    "parse_policy",
]
