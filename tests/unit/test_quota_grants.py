"""The repository quota as a fact of the one registry grant rule: in a full namespace no push of a
name that does not exist yet, for anyone (site admins and robots included); existing repositories
keep every action the role allows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from repohub.domain.access import AccessFacts, registry_actions
from repohub.domain.entities import Principal, Robot, Role, User

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ALL = ["pull", "push", "delete"]


def person(admin: bool = False) -> Principal:
    return Principal(User(1, "u", None, None, admin, NOW, NOW), via="token")


def robot() -> Principal:
    found = Robot(id=1, namespace_id=7, namespace="acme", name="ci", pull=(), push=("*",), description="")
    return Principal(None, via="robot", robot=found)


def facts(*, exists: bool, full: bool, role: Role | None = Role.ADMIN) -> AccessFacts:
    return AccessFacts(7, role, 3 if exists else None, False, full=full)


@pytest.mark.parametrize("principal", [person(), person(admin=True), robot()], ids=["admin", "site", "robot"])
def test_a_full_namespace_grants_no_push_of_a_new_name(principal: Principal) -> None:
    granted = registry_actions(principal, facts(exists=False, full=True), "new", ALL, NOW)
    assert "pull" in granted and "push" not in granted
    assert "push" in registry_actions(principal, facts(exists=False, full=False), "new", ALL, NOW)


@pytest.mark.parametrize("principal", [person(), person(admin=True)], ids=["admin", "site"])
def test_a_full_namespace_keeps_every_action_on_existing_repositories(principal: Principal) -> None:
    assert registry_actions(principal, facts(exists=True, full=True), "app", ["*"], NOW) == ["*"]


def test_a_full_namespace_changes_nothing_for_a_caller_without_push() -> None:
    viewer = facts(exists=False, full=True, role=Role.VIEWER)
    assert registry_actions(person(), viewer, "new", ALL, NOW) == registry_actions(
        person(), facts(exists=False, full=False, role=Role.VIEWER), "new", ALL, NOW
    )
