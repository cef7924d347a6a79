"""What an immutable-tag rule is, and which tags it protects (pure: no I/O).

A rule is SWR's (and Harbor's) ``{priority, disabled, action: "immutable", template:
"immutable_template", tag_selectors: [one selector], scope_selectors: {"repository": [one
selector]}}``; a selector is ``{kind: "doublestar", decoration, pattern}``. A tag is protected when an
enabled rule of its namespace selects both its repository (``repoMatches``: the repository's name
within the namespace matches the pattern; ``repoExcludes``: it does not) and the tag (``matches`` /
``excludes`` likewise), as Harbor's immutable matcher decides. ``priority`` orders rules in answers
only; any one enabled rule that selects a tag protects it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from repohub.domain.errors import InvalidInput
from repohub.domain.immutability.doublestar import PatternError, compile_doublestar

__all__ = [
    "ACTION",
    "KIND",
    "MAX_RULES_PER_NAMESPACE",
    "TEMPLATE",
    "ImmutableRule",
    "NamespaceRules",
    "RuleSpec",
    "Selector",
    "parse_rule",
    "protecting",
    "repository_selector",
    "spec_from_row",
    "tag_selector",
]

ACTION = "immutable"
TEMPLATE = "immutable_template"
KIND = "doublestar"
TAG_DECORATIONS = ("matches", "excludes")
REPOSITORY_DECORATIONS = ("repoMatches", "repoExcludes")
# Harbor's limit per project, which SWR's enterprise edition inherits: a few rules with ``{a,b}``
# alternatives say what many would, and a push check reads and tries every enabled one.
MAX_RULES_PER_NAMESPACE = 15
MAX_PRIORITY = 2**31 - 1
_FIELDS = frozenset({"priority", "disabled", "action", "template", "tag_selectors", "scope_selectors"})
_SELECTOR_FIELDS = frozenset({"kind", "decoration", "pattern", "extras"})


@dataclass(frozen=True, slots=True)
class Selector:
    """One selector: ``decoration`` says whether a match selects (``matches``, ``repoMatches``) or
    excludes."""

    decoration: str
    pattern: str

    @property
    def excludes(self) -> bool:
        return self.decoration in ("excludes", "repoExcludes")

    def selects(self, name: str) -> bool:
        return compile_doublestar(self.pattern).matches(name) is not self.excludes

    def to_json(self) -> dict[str, str]:
        return {"kind": KIND, "decoration": self.decoration, "pattern": self.pattern, "extras": ""}


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A rule as a client states it (the stored row adds its id and namespace)."""

    priority: int
    disabled: bool
    tag: Selector
    repository: Selector

    def selects(self, repository: str, tag: str) -> bool:
        return not self.disabled and self.repository.selects(repository) and self.tag.selects(tag)

    def to_json(self) -> dict[str, Any]:
        """The body SWR answers for it (``ImmutableRule`` without id and namespace)."""
        return {
            "priority": self.priority,
            "disabled": self.disabled,
            "action": ACTION,
            "template": TEMPLATE,
            "tag_selectors": [self.tag.to_json()],
            "scope_selectors": {"repository": [self.repository.to_json()]},
        }

    @property
    def key(self) -> str:
        """What makes two rules of a namespace the same rule (Harbor refuses the second: 409)."""
        return orjson.dumps(
            [self.tag.decoration, self.tag.pattern, self.repository.decoration, self.repository.pattern]
        ).decode()


def protecting(rules: Iterable[tuple[int, RuleSpec]], repository: str, tag: str) -> int | None:
    """The id of the first enabled rule (by id) that protects ``tag`` of ``repository`` (its name
    within the namespace), or None."""
    for rule_id, rule in rules:
        if rule.selects(repository, tag):
            return rule_id
    return None


