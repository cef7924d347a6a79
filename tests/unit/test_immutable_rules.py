"""What an immutable-tag rule is (``domain.immutability.rules``, pure): the bodies huaweicloudsdkswr
sends are accepted, every bad one is refused naming its field, and a rule protects what Harbor's
matcher would (matches / excludes, repoMatches / repoExcludes, disabled)."""

from __future__ import annotations

from typing import Any

import pytest
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkswr.v2 import CreateImmutableRuleBody, RuleSelector, UpdateImmutableRuleBody

from repohub.domain.errors import InvalidInput
from repohub.domain.immutability.guard import Protection, RuleBook
from repohub.domain.immutability.rules import (
    MAX_PRIORITY,
    ImmutableRule,
    RuleSpec,
    Selector,
    parse_rule,
    protecting,
)


def body(
    tags: str = "v*",
    repos: str = "**",
    *,
    tag_decoration: str = "matches",
    repo_decoration: str = "repoMatches",
    **fields: Any,
) -> dict[str, Any]:
    return {
        "tag_selectors": [{"kind": "doublestar", "decoration": tag_decoration, "pattern": tags}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repos}]
        },
        **fields,
    }


def spec(tags: str = "v*", repos: str = "**", **fields: Any) -> RuleSpec:
    return parse_rule(body(tags, repos, **fields))


# -- the SDK's bodies --------------------------------------------------------------------------------
def test_the_sdks_least_body_takes_the_defaults() -> None:
    """The SDK leaves out what is None: priority, disabled, action, template and extras."""
    sent = sanitize_for_serialization(
        CreateImmutableRuleBody(
            tag_selectors=[RuleSelector(kind="doublestar", decoration="matches", pattern="v*")],
            scope_selectors={
                "repository": [RuleSelector(kind="doublestar", decoration="repoMatches", pattern="**")]
            },
        )
    )
    assert set(sent) == {"tag_selectors", "scope_selectors"}
    assert parse_rule(sent) == RuleSpec(
        priority=0, disabled=False, tag=Selector("matches", "v*"), repository=Selector("repoMatches", "**")
    )


def test_the_sdks_full_body_is_read_field_by_field() -> None:
    sent = sanitize_for_serialization(
        UpdateImmutableRuleBody(
            priority=7,
            disabled=True,
            action="immutable",
            template="immutable_template",
            tag_selectors=[
                RuleSelector(kind="doublestar", decoration="excludes", pattern="dev-*", extras="")
            ],
            scope_selectors={
                "repository": [RuleSelector(kind="doublestar", decoration="repoExcludes", pattern="tmp/**")]
            },
        )
    )
    parsed = parse_rule(sent)
    assert parsed == RuleSpec(7, True, Selector("excludes", "dev-*"), Selector("repoExcludes", "tmp/**"))
    # What SWR answers for it is what was sent, the reserved fields filled in.
    assert parsed.to_json() == {
        **sent,
        "tag_selectors": [{**sent["tag_selectors"][0], "extras": ""}],
        "scope_selectors": {"repository": [{**sent["scope_selectors"]["repository"][0], "extras": ""}]},
    }
    assert parse_rule(parsed.to_json()) == parsed  # an answer can be sent back as it is


def test_extras_may_be_null_and_the_highest_priority_is_taken() -> None:
    sent = body(priority=MAX_PRIORITY)
    sent["tag_selectors"][0]["extras"] = None
    assert parse_rule(sent).priority == MAX_PRIORITY


def test_a_stored_rule_answers_as_swrs_immutable_rule() -> None:
    stored = ImmutableRule(id=4, namespace_id=9, namespace_name="acme", spec=spec())
    answer = stored.to_json()
    assert {key: answer[key] for key in ("id", "namespace_id", "namespace_name")} == {
        "id": 4,
        "namespace_id": 9,
        "namespace_name": "acme",
    }
    assert set(answer) == {
        "id",
        "namespace_id",
        "namespace_name",
        "priority",
        "disabled",
        "action",
        "template",
        "tag_selectors",
        "scope_selectors",
    }


def test_two_rules_are_the_same_rule_when_their_selectors_are() -> None:
    assert spec().key == spec(priority=3, disabled=True).key
    assert spec().key != spec(tag_decoration="excludes").key
    assert spec().key != spec("v*", "app").key


# -- refusals ----------------------------------------------------------------------------------------
def _selector(**fields: Any) -> dict[str, Any]:
    return body() | {
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*", **fields}]
    }


