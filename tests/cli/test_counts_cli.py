"""``repohub counts check [--fix]`` and ``repohub quotas set|show`` in a subprocess, against drift
made by hand in the counts the triggers keep."""

from __future__ import annotations

import json
import subprocess

from fastapi import FastAPI
from sqlalchemy import text

from repohub.config import Settings
from tests.server import REPOHUB, settings_env
from tests.world import World


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPOHUB), *args], env=settings_env(settings), capture_output=True, text=True, timeout=120
    )


async def _sql(app: FastAPI, statement: str) -> None:
    async with app.state.repohub.engine.begin() as connection:
        await connection.execute(text(statement))


async def _world(world: World) -> None:
    await world.account("boss")
    await world.org("acme", owner="boss")
    await world.repository("acme/app", by="boss", public=True)
    await world.repository("acme/lib", by="boss", category="linux")
    await world.tag("acme/app", "v1")
    await world.tag("acme/app", "v2")


async def test_counts_check_finds_nothing_when_the_triggers_kept_the_counts(
    settings: Settings, world: World
) -> None:
    await _world(world)
    done = _run(settings, "counts", "check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "counts match the rows"


async def test_counts_check_reports_hand_made_drift_and_exits_1(
    app: FastAPI, settings: Settings, world: World
) -> None:
    await _world(world)
    await _sql(
        app, "UPDATE namespace_counts SET tags = tags + 5, public_repositories = 7 WHERE repositories = 2"
    )

    done = _run(settings, "counts", "check", "--json")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout) == {
        "drift": [
            {"namespace": "acme", "field": "public_repositories", "kept": 7, "actual": 1},
            {"namespace": "acme", "field": "tags", "kept": 7, "actual": 2},
        ],
        "fixed": False,
    }
    text_report = _run(settings, "counts", "check")
    assert text_report.returncode == 1
    assert text_report.stdout.splitlines()[1] == "acme\tpublic_repositories\t7\t1"


async def test_counts_check_fix_repairs_the_counts_and_a_repository_counter(
    app: FastAPI, settings: Settings, world: World
) -> None:
    await _world(world)
    # A repository's own tag count gone wrong: the trigger carries it into the namespace's counts.
    await _sql(app, "UPDATE repositories SET tag_count = 40 WHERE name = 'lib'")
    await _sql(app, "UPDATE namespace_counts SET size = 0")

    fixed = _run(settings, "counts", "check", "--fix")
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.splitlines()[1:] == ["acme\ttags\t42\t2", "acme\tsize\t0\t200", "fixed 2 count(s)"]

    again = _run(settings, "counts", "check")
    assert again.returncode == 0, again.stdout
    async with world.service("boss") as service:
        assert (await service.catalog.repository("acme", "lib")).tag_count == 0
        assert (await service.store.counts.of_namespace(await _namespace_id(world))).tags == 2
    # The repaired counts go on following changes.
    await world.tag("acme/lib", "v1")
    assert _run(settings, "counts", "check").returncode == 0


async def test_counts_check_finds_and_fixes_the_catalogue_s_and_members_counts(
    app: FastAPI, settings: Settings, world: World
) -> None:
    await _world(world)
    await _sql(app, "UPDATE catalogue_counts SET public_repositories = public_repositories + 3")
    await _sql(app, "UPDATE member_counts SET private_repositories = 9")

    done = _run(settings, "counts", "check", "--json")
    assert done.returncode == 1, done.stderr
    fields = {
        (entry["namespace"].split(" ")[0].split("/")[0], entry["field"])
        for entry in json.loads(done.stdout)["drift"]
    }
    assert fields == {("catalogue", "public_repositories"), ("member", "private_repositories")}
    assert _run(settings, "counts", "check", "--fix").returncode == 0
    assert _run(settings, "counts", "check").returncode == 0


async def _namespace_id(world: World) -> int:
    async with world.service("boss") as service:
        return (await service.catalog.namespace("acme")).id


async def test_quotas_set_show_and_clear(settings: Settings, world: World) -> None:
    await _world(world)
    await world.org("empty", owner="boss")

    done = _run(settings, "quotas", "set", "acme", "--repositories", "5", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"namespace": "acme", "quota_key": "repositories", "quota_limit": 5, "used": 2}
    ]
    shown = json.loads(_run(settings, "quotas", "show", "--json").stdout)
    assert [(entry["namespace"], entry["quota_limit"]) for entry in shown] == [
        ("acme", 5),
        ("boss", -1),
        ("empty", -1),
    ]
    assert _run(settings, "quotas", "set", "acme", "--repositories", "-1").returncode == 0
    assert json.loads(_run(settings, "quotas", "show", "acme", "--json").stdout)[0]["quota_limit"] == -1
    _run(settings, "quotas", "set", "acme", "--repositories", "1")
    assert _run(settings, "quotas", "set", "acme", "--clear").returncode == 0
    assert json.loads(_run(settings, "quotas", "show", "acme", "--json").stdout)[0]["quota_limit"] == -1


async def test_quotas_refuse_unknown_namespaces_and_bad_arguments(settings: Settings, world: World) -> None:
    await _world(world)
    missing = _run(settings, "quotas", "set", "nobody", "--repositories", "1")
    assert missing.returncode == 1
    assert "namespace 'nobody' not found" in missing.stderr
    assert _run(settings, "quotas", "show", "nobody").returncode == 1
    assert _run(settings, "quotas", "set", "acme").returncode == 2
    assert _run(settings, "quotas", "set", "acme", "--repositories", "3", "--clear").returncode == 2
    assert _run(settings, "quotas", "set", "acme", "--repositories", "-2").returncode == 2
