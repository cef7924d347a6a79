"""Harbor's ``doublestar`` patterns, compiled to one regular expression that runs in linear time.

The syntax (as ``github.com/bmatcuk/doublestar``, which Harbor's selectors use):

* ``*`` any run of characters except ``/``; ``**`` any run, ``/`` included; as a whole path
  component (``**/x``, ``a/**/b``, ``a/**``) it matches zero or more components;
* ``?`` one character except ``/``; ``[abc]``, ``[a-z]``, ``[!a-z]`` / ``[^a-z]`` one character of (or
  not of) a set, never ``/``;
* ``{a,b,c}`` any of the alternatives (nested, at most :data:`MAX_ALTERNATIVES` spellings in all);
* ``\\x`` the character ``x`` itself.

Why not translate ``*`` to ``.*`` and be done: ``*-*-*-rc`` against a 128-character tag of dashes
takes the regular expression engine O(n³) steps. Here each star before a literal run is an atomic
lazy group, ``(?>[^/]*?RUN)``: it takes the leftmost place the run fits and never retries, so a
match costs O(pattern × name). That is correct because every run is fixed-width once the braces are
expanded (alternatives are spelt out as separate patterns, which is what made the runs fixed-width)
and no run's ``?`` or set matches ``/``: the leftmost fitting place leaves the most for the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MAX_ALTERNATIVES", "MAX_PATTERN", "PatternError", "compile_doublestar"]

MAX_PATTERN = 256
MAX_ALTERNATIVES = 64


class PatternError(ValueError):
    """The pattern is not valid doublestar syntax (the message says where)."""


@dataclass(frozen=True, slots=True)
class _Star:
    """A run of stars: ``any`` when it may cross ``/``; ``before``/``after``: a whole ``**`` component
    at the start (``**/``), in the middle (``/**/``) or at the end (``/**``)."""

    any: bool
    shape: str = ""  # "", "lead", "mid" or "tail"


_Token = str | _Star  # a regular expression matching one fixed-width piece, or a star


@lru_cache(maxsize=4096)
def compile_doublestar(pattern: str) -> re.Pattern[str]:
    """The regular expression matching exactly what ``pattern`` matches (use ``fullmatch``)."""
    if not pattern:
        raise PatternError("a pattern may not be empty")
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"a pattern is at most {MAX_PATTERN} characters")
    if any(ord(char) < 0x20 or char == "\x7f" for char in pattern):
        raise PatternError("a pattern may not contain control characters")
    spellings = _expand(pattern)
    return re.compile("|".join(f"(?:{_regex(_tokens(spelling))})" for spelling in spellings))


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
def _tokens(spelling: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(spelling):
        char = spelling[index]
        if char == "*":
            end = index
            while end < len(spelling) and spelling[end] == "*":
                end += 1
            tokens.append(_star(spelling, index, end))
            index = end
        elif char == "?":
            tokens.append("[^/]")
            index += 1
        elif char == "[":
            close = _set_end(spelling, index)
            tokens.append(_set(spelling[index + 1 : close]))
            index = close + 1
        elif char == "\\":
            tokens.append(re.escape(spelling[index + 1]))
            index += 2
        else:
            tokens.append(re.escape(char))
            index += 1
    return _components(tokens)


def _star(spelling: str, start: int, end: int) -> _Star:
    if end - start < 2:
        return _Star(any=False)
    before = start == 0 or spelling[start - 1] == "/"
    after = end == len(spelling) or spelling[end] == "/"
    if not (before and after):  # "a**b": no whole component, as doublestar reads it
        return _Star(any=True)
    if start == 0:
        return _Star(any=True, shape="lead" if end < len(spelling) else "")
    return _Star(any=True, shape="tail" if end == len(spelling) else "mid")


def _components(tokens: list[_Token]) -> list[_Token]:
    """Fold the ``/`` beside a whole-component ``**`` into the star, which then matches it too."""
    folded: list[_Token] = []
    for position, token in enumerate(tokens):
        if isinstance(token, _Star) and token.shape in ("mid", "tail"):
            folded.pop()  # the "/" before it
        if isinstance(token, _Star) and token.shape in ("lead", "mid"):
            tokens[position + 1] = ""  # the "/" after it
        folded.append(token)
    return [token for token in folded if token != ""]


def _set(body: str) -> str:
    if not body or body in "!^":
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


_STAR_REGEX = {
    (False, ""): "[^/]*",
    (True, ""): ".*",
    (True, "lead"): "(?:.*/)?",
    (True, "mid"): "/(?:.*/)?",
    (True, "tail"): "(?:/.*)?",
}


def _regex(tokens: list[_Token]) -> str:
    """Runs of fixed-width pieces, each after its star in an atomic lazy group (module doc); the
    last run anchored at the end."""
    runs: list[tuple[_Star | None, str]] = [(None, "")]
    for token in tokens:
        if isinstance(token, _Star):
            runs.append((token, ""))
        else:
            star, run = runs[-1]
            runs[-1] = (star, run + token)
    head = runs[0][1]
    if len(runs) == 1:
        return head
    middle = "".join(f"(?>{_lazy(star)}{run})" for star, run in runs[1:-1] if star is not None)
    last_star, last_run = runs[-1]
    assert last_star is not None
    return head + middle + _STAR_REGEX[(last_star.any, last_star.shape)] + last_run


def _lazy(star: _Star) -> str:
    """The star as a lazy expression (for the atomic groups)."""
    greedy = _STAR_REGEX[(star.any, star.shape)]
    return greedy.replace("*", "*?").replace(")?", ")??")