def _scope(**fields: Any) -> dict[str, Any]:
    selector = {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**", **fields}
    return body() | {"scope_selectors": {"repository": [selector]}}


REFUSED: dict[str, tuple[Any, str]] = {
    "not an object": ([body()], "body"),
    "unknown field": (body(rules=[]), "rules"),
    "action": (body(action="retain"), "action"),
    "template": (body(template="latestPushedK"), "template"),
    "priority negative": (body(priority=-1), "priority"),
    "priority too large": (body(priority=MAX_PRIORITY + 1), "priority"),
    "priority a string": (body(priority="1"), "priority"),
    "priority a boolean": (body(priority=True), "priority"),
    "priority a float": (body(priority=1.0), "priority"),
    "disabled a string": (body(disabled="true"), "disabled"),
    "disabled a number": (body(disabled=0), "disabled"),
    "tag_selectors missing": ({"scope_selectors": body()["scope_selectors"]}, "tag_selectors"),
    "tag_selectors empty": (body() | {"tag_selectors": []}, "tag_selectors"),
    "two tag selectors": (body() | {"tag_selectors": body()["tag_selectors"] * 2}, "tag_selectors"),
    "tag selector a string": (body() | {"tag_selectors": ["v*"]}, "tag_selectors"),
    "tag kind regexp": (_selector(kind="regexp"), "tag_selectors"),
    "tag kind missing": (
        body() | {"tag_selectors": [{"decoration": "matches", "pattern": "v*"}]},
        "tag_selectors",
    ),
    "tag decoration of a repository": (body(tag_decoration="repoMatches"), "tag_selectors"),
    "tag decoration unknown": (body(tag_decoration="contains"), "tag_selectors"),
    "tag selector field unknown": (_selector(label="x"), "tag_selectors"),
    "extras a number": (_selector(extras=1), "tag_selectors"),
    "pattern missing": (
        body() | {"tag_selectors": [{"kind": "doublestar", "decoration": "matches"}]},
        "tag_selectors",
    ),
    "pattern a number": (body(tags=7), "tag_selectors"),
    "pattern empty": (body(tags=""), "tag_selectors"),
    "pattern unclosed": (body(tags="v[0-9"), "tag_selectors"),
    "scope_selectors missing": ({"tag_selectors": body()["tag_selectors"]}, "scope_selectors"),
    "scope_selectors a list": (
        body() | {"scope_selectors": body()["scope_selectors"]["repository"]},
        "scope_selectors",
    ),
    "scope_selectors another key": (body() | {"scope_selectors": {"project": []}}, "scope_selectors"),
    "scope_selectors empty": (body() | {"scope_selectors": {"repository": []}}, "scope_selectors"),
    "repository decoration of a tag": (body(repo_decoration="matches"), "scope_selectors"),
    "repository kind": (_scope(kind="label"), "scope_selectors"),
    "repository pattern broken": (body(repos="{a"), "scope_selectors"),
}


@pytest.mark.parametrize(("sent", "field"), REFUSED.values(), ids=REFUSED.keys())
def test_a_bad_body_is_refused_naming_its_field(sent: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rule(sent)
    assert refused.value.field == field
    assert refused.value.message


def test_a_long_bad_pattern_is_quoted_back_shortened() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_rule(body("[" + "a" * 250))
    assert "a" * 64 not in refused.value.message and "not closed" in refused.value.message


# -- what a rule protects (Harbor's matcher) -----------------------------------------------------
@pytest.mark.parametrize(
    ("rule", "repository", "tag", "protected"),
    [
        (spec("v*", "**"), "app", "v1", True),
        (spec("v*", "**"), "team/app", "v1", True),  # ** reaches into nested names
        (spec("v*", "**"), "app", "latest", False),
        (spec("v*", "*"), "team/app", "v1", False),  # * stays in one component
        (spec("v*", "app"), "app", "v1", True),
        (spec("v*", "app"), "team/app", "v1", False),  # the name within the namespace, whole
        (spec("v*", "{app,web}"), "web", "v2", True),
        (spec("v*", tag_decoration="excludes"), "app", "v1", False),  # excludes: all but v*
        (spec("v*", tag_decoration="excludes"), "app", "latest", True),
        (spec("v*", "app", repo_decoration="repoExcludes"), "app", "v1", False),
        (spec("v*", "app", repo_decoration="repoExcludes"), "web", "v1", True),
        (spec("**", "**", tag_decoration="excludes"), "app", "v1", False),  # excludes everything
        (spec("v*", "**", disabled=True), "app", "v1", False),  # a disabled rule protects nothing
    ],
)
def test_a_rule_protects_what_it_selects(rule: RuleSpec, repository: str, tag: str, protected: bool) -> None:
    assert rule.selects(repository, tag) is protected


def test_any_one_enabled_rule_protects_and_the_first_by_id_is_named() -> None:
    rules = [(3, spec("v*", disabled=True)), (5, spec("v1*")), (8, spec("v*"))]
    assert protecting(rules, "app", "v1") == 5
    assert protecting(rules, "app", "v2") == 8
    assert protecting(rules, "app", "latest") is None
    assert protecting([], "app", "v1") is None


def test_the_rule_book_keeps_protected_tags_and_those_sharing_their_image() -> None:
    book = RuleBook({7: [(2, spec("v*")), (4, spec("stable"))]})
    sharing = {"latest": ["stable", "v1"], "edge": ["nightly"], "v1": ["latest", "stable"]}
    found = book.undeletable(7, "app", ["latest", "edge", "v1", "rc"], sharing)
    # v1 itself; latest shares its image with stable and v1, both protected: the first by name.
    assert found == {"v1": Protection(2), "latest": Protection(4, shares="stable")}
    assert found["latest"].reason == "shares its image with immutable tag 'stable' (rule 4)"
    assert found["v1"].reason == "immutable (rule 2)"
    assert book.undeletable(8, "app", ["v1"], {}) == {}  # a namespace without rules
    assert book.protected(7, "app", ["latest", "v1", "v2"]) == {"v1": 2, "v2": 2}
