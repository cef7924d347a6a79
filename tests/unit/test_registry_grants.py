"""The token grant rule as a pure function: role and repository facts → allowed actions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from repohub.domain.access import AccessFacts
from repohub.domain.entities import ANONYMOUS, Principal, Role, User
from repohub.domain.registry import RegistryEvent, allowed_actions, split_path

NOW = datetime(2024, 1, 1, tzinfo=UTC)
ALL = ("pull", "push", "delete")


def person(admin: bool = False) -> Principal:
    return Principal(User(1, "u", None, None, admin, NOW, NOW), via="token")


def facts(role: Role | None, *, exists: bool = True, public: bool = False) -> AccessFacts:
    return AccessFacts(namespace_id=1, role=role, repository_id=7 if exists else None, is_public=public)


@pytest.mark.parametrize(
    ("principal", "given", "expected"),
    [
        (ANONYMOUS, facts(None, public=True), ["pull"]),
        (ANONYMOUS, facts(None), []),
        (ANONYMOUS, facts(None, exists=False), []),
        (person(), facts(None), []),
        (person(), facts(Role.VIEWER), ["pull"]),
        (person(), facts(Role.VIEWER, exists=False), ["pull"]),
        (person(), facts(Role.MEMBER), ["pull", "push"]),
        (person(), facts(Role.MEMBER, exists=False), ["pull", "push"]),
        (person(), facts(Role.ADMIN), ["pull", "push", "delete"]),
        (person(admin=True), facts(None), ["pull", "push", "delete"]),
    ],
)
def test_actions_by_role(principal: Principal, given: AccessFacts, expected: list[str]) -> None:
    assert allowed_actions(principal, given, "app", ALL, NOW) == expected


def test_only_requested_actions_are_granted() -> None:
    assert allowed_actions(person(), facts(Role.ADMIN), "app", ("pull",), NOW) == ["pull"]
    assert allowed_actions(person(), facts(Role.ADMIN), "app", ("push", "frobnicate"), NOW) == ["push"]


def test_star_means_everything_the_caller_may() -> None:
    assert allowed_actions(person(), facts(Role.ADMIN), "app", ("*",), NOW) == ["*"]
    assert allowed_actions(person(), facts(Role.MEMBER), "app", ("*",), NOW) == ["pull", "push"]
    assert allowed_actions(ANONYMOUS, facts(None), "app", ("*",), NOW) == []


def test_no_push_to_a_new_invalid_name() -> None:
    assert allowed_actions(person(), facts(Role.MEMBER, exists=False), "Bad--Name", ALL, NOW) == ["pull"]


def test_paths_need_a_namespace() -> None:
    assert split_path("acme/a/b") == ("acme", "a/b")
    assert split_path("library") is None
    assert split_path("/x") is None


@pytest.mark.parametrize(
    ("event", "manifest"),
    [
        (RegistryEvent("1", "push", "a/b", media_type="application/octet-stream"), False),
        (RegistryEvent("1", "pull", "a/b", media_type="application/vnd.oci.image.manifest.v1+json"), True),
        (RegistryEvent("1", "pull", "a/b", url="http://r/v2/a/b/manifests/sha256:x"), True),
        (RegistryEvent("1", "delete", "a/b", digest="sha256:x"), True),
        (RegistryEvent("1", "mount", "a/b", media_type="application/octet-stream"), False),
    ],
)
def test_only_manifest_events_count(event: RegistryEvent, manifest: bool) -> None:
    assert event.is_manifest is manifest
