"""Harbor's doublestar patterns (``domain.immutability.doublestar``): what each construct matches, what
is refused, and why the compiled expression is linear where the naive translation is not."""

from __future__ import annotations

import functools
import random
import re
import time
from collections.abc import Callable

import pytest

from repohub.domain.immutability.doublestar import (
    MAX_ALTERNATIVES,
    MAX_PATTERN,
    PatternError,
    compile_doublestar,
)


def matches(pattern: str, name: str) -> bool:
    return compile_doublestar(pattern).matches(name)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        # * : any run without "/", the empty run included
        ("*", "v1.2.3", True),
        ("*", "", True),
        ("*", "team/app", False),
        ("v*", "v", True),
        ("v*", "release-v1", False),  # the whole name, not a search
        ("*-rc", "1.0-rc", True),
        ("*-rc", "1.0-rc1", False),
        ("a*b*c", "axxbyyc", True),
        ("a*b*c", "acb", False),
        # ** : any run, "/" included
        ("**", "team/app/web", True),
        ("**", "", True),
        ("a**b", "a/x/b", False),  # not a whole component: "*", as doublestar reads it
        ("a**b", "axxb", True),
        ("team/**", "team/app/web", True),
        ("team/**", "other/app", False),
        # ** as a whole component: zero or more components
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("**/app", "app", True),
        ("**/app", "team/app", True),
        ("**/app", "teamapp", False),
        ("a/**", "a/b/c", True),
        ("a/**", "a", True),
        # a whole ** beside other stars (each of these was once missed: review of issue 16)
        ("**/a*", "a/a", True),
        ("**/base*", "base/base-image", True),
        ("**/*", "team/app", True),
        ("*/**", "app", True),
        ("*/**", "team/app", True),
        ("team*/**", "team-x/app", True),
        ("team*/**", "other/app", False),
        ("*/**/*", "team/app", True),
        ("**/**", "a", True),
        ("a/**/**/b", "a/b", True),
        ("x/**/a*", "x/a/a", True),
        # ? : one character, never "/"
        ("v?", "v1", True),
        ("v?", "v12", False),
        ("a?b", "a/b", False),
        # sets
        ("v[0-9]", "v7", True),
        ("v[0-9]", "vx", False),
        ("v[!0-9]", "vx", True),
        ("v[^0-9]", "v7", False),
        ("a[!x]b", "a/b", False),  # a negated set never matches "/"
        ("a[/]b", "a/b", False),  # nor does a set naming it
        ("[abc]", "b", True),
        ("[]a]", "]", True),  # a leading "]" is a member
        ("[!^]", "a", True),  # "anything but ^"
        ("[!^]", "^", False),
        ("[a-]", "-", True),
        # alternatives, nested too
        ("{v,release-}*", "release-2", True),
        ("{v,release-}*", "r2", False),
        ("{a,{b,c}d}", "cd", True),
        ("{a,{b,c}d}", "d", False),
        ("{,x}y", "y", True),  # an empty alternative
        ("{1.*,2.*}-{rc,beta}", "2.0-beta", True),
        # escapes
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("v\\?", "v?", True),
        ("\\{a,b\\}", "{a,b}", True),
        ("a.b", "axb", False),  # regular-expression characters are themselves
        ("(v)+", "(v)+", True),
    ],
)
def test_what_a_pattern_matches(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        ("", "empty"),
        ("v[0-9", "not closed"),
        ("[", "not closed"),
        ("[]", "not closed"),  # "]" first is a member, so nothing closes it
        ("[!]", "not closed"),
        ("{a,b", "not closed"),
        ("{a,{b}", "not closed"),
        ("a}", "closes no"),
        ("a,b}", "closes no"),
        ("[z-a]", "backwards"),
        ("v\\", "lone"),
        ("{a,b}" * 7, f"at most {MAX_ALTERNATIVES}"),  # 128 spellings
        ("x" * (MAX_PATTERN + 1), f"at most {MAX_PATTERN}"),
        ("v\n1", "control"),
        ("v\x00", "control"),
        ("v\x7f", "control"),
    ],
)
def test_refused_patterns_say_why(pattern: str, says: str) -> None:
    with pytest.raises(PatternError, match=says):
        compile_doublestar(pattern)


def test_the_limits_themselves_are_accepted() -> None:
    assert matches("x" * MAX_PATTERN, "x" * MAX_PATTERN)
    assert matches("{a,b}" * 6, "ab" * 3)  # 64 spellings
    assert not matches("{a,b}" * 6, "ab" * 2)


# -- time ------------------------------------------------------------------------------------------
def naive(pattern: str) -> re.Pattern[str]:
    """The obvious translation: ``**`` to ``.*``, ``*`` to ``[^/]*``, ``?`` to ``[^/]``."""
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(pattern[index], re.escape(pattern[index])))
            index += 1
    return re.compile("".join(out))


