"""What a robot account is made of: its name, its patterns, its lifetime, its secret."""

from __future__ import annotations

from datetime import timedelta
from fnmatch import fnmatchcase

import pytest

from repohub.auth.secrets import (
    ROBOT_SECRET_PREFIX,
    TOKEN_PREFIX,
    is_robot_secret,
    new_robot_secret,
    new_token,
)
from repohub.domain.entities import Robot
from repohub.domain.errors import InvalidInput
from repohub.domain.robots import glob_to_like, parse_access, parse_lifetime, robot_name, validate_pattern


def test_a_robot_logs_in_with_harbors_name() -> None:
    robot = Robot(id=1, namespace_id=2, namespace="acme", name="ci", pull=("app",), push=())
    assert robot.username == "robot$acme+ci"


@pytest.mark.parametrize("name", ["ci", "build-bot", "a.b_c9", "x" * 64])
def test_robot_names_follow_the_namespace_rule(name: str) -> None:
    assert robot_name(name) == name


@pytest.mark.parametrize("name", ["", "CI", "a+b", "a$b", "-ci", "ci-", "x" * 65, "a/b", "ci\x00"])
def test_other_robot_names_are_refused_naming_the_field(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        robot_name(name)
    assert refused.value.field == "name" and "robot name" in refused.value.message


@pytest.mark.parametrize("text", ["pull:app", "push:team/*", "pull:*", "push:a?c", "pull:x.y_z-1/w"])
def test_access_is_an_action_and_a_pattern(text: str) -> None:
    action, _, pattern = text.partition(":")
    assert parse_access(text) == (action, pattern)


@pytest.mark.parametrize(
    "text",
    [
        "app",  # no action
        "delete:app",  # not an action a robot may have
        "pull:",  # empty pattern
        "pull:App",  # uppercase never matches a repository name
        "pull:a[bc]",  # fnmatch's sets are not offered (LIKE has none)
        "pull:a%b",
        "pull:a\\b",
        "pull:a b",
        "push:" + "a" * 256,
        "PULL:app",
    ],
)
def test_bad_access_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_access(text)
    assert refused.value.field == "access"


def test_a_pattern_may_be_as_long_as_its_column() -> None:
    assert validate_pattern("a" * 255) == "a" * 255


@pytest.mark.parametrize(
    ("text", "lifetime"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("3600s", timedelta(hours=1)),
        (" 7D ", timedelta(days=7)),
        ("never", None),
        ("NEVER", None),
    ],
)
def test_lifetimes(text: str, lifetime: timedelta | None) -> None:
    assert parse_lifetime(text) == lifetime


@pytest.mark.parametrize(
    "text", ["", "0d", "90", "d", "-1d", "1y", "1.5d", "36501d", "9" * 10 + "d", "forever"]
)
def test_bad_lifetimes_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_lifetime(text)
    assert refused.value.field == "expires_in"


def test_a_robot_secret_is_told_from_an_api_token_by_its_prefix() -> None:
    secrets = {new_robot_secret() for _ in range(100)}
    assert len(secrets) == 100  # random
    assert all(secret.startswith(ROBOT_SECRET_PREFIX) and is_robot_secret(secret) for secret in secrets)
    assert all(len(secret) >= len(ROBOT_SECRET_PREFIX) + 43 for secret in secrets)  # 32 bytes, base64
    assert not is_robot_secret(new_token()) and new_token().startswith(TOKEN_PREFIX)


@pytest.mark.parametrize(
    ("glob", "like"),
    [
        ("app", "app"),
        ("team/*", "team/%"),
        ("a?c", "a_c"),
        ("my_app", "my\\_app"),  # "_" is LIKE's one-character wildcard: escaped
        ("100%", "100\\%"),
        ("a\\b", "a\\\\b"),
        ("*_*", "%\\_%"),
    ],
)
def test_globs_as_like_patterns(glob: str, like: str) -> None:
    assert glob_to_like(glob) == like


def test_star_crosses_slashes_as_fnmatch_does() -> None:
    # The policy matches with fnmatchcase; LIKE's % crosses "/" too (tests/store checks both agree).
    assert fnmatchcase("team/a/b", "team/*") and glob_to_like("team/*") == "team/%"
