"""Retention against the real Distribution registry, skopeo, a real ``repohub serve`` and the CLI.

One scenario per database; steps build on each other inside one test (the registry keeps what was
pushed). Policies are created and histories read through the retention use cases (``Service.
retentions``) in this process, on the same database as the server: the SWR dialect's retention
calls are tested with the SDK in ``tests/compat``.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.e2e.oci import Image, write_image
from tests.e2e.registry import Registry, Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import EVENTS_TYPE, Hub, eventually, ok
from tests.server import REPOHUB, cli, free_port, serve, settings_env
from tests.world import World

PASSWORD = "pw-" + "r" * 8
KEEP_TWO = {
    "algorithm": "or",
    "rules": [
        {
            "template": "tag_rule",
            "params": {"num": "2"},
            "tag_selectors": [{"kind": "regexp", "pattern": "^release-"}],
        }
    ],
}
# Pushed in this order (so v5 is the newest); v5 shares v1's image, the release tags are exceptions.
SEVEN = [
    ("v1", "A"),
    ("v2", "B"),
    ("release-1", "C"),
    ("v3", "D"),
    ("release-2", "E"),
    ("v4", "F"),
    ("v5", "A"),
]
KEPT = {"release-1", "release-2", "v4", "v5"}


def _retention(settings: Settings, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPOHUB), "retention", "run", "--json", *args],
        env={**settings_env(settings), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _deleted(report: dict[str, Any], path: str) -> set[str]:
    return {tag["tag"] for item in report["repositories"] if item["path"] == path for tag in item["deleted"]}


def _policy(hub: Hub, repo: str, body: dict[str, Any]) -> int:
    """The namespace admin (carol) creates the policy through SWR's own call."""
    made = httpx.post(
        f"{hub.url}/v2/manage/namespaces/acme/repos/{repo}/retentions",
        json=body,
        headers={"X-Auth-Token": hub.tokens["carol"]},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _history(hub: Hub, repo: str) -> set[tuple[str, str]]:
    """SWR's retention histories of the repository, as (tag, rule type) pairs."""
    listed = hub.swr("GET", f"/namespaces/acme/repos/{repo}/retentions/histories")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == len(body["retention_log"])
    assert {entry["namespace"] for entry in body["retention_log"]} <= {"acme"}
    return {(entry["tag"], entry["rule_type"]) for entry in body["retention_log"]}


async def test_retention_runs_delete_in_the_registry_and_the_catalogue(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    tokens = {
        "alice": await accounts.user("alice", password=PASSWORD),
        "carol": await accounts.user("carol", password=PASSWORD),
    }
    org_id = await accounts.org("acme", owner="carol")
    await accounts.member("acme", "alice", Role.MEMBER)
    registry_port, hub_port = free_port(), free_port()
    env = {
        "REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
        "REPOHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
    }
    config = tmp_path / "registry.yml"
    config.write_text(
        registry_config(
            cli(settings, "registry", "config", extra_env=env), tmp_path / "storage", registry_port
        )
    )
    images = {name: write_image(tmp_path / name, f"image {name}\n") for name in "ABCDEF"}
    skopeo = Skopeo(tmp_path)
    alice = ("--dest-creds", f"alice:{tokens['alice']}")
    with (
        running_registry(config, registry_port) as registry,
        serve(settings, extra_env=env, port=hub_port) as server,
    ):
        hub = Hub(server.url, tokens)
        for tag, image in SEVEN:
            ok(skopeo.push(images[image].layout, f"{registry.host}/acme/app:{tag}", *alice))
        everything = {tag: images[image].digest for tag, image in SEVEN}
        eventually(lambda: hub.v1_tags("app") == everything, "seven tags in the catalogue")
        retention_id = _policy(hub, "app", KEEP_TWO)

        await _dry_run_changes_nothing(hub, skopeo, registry, settings, env, everything)
        await _keep_two(hub, skopeo, registry, settings, env, accounts, org_id, images, retention_id)
        await _date_rule(hub, skopeo, registry, settings, env, accounts, images, alice)
        await _registry_down_then_back(hub, skopeo, registry, settings, env, accounts, images, alice)


def _in_registry(skopeo: Skopeo, registry: Registry, repo: str, tag: str) -> str | None:
    """The digest skopeo sees for ``acme/repo:tag`` in the registry, None if it is not there."""
    done = skopeo.inspect(f"{registry.host}/acme/{repo}:{tag}", "--creds", f"carol:{PASSWORD}")
    if done.returncode != 0:
        assert "manifest unknown" in done.stderr or "not found" in done.stderr.lower(), done.stderr
        return None
    return str(json.loads(done.stdout)["Digest"])


async def _dry_run_changes_nothing(
    hub: Hub,
    skopeo: Skopeo,
    registry: Registry,
    settings: Settings,
    env: dict[str, str],
    everything: dict[str, str],
) -> None:
    report = _report(_retention(settings, env, "--dry-run"))
    assert report["dry_run"] is True and report["failed"] == 0
    assert _deleted(report, "acme/app") == {"v1", "v2", "v3"}
    assert hub.v1_tags("app") == everything
    assert all(_in_registry(skopeo, registry, "app", tag) == digest for tag, digest in everything.items())


async def _keep_two(
    hub: Hub,
    skopeo: Skopeo,
    registry: Registry,
    settings: Settings,
    env: dict[str, str],
    accounts: World,
    org_id: int,
    images: dict[str, Image],
    retention_id: int,
) -> None:
    report = _report(_retention(settings, env))
    assert report["failed"] == 0 and _deleted(report, "acme/app") == {"v1", "v2", "v3"}
    assert {tag["rule"] for item in report["repositories"] for tag in item["deleted"]} == {"tag_rule"}
    kept = {tag: images[image].digest for tag, image in SEVEN if tag in KEPT}
    # The registry's delete events (v1's digest took v5 with it, then repohub put v5 back) settle
    # after the run; the run itself already wrote the catalogue.
    eventually(lambda: hub.v1_tags("app") == kept, "the kept tags in v1")
    assert set(hub.swr_tags("app")) == KEPT
    assert {tag: digest for tag, (digest, _size) in hub.abeja_tags(org_id, "app").items()} == kept
    assert hub.swr("GET", "/namespaces/acme/repos/app").json()["num_images"] == 4
    for tag, _image in SEVEN:
        expected = kept.get(tag)
        assert _in_registry(skopeo, registry, "app", tag) == expected, tag
    assert _in_registry(skopeo, registry, "app", "v5") == images["A"].digest  # v1's digest survives for v5
    assert _history(hub, "app") == {(tag, "tag_rule") for tag in ("v1", "v2", "v3")}
    async with accounts.service("carol") as service:
        entries = (
            await service.retentions.history(await service.catalog.repository("acme", "app"), 0, 10)
        ).items
    assert {entry.retention_id for entry in entries} == {retention_id}
    again = _report(_retention(settings, env))
    assert _deleted(again, "acme/app") == set()


def _replay_old_pushes(hub: Hub, settings: Settings, repo: str, tags: dict[str, str], days: int) -> None:
    """Registry-style push events for ``tags`` timestamped ``days`` ago, as a registry whose delivery
    was delayed would send them: the tags' last push moves back to then."""
    secret = Path(settings.data_dir, "registry-events.secret").read_text().strip()
    moment = (datetime.now(UTC) - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    events = [
        {
            "id": str(uuid.uuid4()),
            "timestamp": moment,
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "repository": f"acme/{repo}",
                "tag": tag,
                "digest": digest,
            },
            "request": {"method": "PUT"},
            "actor": {"name": "alice"},
        }
        for tag, digest in tags.items()
    ]
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": EVENTS_TYPE}
    answer = httpx.post(f"{hub.url}/registry/events", json={"events": events}, headers=headers, timeout=30)
    assert answer.status_code == 200 and answer.json()["applied"] == len(events), answer.text


async def _date_rule(
    hub: Hub,
    skopeo: Skopeo,
    registry: Registry,
    settings: Settings,
    env: dict[str, str],
    accounts: World,
    images: dict[str, Image],
    alice: tuple[str, str],
) -> None:
    pushed = {"old-1": "B", "old-2": "C", "fresh": "D", "recent": "B"}
    for tag, image in pushed.items():
        ok(skopeo.push(images[image].layout, f"{registry.host}/acme/dated:{tag}", *alice))
    eventually(lambda: set(hub.v1_tags("dated")) == set(pushed), "the dated repository's tags")
    _replay_old_pushes(
        hub, settings, "dated", {"old-1": images["B"].digest, "old-2": images["C"].digest}, days=45
    )
    _policy(hub, "dated", {"algorithm": "or", "rules": [{"template": "date_rule", "params": {"days": 30}}]})

    report = _report(_retention(settings, env, "--namespace", "acme", "--repository", "dated"))

    assert [item["path"] for item in report["repositories"]] == ["acme/dated"] and report["policies"] == 1
    assert _deleted(report, "acme/dated") == {"old-1", "old-2"}
    remaining = {"fresh": images["D"].digest, "recent": images["B"].digest}
    eventually(lambda: hub.v1_tags("dated") == remaining, "the tags pushed within 30 days")
    assert _in_registry(skopeo, registry, "dated", "old-1") is None
    assert _in_registry(skopeo, registry, "dated", "old-2") is None
    assert _in_registry(skopeo, registry, "dated", "recent") == images["B"].digest  # old-1's digest, kept
    assert _history(hub, "dated") == {("old-1", "date_rule"), ("old-2", "date_rule")}


async def _registry_down_then_back(
    hub: Hub,
    skopeo: Skopeo,
    registry: Registry,
    settings: Settings,
    env: dict[str, str],
    accounts: World,
    images: dict[str, Image],
    alice: tuple[str, str],
) -> None:
    pushed = {"d1": "A", "d2": "B", "d3": "C"}
    for tag, image in pushed.items():
        ok(skopeo.push(images[image].layout, f"{registry.host}/acme/down:{tag}", *alice))
    everything = {tag: images[image].digest for tag, image in pushed.items()}
    eventually(lambda: hub.v1_tags("down") == everything, "the third repository's tags")
    _policy(hub, "down", {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 1}}]})
    registry.stop()

    failed = _retention(settings, env, "--namespace", "acme")

    assert failed.returncode == 1, failed.stderr
    assert "error: acme/down:" in failed.stderr and "registry" in failed.stderr
    report = json.loads(failed.stdout)
    [down] = [item for item in report["repositories"] if item["path"] == "acme/down"]
    assert down["error"] and down["deleted"] == []
    assert hub.v1_tags("down") == everything  # nothing half-deleted in the catalogue
    assert _history(hub, "down") == set()

    registry.start()
    assert all(_in_registry(skopeo, registry, "down", tag) == digest for tag, digest in everything.items())
    finished = _report(_retention(settings, env, "--namespace", "acme"))
    assert finished["failed"] == 0 and _deleted(finished, "acme/down") == {"d1", "d2"}
    eventually(lambda: hub.v1_tags("down") == {"d3": images["C"].digest}, "the newest tag alone")
    assert _in_registry(skopeo, registry, "down", "d1") is None
    assert _in_registry(skopeo, registry, "down", "d3") == images["C"].digest
