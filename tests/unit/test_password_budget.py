"""The per-user budget of failed password checks, on a clock the test moves."""

from __future__ import annotations

import pytest

from repohub.domain.errors import RateLimited
from repohub.domain.password_budget import PasswordBudget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_spent_budget_refuses_with_the_seconds_left_until_the_window_turns() -> None:
    clock = Clock()
    budget = PasswordBudget(2, clock=clock)
    budget.charge("bob")
    budget.charge("bob")
    clock.now += 20.5
    with pytest.raises(RateLimited) as refused:
        budget.charge("bob")
    assert refused.value.retry_after == 40
    budget.charge("carol")  # each user has a budget of their own
    clock.now += 40
    budget.charge("bob")  # the window turned: a whole budget again


def test_a_refund_gives_the_unit_back_within_its_window_only() -> None:
    clock = Clock()
    budget = PasswordBudget(1, clock=clock)
    budget.refund(budget.charge("bob"))
    stale = budget.charge("bob")
    clock.now += 60
    budget.charge("bob")  # the new window's one unit
    budget.refund(stale)  # from the window before: owes the new one nothing
    with pytest.raises(RateLimited):
        budget.charge("bob")


def test_a_budget_of_zero_never_refuses() -> None:
    budget = PasswordBudget(0, clock=Clock())
    for _ in range(100):
        budget.charge("bob")
