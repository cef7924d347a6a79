"""Retention policies (SWR's "aging rules"): what one is, how a client's body becomes one, which tags
it deletes. Pure: no I/O.

A repository has at most one policy, and a policy one rule, as SWR allows; its ``algorithm`` is
always ``"or"``. The rule is

* ``date_rule`` with ``params {"days": N}``: delete the tags last pushed more than N days ago;
* ``tag_rule`` with ``params {"num": N}``: keep the N most recently pushed tags, delete the rest;

N a positive JSON integer or decimal string (SWR's documents show strings, and its answers do).
``tag_selectors`` are the exceptions, never deleted and not counted among the N: ``regexp`` (the
pattern is searched in the tag name, ``re.search``; anchor it with ``^…$`` for a whole name) or
``label`` (in SWR, the exact tag name). "Pushed" is the tag's last push (``Tag.updated_at``: a
re-push or a retag moves it). Ties in push time are broken by name, so a run is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson

from repohub.domain.entities import TagFacts
from repohub.domain.errors import InvalidInput
from repohub.domain.names import is_tag_name
from repohub.domain.numbers import check_integer, parse_integer
from repohub.domain.retention.patterns import compile_pattern

__all__ = [
    "ALGORITHM",
    "MAX_DAYS",
    "MAX_NUM",
    "MAX_SELECTORS",
    "Doomed",
    "Policy",
    "Rule",
    "Selector",
    "TagFacts",
    "Template",
    "doomed",
    "parse_policy",
]

ALGORITHM = "or"
MAX_DAYS = 36_500  # a hundred years: beyond it a rule deletes nothing anyway
MAX_NUM = 1_000_000
MAX_SELECTORS = 100


class Template(StrEnum):
    DATE = "date_rule"
    TAG = "tag_rule"


_PARAM = {Template.DATE: "days", Template.TAG: "num"}
_LIMIT = {Template.DATE: MAX_DAYS, Template.TAG: MAX_NUM}


@dataclass(frozen=True, slots=True)
class Selector:
    """An exception: tags it matches are never deleted."""

    kind: str  # "regexp" | "label"
    pattern: str
    compiled: re.Pattern[str] | None = None  # regexp only

    def matches(self, tag: str) -> bool:
        if self.compiled is not None:
            return self.compiled.search(tag) is not None
        return tag == self.pattern


@dataclass(frozen=True, slots=True)
class Rule:
    template: Template
    count: int  # days for date_rule, num for tag_rule
    selectors: tuple[Selector, ...] = ()

    def excepts(self, tag: str) -> bool:
        return any(selector.matches(tag) for selector in self.selectors)

    def as_wire(self) -> dict[str, Any]:
        """The rule as SWR shows it (its numbers as decimal strings, as SWR's answers have them)."""
        return {
            "template": self.template.value,
            "params": {_PARAM[self.template]: str(self.count)},
            "tag_selectors": [{"kind": s.kind, "pattern": s.pattern} for s in self.selectors],
        }


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]
    algorithm: str = ALGORITHM

    @property
    def rule(self) -> Rule:
        return self.rules[0]

    def to_json(self) -> str:
        """The stored form (``retentions.rules``): the rules as SWR shows them."""
        return orjson.dumps([rule.as_wire() for rule in self.rules]).decode()

    @classmethod
    def from_json(cls, algorithm: str, rules: str) -> Policy:
        """A stored policy (written by ``to_json``, so valid: parsed again, patterns compiled)."""
        return parse_policy({"algorithm": algorithm, "rules": orjson.loads(rules)}, timed=False)


@dataclass(frozen=True, slots=True)
class Doomed:
    """A tag a rule deletes, and which rule (its template) did."""

    name: str
    digest: str
    rule_type: str


