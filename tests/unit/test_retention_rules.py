"""Retention rules without a database: what ``parse_policy`` accepts, which tags ``doomed`` deletes,
and which regular expressions ``patterns.compile_pattern`` refuses (and the parser shape it reads)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from repohub.domain.errors import InvalidInput
from repohub.domain.retention import patterns
from repohub.domain.retention.rules import (
    Policy,
    Rule,
    Selector,
    TagFacts,
    Template,
    doomed,
    parse_policy,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def policy(template: str, params: dict[str, object], *selectors: dict[str, str]) -> Policy:
    rule: dict[str, object] = {"template": template, "params": params, "tag_selectors": list(selectors)}
    return parse_policy({"algorithm": "or", "rules": [rule]})


def tag(name: str, *, age: timedelta, digest: str | None = None) -> TagFacts:
    return TagFacts(name, digest or f"sha256:{name}", NOW - age)


def names(policy_: Policy, tags: list[TagFacts]) -> list[str]:
    return [item.name for item in doomed(policy_, tags, NOW)]


# -- parse_policy --------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [30, "30"], ids=["integer", "decimal string"])
def test_n_may_be_an_integer_or_a_decimal_string(n):
    parsed = policy("date_rule", {"days": n})
    assert parsed.rule == Rule(Template.DATE, 30)
    assert parsed.rule.as_wire() == {"template": "date_rule", "params": {"days": "30"}, "tag_selectors": []}


def test_label_and_regexp_selectors_are_parsed_and_shown_as_sent():
    parsed = policy(
        "tag_rule",
        {"num": "2"},
        {"kind": "label", "pattern": "latest"},
        {"kind": "regexp", "pattern": r"^v\d+$"},
    )
    label, regexp = parsed.rule.selectors
    assert (label.kind, label.pattern, label.compiled) == ("label", "latest", None)
    assert (regexp.kind, regexp.pattern) == ("regexp", r"^v\d+$") and regexp.compiled is not None
    assert parsed.rule.as_wire()["tag_selectors"] == [
        {"kind": "label", "pattern": "latest"},
        {"kind": "regexp", "pattern": r"^v\d+$"},
    ]


def test_the_stored_form_reads_back_as_the_same_policy():
    parsed = policy("tag_rule", {"num": 5}, {"kind": "regexp", "pattern": "^rc"})
    again = Policy.from_json(parsed.algorithm, parsed.to_json())
    assert again.rule.as_wire() == parsed.rule.as_wire()
    assert again.rule.excepts("rc1") and not again.rule.excepts("v1")


def test_a_label_is_the_exact_tag_name_and_a_regexp_is_searched():
    label = Selector("label", "v1")
    assert label.matches("v1") and not label.matches("v10") and not label.matches("xv1")
    searched = policy("tag_rule", {"num": 1}, {"kind": "regexp", "pattern": "rc"}).rule.selectors[0]
    assert searched.matches("v1-rc2") and not searched.matches("v1")


@pytest.mark.parametrize(
    "sent",
    [
        {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": True}}]},
        {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": "1.5"}}]},
        {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 2}, "tag_selectors": {}}]},
        {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 2}}], "extra": 1},
    ],
    ids=["bool", "fraction", "selectors an object", "extra field"],
)
def test_what_is_not_a_policy_is_invalid_input(sent):
    with pytest.raises(InvalidInput):
        parse_policy(sent)


# -- doomed: date_rule ----------------------------------------------------------------------------------
def test_date_rule_deletes_tags_pushed_more_than_n_days_ago_and_keeps_one_pushed_exactly_n_days_ago():
    """ "More than N days": a tag pushed exactly N days before the run is kept, a microsecond more is not."""
    rule = policy("date_rule", {"days": 7})
    tags = [
        tag("fresh", age=timedelta(days=1)),
        tag("exactly", age=timedelta(days=7)),
        tag("just-over", age=timedelta(days=7, microseconds=1)),
        tag("old", age=timedelta(days=30)),
    ]
    assert names(rule, tags) == ["just-over", "old"]
    assert {item.rule_type for item in doomed(rule, tags, NOW)} == {"date_rule"}


def test_date_rule_never_deletes_an_exception():
    rule = policy(
        "date_rule",
        {"days": 1},
        {"kind": "label", "pattern": "stable"},
        {"kind": "regexp", "pattern": "^keep-"},
    )
    tags = [
        tag("stable", age=timedelta(days=9)),
        tag("keep-me", age=timedelta(days=9)),
        tag("old", age=timedelta(days=9)),
    ]
    assert names(rule, tags) == ["old"]


# -- doomed: tag_rule -------------------------------------------------------------------------------------
def test_tag_rule_keeps_the_n_most_recently_pushed():
    tags = [tag(f"v{i}", age=timedelta(hours=10 - i)) for i in range(6)]  # v5 newest
    assert names(policy("tag_rule", {"num": 2}), tags) == ["v0", "v1", "v2", "v3"]
    assert names(policy("tag_rule", {"num": 6}), tags) == []
    assert names(policy("tag_rule", {"num": 100}), tags) == []


def test_tag_rule_does_not_count_exceptions_and_never_deletes_them():
    # Exceptions are the two oldest and the newest; the 2 kept are the newest of the rest.
    tags = [
        tag("release-1", age=timedelta(days=50)),
        tag("release-2", age=timedelta(days=40)),
        tag("a", age=timedelta(days=5)),
        tag("b", age=timedelta(days=4)),
        tag("c", age=timedelta(days=3)),
        tag("d", age=timedelta(days=2)),
        tag("latest", age=timedelta(days=1)),
    ]
    rule = policy(
        "tag_rule",
        {"num": "2"},
        {"kind": "regexp", "pattern": r"^release-\d+$"},
        {"kind": "label", "pattern": "latest"},
    )
    assert names(rule, tags) == ["a", "b"]


def test_tag_rule_breaks_ties_in_push_time_by_name():
    """Same push time: the names later in order count as newer, so a run is deterministic."""
    same = timedelta(days=1)
    tags = [tag(name, age=same) for name in ("b", "d", "a", "c")]
    assert names(policy("tag_rule", {"num": 2}), tags) == ["a", "b"]
    assert names(policy("tag_rule", {"num": 2}), list(reversed(tags))) == ["a", "b"]


def test_a_tag_is_deleted_by_name_with_its_digest_even_when_another_tag_shares_it():
    """Which digests the registry may drop is the runner's concern; ``doomed`` names tags."""
    shared = "sha256:" + "ab" * 32
    tags = [
        tag("old", age=timedelta(days=3), digest=shared),
        tag("new", age=timedelta(days=1), digest=shared),
    ]
    [gone] = doomed(policy("tag_rule", {"num": 1}), tags, NOW)
    assert (gone.name, gone.digest, gone.rule_type) == ("old", shared, "tag_rule")