def fastest(match: Callable[[str], object], name: str, rounds: int = 25, calls: int = 20) -> float:
    """The best time of ``calls`` matches over several rounds (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            match(name)
        best = min(best, time.perf_counter() - start)
    return best / calls


# Each a hostile pair: many stars with a literal between them, a name made of that literal, and a
# tail that never comes, so every way of splitting the name is a failed try for a backtracking match.
HOSTILE = [("*-*-*-*-*-rc", "-"), ("**a**a**a**b", "a"), ("*.*.*.*.*-final", ".")]


@pytest.mark.parametrize(("pattern", "char"), HOSTILE)
def test_a_hostile_pattern_costs_time_linear_in_the_name(pattern: str, char: str) -> None:
    ours = compile_doublestar(pattern).matches
    assert not ours(char * 128)
    short, long = fastest(ours, char * 100), fastest(ours, char * 2000)
    # 20 times the name: linear is 20 times the time at most (less, with the fixed cost); quadratic
    # would be 400 times.
    assert long < 30 * short, (short, long)
    # On the longest tag the registry allows, and the longest repository name, a match is cheap.
    assert fastest(ours, char * 128) < 1e-3
    assert fastest(ours, char * 255) < 1e-3


@pytest.mark.parametrize(("pattern", "char"), HOSTILE)
def test_the_naive_translation_is_what_the_compiler_avoids(pattern: str, char: str) -> None:
    """The same pairs through the naive expression: doubling a short name multiplies its time by
    far more than two (polynomial in the number of stars), and at 40 characters it is already many
    times what ours takes on 2000."""
    slow = naive(pattern).fullmatch
    assert slow(char * 20) is None and not compile_doublestar(pattern).matches(char * 20)
    at_20, at_40 = fastest(slow, char * 20, rounds=5, calls=2), fastest(slow, char * 40, rounds=5, calls=2)
    assert at_40 > 4 * at_20, (at_20, at_40)  # at least quadratic; linear would be twice
    assert at_40 > 10 * fastest(compile_doublestar(pattern).matches, char * 2000), at_40


# -- against a reference matcher -------------------------------------------------------------------
def _spellings(pattern: str) -> list[str]:
    """Brace expansion, plainly (no escapes or sets in the fuzzed alphabet)."""
    depth, start = 0, pattern.find("{")
    if start < 0:
        return [pattern]
    for index in range(start, len(pattern)):
        depth += {"{": 1, "}": -1}.get(pattern[index], 0)
        if depth == 0:
            break
    inner, options, level, last = pattern[start + 1 : index], [], 0, 0
    for position, char in enumerate(inner):
        level += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and level == 0:
            options.append(inner[last:position])
            last = position + 1
    options.append(inner[last:])
    rest = pattern[index + 1 :]
    return [head for option in options for head in _spellings(pattern[:start] + option + rest)]


def _component_matches(pattern: str, name: str) -> bool:
    @functools.cache
    def at(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(name)
        if pattern[i] == "*":
            return at(i + 1, j) or (j < len(name) and at(i, j + 1))
        return j < len(name) and pattern[i] in ("?", name[j]) and at(i + 1, j + 1)

    return at(0, 0)


def _spelling_matches(spelling: str, name: str) -> bool:
    parts, names = spelling.split("/"), name.split("/")

    @functools.cache
    def at(i: int, j: int) -> bool:
        if i == len(parts):
            return j == len(names)
        if len(parts[i]) >= 2 and set(parts[i]) == {"*"}:  # a whole **: zero or more components
            return at(i + 1, j) or (j < len(names) and at(i, j + 1))
        return j < len(names) and _component_matches(parts[i], names[j]) and at(i + 1, j + 1)

    return at(0, 0)


def reference(pattern: str, name: str) -> bool:
    """doublestar's meaning, by exhaustive recursion over components: slow, obviously right."""
    return any(_spelling_matches(spelling, name) for spelling in _spellings(pattern))


def test_it_matches_what_the_reference_matcher_matches_on_random_patterns() -> None:
    """Random small patterns and names (a fixed seed, so a failure repeats): the linear expression and
    the exhaustive reference agree on every pair."""
    chance = random.Random(16)
    names = sorted(
        {
            "/".join(chance.choice(["a", "b", "ab", "ba", "aa", ""]) for _ in range(chance.randint(1, 4)))
            for _ in range(300)
        }
    )
    checked = 0
    while checked < 4000:
        pattern = "".join(
            chance.choice(["a", "b", "/", "*", "**", "?", "{a,b}", "{a/,}", "{*,b*}"])
            for _ in range(chance.randint(1, 6))
        )
        for name in chance.sample(names, 12):
            assert matches(pattern, name) is reference(pattern, name), (pattern, name)
            checked += 1
