"""Regular expressions from clients, compiled so that none can stall a retention run.

Python's ``re`` backtracks and has no time limit, and a run matches every exception pattern against
every tag: ``(a+)+$`` against 40 ``a``s and a ``!`` takes minutes. A pattern is therefore refused when
its shape can backtrack exponentially — a repetition inside a repetition, or a back-reference — and
then timed against the worst inputs a tag name allows (128 characters of the tag alphabet), so that a
polynomial pattern (``.*.*.*.*x``) that is still too slow is refused too. Tag names are at most 128
characters of ``[A-Za-z0-9_.-]`` (``domain.names``), which is what bounds the timing.

The shape is read with ``re``'s own parser (``re._parser``), the only such use in repohub;
``tests/unit/test_retention_rules.py`` fails if it changes shape under us.
"""

from __future__ import annotations

import importlib
import re
import time
from typing import Any

from repohub.domain.errors import InvalidInput

__all__ = ["MAX_PATTERN", "PROBE_BUDGET_SECONDS", "compile_pattern"]

# The parser re.compile itself uses (typeshed has no stubs for it; ``sre_parse`` is its deprecated alias).
sre_parse: Any = importlib.import_module("re._parser")

MAX_PATTERN = 256
# The slowest probe may take this long; a good pattern takes microseconds (``^v\d+\.\d+$``: 3 µs for
# all probes), ``.*.*.*.*x`` about 0.3 s.
PROBE_BUDGET_SECONDS = 0.02
_TAG_LENGTH = 128
_ALPHABET = "a0_.-A"
_REPEATS = frozenset({sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT})


def compile_pattern(pattern: str, *, field: str = "pattern") -> re.Pattern[str]:
    """The compiled pattern, or InvalidInput naming ``field``: not compiling, too long, a shape that
    backtracks exponentially, or too slow on the worst tag names."""
    if not pattern or len(pattern) > MAX_PATTERN:
        raise InvalidInput(f"{field} must be 1 to {MAX_PATTERN} characters", field=field)
    try:
        compiled = re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except (re.error, OverflowError, RecursionError) as error:
        raise InvalidInput(f"{field} is not a valid regular expression: {error}", field=field) from None
    if _explosive(list(parsed), inside_repeat=False):
        raise InvalidInput(
            f"{field} repeats a repetition or refers back to a group: it could take exponential time",
            field=field,
        )
    if _slowest_probe(compiled, pattern) > PROBE_BUDGET_SECONDS:
        raise InvalidInput(f"{field} is too slow to match against tag names", field=field)
    return compiled


def _explosive(items: list[tuple[Any, Any]], *, inside_repeat: bool) -> bool:
    """A repetition (of more than one) inside another, or a back-reference, anywhere in ``items``:
    every construct holding a sub-pattern is looked into (groups, atomic groups, alternations,
    lookarounds, conditionals), so one the walk does not know cannot hide a nested repeat."""
    for op, value in items:
        if op in (sre_parse.GROUPREF, sre_parse.GROUPREF_EXISTS):
            return True
        if op in _REPEATS:
            _low, high, body = value
            repeats = high > 1
            if repeats and inside_repeat:
                return True
            if _explosive(list(body), inside_repeat=inside_repeat or repeats):
                return True
        elif _explosive(_children(value), inside_repeat=inside_repeat):
            return True
    return False


def _children(value: Any) -> list[tuple[Any, Any]]:
    """The items of every sub-pattern inside ``value`` (a group's, a branch's, a lookaround's)."""
    found: list[tuple[Any, Any]] = []
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, sre_parse.SubPattern):
            found.extend(current)
        elif isinstance(current, list | tuple):
            pending.extend(current)
    return found


def _probes(pattern: str, length: int) -> list[str]:
    """Tag names of ``length``, each a run of one character (of the alphabet or a literal of the
    pattern), then the same ended by every other: what makes a backtracking match fail late."""
    characters = sorted({*_ALPHABET, *(c for c in pattern if re.fullmatch(r"[A-Za-z0-9_.-]", c))})
    probes = []
    for fill in characters:
        probes.append(fill * length)
        probes.extend(fill * (length - 1) + end for end in characters if end != fill)
    return probes


def _slowest_probe(compiled: re.Pattern[str], pattern: str) -> float:
    """The slowest probe's time. Lengths double up to a tag name's greatest, so a slow pattern is
    refused at the first length that exceeds the budget (``.*.*.*.*x``: after 0.17 s, not 1.1 s)."""
    slowest = 0.0
    for length in (16, 32, 64, _TAG_LENGTH):
        for probe in _probes(pattern, length):
            started = time.perf_counter()
            compiled.search(probe)
            slowest = max(slowest, time.perf_counter() - started)
            if slowest > PROBE_BUDGET_SECONDS:
                return slowest
    return slowest