def test_no_tags_nothing_doomed():
    assert doomed(policy("tag_rule", {"num": 1}), [], NOW) == []


# -- patterns ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("(a+)+$", "exponential"),
        (r"(\w)\1", "exponential"),
        (r"(?>((ab)+)+c)", "exponential"),  # inside an atomic group: 5 minutes on a 60-character tag
        (r"(?>(a+)+b)", "exponential"),  # its first 32-character probe alone ran for minutes
        (r"(?=(a+)+)b", "exponential"),  # inside a lookahead
        ("(a|aa)*b", None),  # a repeat around a branch of repeats: refused by shape or by timing
        (".*.*.*.*x", "too slow"),
        ("[", "not a valid"),
        ("", "1 to"),
        ("a" * (patterns.MAX_PATTERN + 1), "1 to"),
    ],
)
def test_compile_pattern_refuses_what_could_stall_a_run(pattern, says):
    with pytest.raises(InvalidInput) as refused:
        patterns.compile_pattern(pattern)
    assert refused.value.field == "pattern"
    if says is not None:
        assert says in str(refused.value)


@pytest.mark.parametrize("pattern", [r"^v\d+\.\d+\.\d+$", "^release-", "rc", r"^(v|r)\d+$", "latest|stable"])
def test_compile_pattern_accepts_ordinary_patterns(pattern):
    compiled = patterns.compile_pattern(pattern)
    assert isinstance(compiled, re.Pattern) and compiled.pattern == pattern


def test_the_parser_shape_explosive_reads_is_still_there():
    """``patterns._explosive`` walks ``re._parser``'s output: a repeat is (MAX_REPEAT, (low, high,
    body)), a group (SUBPATTERN, (..., body)), a back-reference GROUPREF. If Python changes that
    shape, this fails before the check silently passes everything."""
    sre = patterns.sre_parse
    [(outer, (low, high, body))] = list(sre.parse("(a+)+"))
    assert (outer, low, high) == (sre.MAX_REPEAT, 1, sre.MAXREPEAT)
    [(group, group_value)] = list(body)
    assert group == sre.SUBPATTERN
    [(inner, (inner_low, inner_high, inner_body))] = list(group_value[-1])
    assert (inner, inner_low, inner_high) == (sre.MAX_REPEAT, 1, sre.MAXREPEAT)
    assert list(inner_body) == [(sre.LITERAL, ord("a"))]
    assert [op for op, _ in sre.parse(r"(\w)\1")] == [sre.SUBPATTERN, sre.GROUPREF]
    assert patterns._explosive(list(sre.parse("(a+)+")), inside_repeat=False)
    assert not patterns._explosive(list(sre.parse(r"^v\d+\.\d+$")), inside_repeat=False)
