"""``repohub robots``: create, list, disable, enable, rotate, delete; the --json shapes, exit codes, the
audit trail, and that the secret is shown once and stored as its digest only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from repohub.auth.secrets import token_digest
from repohub.config import Settings
from repohub.domain.errors import NotAuthenticated
from repohub.domain.service import Service
from repohub.store.tables import RobotRow
from tests.cli.test_cli import ok, run, with_service
from tests.server import settings_env


@pytest.fixture
def env(settings, clean):
    return settings_env(settings)


def _authenticates(settings: Settings, secret: str) -> str | None:
    """The robot the secret names, as every dialect's token path asks it; None if refused."""

    async def go(service: Service) -> str | None:
        try:
            principal = await service.accounts.principal_of_token(secret)
        except NotAuthenticated:
            return None
        assert principal.user is None and principal.robot is not None
        return principal.robot.username

    return with_service(settings, go)


def _lookups(settings: Settings) -> list[str]:
    async def go(service: Service) -> list[str]:
        return list((await service.store.session.execute(select(RobotRow.lookup))).scalars())

    return with_service(settings, go)


def test_create_shows_the_secret_once_and_stores_its_digest(settings, env):
    ok(env, "orgs", "create", "acme")
    before = datetime.now(UTC)
    created = json.loads(
        ok(
            env,
            *("robots", "create", "acme", "ci", "--access", "pull:base/*", "--access", "push:ci/app"),
            *("--expires-in", "90d", "--description", "the build", "--json"),
        )
    )
    assert set(created) == {"name", "secret", "expires_at"} and created["name"] == "robot$acme+ci"
    assert created["secret"].startswith("rbt_")
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert before + timedelta(days=90) <= expires_at <= datetime.now(UTC) + timedelta(days=90)
    assert _lookups(settings) == [token_digest(created["secret"])]  # the digest, never the secret
    assert _authenticates(settings, created["secret"]) == "robot$acme+ci"

    text = ok(env, "robots", "create", "acme", "reader", "--access", "pull:*").splitlines()
    assert text[0] == "name: robot$acme+reader" and text[2] == "expires_at: never"
    assert text[1].startswith("secret: rbt_")

    listed = json.loads(ok(env, "robots", "list", "--json"))
    assert [entry["name"] for entry in listed] == ["robot$acme+ci", "robot$acme+reader"]
    ci = listed[0]
    assert ci["namespace"] == "acme" and ci["robot"] == "ci" and ci["description"] == "the build"
    assert ci["pull"] == ["base/*"] and ci["push"] == ["ci/app"] and ci["state"] == "active"
    assert ci["expires_at"] == created["expires_at"]
    assert created["secret"] not in json.dumps(listed)
    lines = ok(env, "robots", "list", "acme").splitlines()
    assert lines[0].split("\t") == ["name", "access", "state", "expires_at", "created_at", "description"]
    assert lines[1].split("\t")[:3] == ["robot$acme+ci", "pull:base/*,push:ci/app", "active"]
    assert lines[2].split("\t")[-1] == "-"  # no description


def test_disable_enable_rotate_and_delete_each_audited_without_the_secret(settings, env):
    ok(env, "orgs", "create", "acme")
    first = json.loads(ok(env, "robots", "create", "acme", "ci", "--access", "push:app", "--json"))["secret"]

    assert ok(env, "robots", "disable", "acme", "ci").strip() == "disabled robot$acme+ci"
    assert _authenticates(settings, first) is None
    assert json.loads(ok(env, "robots", "list", "acme", "--json"))[0]["state"] == "disabled"
    assert ok(env, "robots", "enable", "acme", "ci").strip() == "enabled robot$acme+ci"
    assert _authenticates(settings, first) == "robot$acme+ci"

    rotated = json.loads(ok(env, "robots", "rotate", "acme", "ci", "--json"))
    assert set(rotated) == {"name", "secret", "expires_at"} and rotated["name"] == "robot$acme+ci"
    assert rotated["secret"] != first and rotated["expires_at"] is None
    assert _authenticates(settings, first) is None  # the old secret is void
    assert _authenticates(settings, rotated["secret"]) == "robot$acme+ci"

    assert ok(env, "robots", "delete", "acme", "ci").strip() == "deleted robot$acme+ci"
    assert _authenticates(settings, rotated["secret"]) is None
    assert json.loads(ok(env, "robots", "list", "--json")) == []

    trail = [entry for entry in json.loads(ok(env, "audit", "--json")) if "robot" in entry["action"]]
    actions = [entry["action"] for entry in trail]
    assert actions == [
        "insert robots",
        "insert robot_access",
        "update robots",  # disabled
        "update robots",  # enabled
        "update robots",  # rotated
        "delete robots",
    ], actions
    assert all(entry["source"] == "cli" for entry in trail)
    assert "name=ci" in trail[0]["target"] and "action=push pattern=app" in trail[1]["target"]
    assert "is_disabled=True" in trail[2]["target"] and "is_disabled=False" in trail[3]["target"]
    shown = json.dumps(trail)
    for secret in (first, rotated["secret"]):
        assert secret not in shown and token_digest(secret) not in shown


FAILING = [  # the rules themselves: tests/unit/test_robots.py; here, that the CLI reports them
    ("robots", "create", "nowhere", "ci", "--access", "pull:app"),  # unknown namespace
    ("robots", "create", "acme", "ci2", "--access", "delete:app"),  # not pull or push
    ("robots", "create", "acme", "ci2", "--access", "pull:app", "--expires-in", "soon"),
    ("robots", "create", "acme", "ci", "--access", "pull:app"),  # exists
    ("robots", "rotate", "acme", "ghost"),
    ("robots", "list", "nowhere"),
]


def test_bad_input_exits_1_with_a_message_and_writes_nothing(settings, env):
    ok(env, "orgs", "create", "acme")
    ok(env, "robots", "create", "acme", "ci", "--access", "pull:app")
    for args in FAILING:  # one loop, not one test each: every CLI start costs a second or two
        done = run(env, *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr, (args, done.stderr)
        assert done.stdout == "", args
    assert [entry["name"] for entry in json.loads(ok(env, "robots", "list", "--json"))] == ["robot$acme+ci"]
    assert run(env, "robots", "create", "acme", "ci3").returncode == 2  # --access is required
