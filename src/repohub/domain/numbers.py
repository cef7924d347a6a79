"""Integers that clients send as text: one strict parser for every dialect's fields.

``int()`` takes ``' 1'``, ``'1_000'`` and ``'٣'``, ``str.isdigit`` takes ``'²'`` (which ``int()`` then
refuses), and a 5,000-digit string is refused by ``int()`` only after the work; a number of 2**63 or
more overflows every BIGINT column. Here a count or id is 1 to 19 ASCII digits and within its bounds.
"""

from __future__ import annotations

from repohub.domain.errors import InvalidInput

__all__ = ["MAX_INTEGER", "check_integer", "parse_integer"]

MAX_INTEGER = 2**63 - 1  # BIGINT's largest: ids and counts are stored as such
_MAX_DIGITS = len(str(MAX_INTEGER))
_SHOWN = 32  # characters of a bad value quoted back: enough to recognise it, never 5,000 digits


def parse_integer(text: str, *, field: str, low: int = 0, high: int = MAX_INTEGER) -> int:
    """``text`` as an integer from ``low`` to ``high``, or InvalidInput naming ``field``."""
    if 0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit():
        value = int(text)
        if low <= value <= high:
            return value
    raise _out_of_range(repr(text), field, low, high)


def check_integer(value: int, *, field: str, low: int = 0, high: int = MAX_INTEGER) -> int:
    """``value`` (a number already decoded, e.g. from JSON) if it is from ``low`` to ``high``."""
    if low <= value <= high:
        return value
    raise _out_of_range(str(value), field, low, high)


def _out_of_range(shown: str, field: str, low: int, high: int) -> InvalidInput:
    if len(shown) > _SHOWN:
        shown = shown[:_SHOWN] + "..."
    return InvalidInput(f"{field} must be an integer from {low} to {high}, not {shown}", field=field)
