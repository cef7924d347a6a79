"""``repohub retention run`` without a registry: the text report, the scope options, the audit actor."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

from repohub.config import Settings
from tests.server import REPOHUB, settings_env
from tests.world import EPOCH, World

KEEP_ONE = {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 1}}]}


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPOHUB), *args], env=settings_env(settings), capture_output=True, text=True, timeout=120
    )


async def _world(world: World) -> None:
    await world.account("boss")
    await world.org("acme", owner="boss")
    await world.repository("acme/app", by="boss")
    for day in range(3):
        await world.tag("acme/app", f"t{day}", at=EPOCH + timedelta(days=day))
    async with world.service("boss") as service:
        repository = await service.catalog.repository("acme", "app")
        await service.retentions.create(repository, KEEP_ONE)


async def test_retention_run_prints_what_it_would_delete_then_deletes_it(
    settings: Settings, world: World
) -> None:
    await _world(world)

    dry = _run(settings, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "would delete acme/app:t0 (tag_rule)",
        "would delete acme/app:t1 (tag_rule)",
    ]

    done = _run(settings, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["deleted acme/app:t0 (tag_rule)", "deleted acme/app:t1 (tag_rule)"]
    async with world.service("boss") as service:
        assert (await service.catalog.repository("acme", "app")).tag_count == 1

    again = _run(settings, "retention", "run")
    assert again.stdout.strip() == "nothing to delete (1 policies applied)"
    audit = json.loads(_run(settings, "audit", "--json").stdout)
    deletes = [entry for entry in audit if entry["action"] == "delete tags"]
    assert deletes and all(entry["actor"] == "retention" and entry["source"] == "cli" for entry in deletes)


async def test_retention_run_scoped_to_another_namespace_touches_nothing(
    settings: Settings, world: World
) -> None:
    await _world(world)
    done = _run(settings, "retention", "run", "--namespace", "other", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    report.pop("seconds")
    assert report == {
        "dry_run": False,
        "policies": 0,
        "deleted": 0,
        "kept": 0,
        "failed": 0,
        "repositories": [],
    }
    async with world.service("boss") as service:
        assert (await service.catalog.repository("acme", "app")).tag_count == 3


def test_retention_run_refuses_a_repository_without_its_namespace(settings: Settings) -> None:
    done = _run(settings, "retention", "run", "--repository", "app")
    assert done.returncode == 2
    assert "--repository needs --namespace" in done.stderr


async def test_retention_run_reports_the_tags_an_immutable_rule_kept(
    settings: Settings, world: World
) -> None:
    from tests.immutable_rules import add_rule, rule

    await _world(world)
    rule_id = await add_rule(world.app, "acme", rule("t0"))

    dry = _run(settings, "retention", "run", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    [repository] = json.loads(dry.stdout)["repositories"]
    assert [t["tag"] for t in repository["deleted"]] == ["t1"]
    assert repository["kept"] == [
        {
            "tag": "t0",
            "digest": repository["kept"][0]["digest"],
            "rule": "tag_rule",
            "immutable_rule": rule_id,
            "shares": None,
        }
    ]

    done = _run(settings, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "deleted acme/app:t1 (tag_rule)",
        f"kept acme/app:t0 (tag_rule; immutable (rule {rule_id}))",
    ]
    async with world.service("boss") as service:
        assert (await service.catalog.repository("acme", "app")).tag_count == 2
