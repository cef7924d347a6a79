"""Harbor's ``doublestar`` patterns, compiled to one regular expression that runs in linear time.

The syntax (as ``github.com/bmatcuk/doublestar``, which Harbor's selectors use):

* ``*`` any run of characters except ``/``; ``**`` as a whole path component (``**``, ``**/x``,
  ``a/**/b``, ``a/**``) zero or more components; inside a component (``a**b``) it is ``*``;
* ``?`` one character except ``/``; ``[abc]``, ``[a-z]``, ``[!a-z]`` / ``[^a-z]`` one character of (or
  not of) a set, never ``/``;
* ``{a,b,c}`` any of the alternatives (nested, at most :data:`MAX_ALTERNATIVES` spellings in all);
* ``\\x`` the character ``x`` itself.

Why not translate ``*`` to ``.*`` and be done: ``*-*-*-rc`` against a 128-character tag of dashes
takes the regular expression engine O(n³) steps. Here a name is matched component by component, on
``name + "/"``, and every place the engine could retry is made atomic where retrying cannot help:

* inside a component, each star before a literal run is ``(?>[^/]*?RUN)``: the leftmost place the
  run fits, never retried. Sound because the runs are fixed-width once braces are spelt out (each
  spelling is its own alternative) and no run holds ``/``: the leftmost place leaves the most for the
  rest of the component, which the next star absorbs;
* between whole ``**`` components, the components in between are ``(?>(?:[^/]*/)*?RUN/)``: the
  leftmost components they fit, never retried, for the same reason one level up (each component
  fragment matches exactly one component; the next ``**`` absorbs any).

The last run after a star is left greedy and anchored, so a match costs O(pattern × name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MAX_ALTERNATIVES", "MAX_PATTERN", "Doublestar", "PatternError", "compile_doublestar"]

MAX_PATTERN = 256
MAX_ALTERNATIVES = 64


class PatternError(ValueError):
    """The pattern is not valid doublestar syntax (the message says where)."""


@dataclass(frozen=True, slots=True)
class Doublestar:
    """A compiled pattern: :meth:`matches` tells whether a whole name matches it."""

    pattern: str
    regex: re.Pattern[str]  # over ``name + "/"`` (module doc)

    def matches(self, name: str) -> bool:
        return self.regex.match(name + "/") is not None


@lru_cache(maxsize=4096)
def compile_doublestar(pattern: str) -> Doublestar:
    """``pattern`` compiled (PatternError when it is no valid pattern)."""
    if not pattern:
        raise PatternError("a pattern may not be empty")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"a pattern is at most {MAX_PATTERN} characters")
    if any(ord(char) < 0x20 or char == "\x7f" for char in pattern):
        raise PatternError("a pattern may not contain control characters")
    spellings = _expand(pattern)
    return Doublestar(pattern, re.compile("|".join(f"(?:{_spelling_regex(each)})" for each in spellings)))


# -- braces ---------------------------------------------------------------------------------------
def _expand(pattern: str) -> list[str]:
    """``pattern`` with its ``{a,b}`` alternatives spelt out (escapes and sets left as written)."""
    found, end = _alternatives(pattern, 0, top=True)
    assert end == len(pattern)
    return list(dict.fromkeys(found))


def _alternatives(pattern: str, start: int, *, top: bool) -> tuple[list[str], int]:
    """The spellings from ``start`` to the end (top level) or to the ``}`` closing the group, and the
    index after it."""
    options: list[str] = []
    current = [""]
    index = start
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            piece, index = pattern[index : index + 2], index + 2
            if len(piece) < 2:
                raise PatternError("a pattern may not end with a lone '\\'")
            current = [text + piece for text in current]
        elif char == "[":
            close = _set_end(pattern, index)
            current = [text + pattern[index : close + 1] for text in current]
            index = close + 1
        elif char == "{":
            inner, index = _alternatives(pattern, index + 1, top=False)
            current = _product(current, inner)
        elif char in ",}" and not top:
            options.extend(current)
            if char == "}":
                return _capped(options), index + 1
            current, index = [""], index + 1
        elif char == "}":
            raise PatternError(f"'}}' at {index + 1} closes no '{{'")
        else:
            current, index = [text + char for text in current], index + 1
    if not top:
        raise PatternError("a '{' is not closed")
    return _capped(current), index


def _product(left: list[str], right: list[str]) -> list[str]:
    return _capped([first + second for first in left for second in right])


def _capped(spellings: list[str]) -> list[str]:
    if len(spellings) > MAX_ALTERNATIVES:
        raise PatternError(f"a pattern may spell at most {MAX_ALTERNATIVES} alternatives")
    return spellings


def _set_end(pattern: str, start: int) -> int:
    """The index of the ``]`` closing the set opened at ``start``."""
    index = start + 1
    if index < len(pattern) and pattern[index] in "!^":
        index += 1
    if index < len(pattern) and pattern[index] == "]":  # a leading ']' is a member
        index += 1
    while index < len(pattern) and pattern[index] != "]":
        index += 2 if pattern[index] == "\\" else 1
    if index >= len(pattern):
        raise PatternError(f"the '[' at {start + 1} is not closed")
    return index


# -- one spelling ---------------------------------------------------------------------------------
_GLOBSTAR = None  # a whole "**" component, in a spelling's list of component fragments


def _spelling_regex(spelling: str) -> str:
    """The expression ``name + "/"`` must match for ``spelling`` (module doc)."""
    fragments: list[str | None] = []
    for component in _components(spelling):
        if len(component) >= 2 and set(component) == {"*"}:
            if fragments and fragments[-1] is _GLOBSTAR:
                continue  # "**/**" is "**"
            fragments.append(_GLOBSTAR)
        else:
            fragments.append(_component_regex(component))
    runs: list[list[str]] = [[]]
    for fragment in fragments:
        if fragment is _GLOBSTAR:
            runs.append([])
        else:
            runs[-1].append(fragment + "/")
    head = "".join(runs[0])
    if len(runs) == 1:
        return head + r"\Z"
    middle = "".join(f"(?>(?:[^/]*/)*?{''.join(run)})" for run in runs[1:-1])
    return head + middle + "(?:[^/]*/)*" + "".join(runs[-1]) + r"\Z"


def _components(spelling: str) -> list[str]:
    """``spelling`` split at each ``/`` outside a set (an escaped one included: no name component
    can hold one)."""
    components: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(spelling):
        char = spelling[index]
        if char == "[":
            close = _set_end(spelling, index)
            current.append(spelling[index : close + 1])
            index = close + 1
        elif char == "\\" and spelling[index + 1] != "/":
            current.append(spelling[index : index + 2])
            index += 2
        elif char in "/\\":
            components.append("".join(current))
            current = []
            index += 2 if char == "\\" else 1
        else:
            current.append(char)
            index += 1
    components.append("".join(current))
    return components


def _component_regex(component: str) -> str:
    """One component: its runs of fixed-width pieces, each after its star in an atomic lazy group,
    the last one anchored by what follows (the component's ``/``)."""
    runs = [""]  # runs[0] before the first star, then one per star
    index = 0
    while index < len(component):
        char = component[index]
        if char == "*":
            while index < len(component) and component[index] == "*":
                index += 1
            runs.append("")
            continue
        if char == "?":
            piece, index = "[^/]", index + 1
        elif char == "[":
            close = _set_end(component, index)
            piece, index = _set(component[index + 1 : close]), close + 1
        elif char == "\\":
            piece, index = re.escape(component[index + 1]), index + 2
        else:
            piece, index = re.escape(char), index + 1
        runs[-1] += piece
    if len(runs) == 1:
        return runs[0]
    middle = "".join(f"(?>[^/]*?{run})" for run in runs[1:-1])
    return runs[0] + middle + "[^/]*" + runs[-1]


def _set(body: str) -> str:
    if body in ("", "!", "^"):
        raise PatternError("a '[...]' set may not be empty")
    negated = body[0] in "!^"
    members = body[1:] if negated else body
    out: list[str] = []
    index = 0
    while index < len(members):
        if members[index] == "\\":
            index += 1
        char = members[index]
        if index + 2 < len(members) and members[index + 1] == "-":
            high = members[index + 2]
            if high < char:
                raise PatternError(f"the range {char}-{high} is backwards")
            out.append(f"{re.escape(char)}-{re.escape(high)}")
            index += 3
        else:
            out.append(re.escape(char))
            index += 1
    inner = "".join(out)
    return f"[^/{inner}]" if negated else f"(?!/)[{inner}]"