def doomed(policy: Policy, tags: Sequence[TagFacts], now: datetime) -> list[Doomed]:
    """The tags ``policy`` deletes now: those any rule deletes ("or"), exceptions never."""
    chosen: dict[str, Doomed] = {}
    for rule in policy.rules:
        counted = [tag for tag in tags if not rule.excepts(tag.name)]
        if rule.template is Template.DATE:
            cut_off = now - timedelta(days=rule.count)
            gone = [tag for tag in counted if tag.pushed_at < cut_off]
        else:
            newest_first = sorted(counted, key=lambda tag: (tag.pushed_at, tag.name), reverse=True)
            gone = newest_first[rule.count :]
        for tag in gone:
            chosen.setdefault(tag.name, Doomed(tag.name, tag.digest, rule.template.value))
    return sorted(chosen.values(), key=lambda item: item.name)


# -- a client's body --------------------------------------------------------------------------------
def parse_policy(body: Mapping[str, Any], *, timed: bool = True) -> Policy:
    """A policy from SWR's body ``{"algorithm": "or", "rules": [...]}``, or InvalidInput naming the
    field at fault. ``timed``: time regular expressions against tag names (``patterns``); a stored
    policy was timed when it came in."""
    unknown = set(body) - {"algorithm", "rules"}
    if unknown:
        raise InvalidInput(f"unknown fields: {', '.join(sorted(map(str, unknown)))[:200]}", field="body")
    if body.get("algorithm") != ALGORITHM:
        raise InvalidInput(f"algorithm must be {ALGORITHM!r}", field="algorithm")
    rules = body.get("rules")
    if not isinstance(rules, list) or len(rules) != 1:
        raise InvalidInput("rules must hold exactly one rule (SWR allows one per repository)", field="rules")
    return Policy(rules=tuple(_rule(item, timed=timed) for item in rules))


def _rule(item: Any, *, timed: bool) -> Rule:
    if not isinstance(item, Mapping):
        raise InvalidInput("a rule must be an object", field="rules")
    template = item.get("template")
    if template not in (Template.DATE.value, Template.TAG.value):
        raise InvalidInput("template must be 'date_rule' or 'tag_rule'", field="template")
    kind = Template(template)
    unknown = set(item) - {"template", "params", "tag_selectors"}
    if unknown:
        raise InvalidInput(
            f"unknown rule fields: {', '.join(sorted(map(str, unknown)))[:200]}", field="rules"
        )
    count = _count(kind, item.get("params"))
    # The SDK leaves out a selector list it was not given; JSON null says the same. Any other value
    # that is not a list (``{}``, ``""``, ``false``) is a mistake, not "no exceptions".
    selectors = item.get("tag_selectors")
    if selectors is None:
        selectors = []
    if not isinstance(selectors, list) or len(selectors) > MAX_SELECTORS:
        raise InvalidInput(f"tag_selectors must be a list of at most {MAX_SELECTORS}", field="tag_selectors")
    return Rule(kind, count, tuple(_selector(entry, timed=timed) for entry in selectors))


def _count(template: Template, params: Any) -> int:
    name = _PARAM[template]
    if not isinstance(params, Mapping) or set(params) != {name}:
        raise InvalidInput(f"params of a {template.value} must be {{{name!r}: N}}", field="params")
    value = params[name]
    field = f"params.{name}"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{field} must be a positive integer", field=field)
    if isinstance(value, str):
        return parse_integer(value, field=field, low=1, high=_LIMIT[template])
    return check_integer(value, field=field, low=1, high=_LIMIT[template])


def _selector(entry: Any, *, timed: bool) -> Selector:
    if not isinstance(entry, Mapping) or set(entry) != {"kind", "pattern"}:
        raise InvalidInput("a tag selector is {'kind': ..., 'pattern': ...}", field="tag_selectors")
    kind, pattern = entry["kind"], entry["pattern"]
    if not isinstance(pattern, str):
        raise InvalidInput("pattern must be a string", field="pattern")
    if kind == "label":
        if not is_tag_name(pattern):
            raise InvalidInput(
                f"a label selector names one tag, and {pattern[:64]!r} is none", field="pattern"
            )
        return Selector("label", pattern)
    if kind == "regexp":
        compiled = compile_pattern(pattern) if timed else re.compile(pattern)
        return Selector("regexp", pattern, compiled)
    raise InvalidInput("kind must be 'label' or 'regexp'", field="kind")