# -- parsing --------------------------------------------------------------------------------------
def parse_rule(body: Mapping[str, Any]) -> RuleSpec:
    """A client's rule body, checked: every problem is an InvalidInput naming its field."""
    if not isinstance(body, Mapping):
        raise InvalidInput("the body must be a JSON object", field="body")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])
    _fixed(body, "action", ACTION)
    _fixed(body, "template", TEMPLATE)
    return RuleSpec(
        priority=_priority(body.get("priority", 0)),
        disabled=_boolean(body.get("disabled", False), "disabled"),
        tag=tag_selector(body.get("tag_selectors")),
        repository=repository_selector(body.get("scope_selectors")),
    )


def tag_selector(value: Any) -> Selector:
    """A client's ``tag_selectors`` (a list of exactly one tag selector), checked: what every rule
    that selects tags this way reads (immutable-tag rules, SWR webhook policies' scope rules)."""
    return _selector(_one(value, "tag_selectors"), "tag_selectors", TAG_DECORATIONS)


def repository_selector(value: Any) -> Selector:
    """A client's ``scope_selectors`` (``{"repository": [one selector]}``), checked."""
    return _selector(_scope(value), "scope_selectors", REPOSITORY_DECORATIONS)


def _fixed(body: Mapping[str, Any], field: str, value: str) -> None:
    given = body.get(field, value)
    if given != value:
        raise InvalidInput(f"{field} must be {value!r}", field=field)


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRIORITY:
        raise InvalidInput(f"priority must be an integer from 0 to {MAX_PRIORITY}", field="priority")
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field)
    return value


def _one(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], Mapping):
        raise InvalidInput(f"{field} must be a list of exactly one selector object", field=field)
    return value[0]


def _scope(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or set(value) != {"repository"}:
        raise InvalidInput('scope_selectors must be {"repository": [one selector]}', field="scope_selectors")
    return _one(value["repository"], "scope_selectors")


def _selector(value: Mapping[str, Any], field: str, decorations: tuple[str, ...]) -> Selector:
    unknown = sorted(set(value) - _SELECTOR_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown selector field {unknown[0]!r}", field=field)
    if value.get("kind") != KIND:
        raise InvalidInput(f"{field}: kind must be {KIND!r}", field=field)
    decoration = value.get("decoration")
    if decoration not in decorations:
        raise InvalidInput(f"{field}: decoration must be one of {', '.join(decorations)}", field=field)
    extras = value.get("extras", "")
    if extras is not None and not isinstance(extras, str):
        raise InvalidInput(f"{field}: extras must be a string", field=field)
    pattern = value.get("pattern")
    if not isinstance(pattern, str):
        raise InvalidInput(f"{field}: pattern must be a string", field=field)
    try:
        compile_doublestar(pattern)
    except (PatternError, re.error) as error:
        raise InvalidInput(
            f"{field}: pattern {pattern[:64]!r} does not compile: {error}", field=field
        ) from None
    return Selector(str(decoration), pattern)


def spec_from_row(
    priority: int, disabled: bool, tag: tuple[str, str], repository: tuple[str, str]
) -> RuleSpec:
    """A stored rule's spec (``tag`` and ``repository``: decoration and pattern)."""
    return RuleSpec(priority, disabled, Selector(*tag), Selector(*repository))


@dataclass(frozen=True, slots=True)
class ImmutableRule:
    """A stored rule: its id, its namespace, what it says."""

    id: int
    namespace_id: int
    namespace_name: str
    spec: RuleSpec

    def to_json(self) -> dict[str, Any]:
        """SWR's ``ImmutableRule``."""
        return {
            "id": self.id,
            "namespace_id": self.namespace_id,
            "namespace_name": self.namespace_name,
            **self.spec.to_json(),
        }


@dataclass(frozen=True, slots=True)
class NamespaceRules:
    """A namespace's id and its enabled rules, by id: what the push check decides from."""

    namespace_id: int
    rules: tuple[tuple[int, RuleSpec], ...]
