"""Each user's budget of failed password checks, one for every endpoint that checks a password.

``AccountService.authenticate_password`` is the one place passwords are checked (v1's login, the
registry token's Basic password, any later sign-in form), so the budget is charged there and every
such endpoint shares it. Once a user's budget is spent, every password check for that user is
refused with ``RateLimited`` until the window turns, the right password included: that is what a
spent budget means (an API token is not a password and still works). Unknown usernames have budgets
like known ones, so a refusal tells no name apart.

Counted per process in fixed one-minute windows, as the request limits of ``api.limits``: with R
replicas an attacker gets R times the budget. A check takes its unit before the password is hashed
and gives it back when the password was right (or when the check could not be made at all), so
concurrent guesses cannot all start before the first failure is counted.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from repohub.domain.errors import RateLimited
from repohub.observability.metrics import RATE_LIMITED

__all__ = ["WINDOW", "Charge", "PasswordBudget"]

WINDOW = 60.0
_REFUSED = RATE_LIMITED.labels("login_per_user")


@dataclass(frozen=True, slots=True)
class Charge:
    """One unit taken from a user's budget in the window that began at ``window``."""

    username: str
    window: float


class PasswordBudget:
    """``limit`` failed password checks per user a minute; 0 means no limit."""

    def __init__(self, limit: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._started = clock()
        self._spent: dict[str, int] = {}  # dropped whole when the window turns: memory stays bounded

    def charge(self, username: str) -> Charge:
        """Take a unit for a check about to be made; ``RateLimited`` if the budget is spent."""
        now = self._clock()
        if not self._limit:
            return Charge(username, self._started)
        if now - self._started >= WINDOW:
            self._started, self._spent = now, {}
        spent = self._spent.get(username, 0)
        if spent >= self._limit:
            _REFUSED.inc()
            retry_after = max(1, math.ceil(self._started + WINDOW - now))
            message = f"too many failed password checks for this user, retry in {retry_after} seconds"
            raise RateLimited(message, retry_after=retry_after)
        self._spent[username] = spent + 1
        return Charge(username, self._started)

    def refund(self, charge: Charge) -> None:
        """Give the unit back: the password was right. A window that has turned since owes nothing."""
        if charge.window != self._started:
            return
        left = self._spent.get(charge.username, 0) - 1
        if left > 0:
            self._spent[charge.username] = left
        else:
            self._spent.pop(charge.username, None)
