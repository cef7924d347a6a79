"""A robot account with skopeo against the real Distribution registry and a real ``repohub serve``,
on each database: push where a push pattern matches and nowhere else, pull on its pull pattern,
everything refused after ``repohub robots disable``, after ``rotate`` (the old secret; the new one
works) and after its expiry; its secret as an API token in v1, ABEJA and SWR lists only what its
patterns match (and public repositories), a private unmatched repository answering as a missing one.

The CLI is another process than the server: the server forgets a disabled or rotated robot within
its verified memory's few seconds (``domain.verified``), so the refusals are awaited, not assumed.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from repohub.config import Settings
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import denied, eventually, ok
from tests.server import cli, free_port, serve
from tests.world import World

PASSWORD = "pw-" + "x" * 8
ROBOT = "robot$acme+ci"
_ITEMS = {"v1": "results", "abeja": "registry_repositories"}  # where a list page holds its items


def _lists(url: str, secret: str, org_id: int) -> dict[str, list[str]]:
    """What the secret, as an API token, lists of acme in each dialect (status codes where refused)."""
    answers = {
        "v1": httpx.get(f"{url}/v1/repositories/acme/", headers={"Authorization": f"Token {secret}"}),
        "swr": httpx.get(f"{url}/v2/manage/repos?namespace=acme", headers={"X-Auth-Token": secret}),
        "abeja": httpx.get(
            f"{url}/organizations/{org_id}/registry/repositories",
            headers={"Authorization": f"Bearer {secret}"},
        ),
    }
    names: dict[str, list[str]] = {}
    for dialect, answer in answers.items():
        if answer.status_code != 200:
            names[dialect] = [str(answer.status_code)]
            continue
        body = answer.json()
        items = (
            body["results"]
            if dialect == "v1"
            else body
            if dialect == "swr"
            else body["registry_repositories"]
        )
        names[dialect] = sorted(item["repo_name" if dialect == "v1" else "name"] for item in items)
    return names


def _refused(url: str, secret: str, org_id: int) -> bool:
    return set(map(tuple, _lists(url, secret, org_id).values())) == {("401",)}


async def test_a_robot_pushes_and_pulls_its_patterns_only_until_disabled_rotated_or_expired(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    boss_token = await accounts.user("boss", password=PASSWORD)
    org_id = await accounts.org("acme", owner="boss")
    _scenario(settings, boss_token, org_id, tmp_path)


def _scenario(settings: Settings, boss_token: str, org_id: int, tmp_path: Path) -> None:
    registry_port, hub_port = free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    env = {"REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}", "REPOHUB_PUBLIC_URL": hub_url}
    config = tmp_path / "registry.yml"
    fragment = cli(settings, "registry", "config", extra_env=env)
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    image = write_image(tmp_path / "one", "robot image\n")
    skopeo = Skopeo(tmp_path)
    boss = ("--dest-creds", f"boss:{boss_token}")
    created = json.loads(
        cli(
            settings,
            *("robots", "create", "acme", "ci", "--access", "pull:base/*", "--access", "push:ci/*", "--json"),
        )
    )
    assert created["name"] == ROBOT
    secret = created["secret"]

    with running_registry(config, registry_port) as registry, serve(settings, extra_env=env, port=hub_port):
        host = registry.host
        for path in ("base/app", "other"):  # private, pushed by a member
            ok(skopeo.push(image.layout, f"{host}/acme/{path}:v1", *boss))
        made = httpx.post(
            f"{hub_url}/v1/repositories/acme/",
            json={"repo_name": "pub", "is_public": True},
            headers={"Authorization": f"Token {boss_token}"},
        )
        assert made.status_code == 201, made.text

        robot = ("--dest-creds", f"{ROBOT}:{secret}")
        pulls = ("--src-creds", f"{ROBOT}:{secret}")
        ok(skopeo.push(image.layout, f"{host}/acme/ci/app:v1", *robot))  # its push pattern: a new name
        denied(skopeo.push(image.layout, f"{host}/acme/other:robot", *robot))
        denied(skopeo.push(image.layout, f"{host}/acme/base/app:robot", *robot))  # pull only there
        denied(skopeo.push(image.layout, f"{host}/boss/app:robot", *robot))  # another namespace
        ok(skopeo.pull(f"{host}/acme/base/app:v1", tmp_path / "pulled", *pulls))
        ok(skopeo.inspect(f"{host}/acme/ci/app:v1", "--creds", f"{ROBOT}:{secret}"))  # push includes pull
        denied(skopeo.inspect(f"{host}/acme/other:v1", "--creds", f"{ROBOT}:{secret}"))

        # The push reaches the catalogue by the registry's event; then the lists agree.
        expected = ["base/app", "ci/app", "pub"]
        lists = eventually(
            lambda: (found := _lists(hub_url, secret, org_id))["v1"] == expected and found, "ci/app listed"
        )
        assert lists == {"v1": expected, "swr": expected, "abeja": expected}
        for path, headers in (
            ("/v1/repositories/acme/{}", {"Authorization": f"Token {secret}"}),
            ("/v2/manage/namespaces/acme/repos/{}", {"X-Auth-Token": secret}),
        ):
            hidden = httpx.get(hub_url + path.format("other"), headers=headers)
            missing = httpx.get(hub_url + path.format("nothing"), headers=headers)
            assert hidden.status_code == missing.status_code == 404
            assert hidden.text.replace("other", "nothing") == missing.text

        _disable_and_rotate(settings, skopeo, host, hub_url, org_id, secret, tmp_path)
        _expiry(settings, skopeo, host, hub_url, org_id)


def _disable_and_rotate(
    settings: Settings, skopeo: Skopeo, host: str, url: str, org_id: int, secret: str, tmp_path: Path
) -> None:
    creds = ("--creds", f"{ROBOT}:{secret}")
    image = write_image(tmp_path / "two", "second robot image\n")
    cli(settings, "robots", "disable", "acme", "ci")
    eventually(lambda: _refused(url, secret, org_id), "the disabled robot refused by the server")
    denied(skopeo.inspect(f"{host}/acme/base/app:v1", *creds))
    denied(skopeo.push(image.layout, f"{host}/acme/ci/app:v2", "--dest-creds", creds[1]))

    cli(settings, "robots", "enable", "acme", "ci")
    eventually(lambda: not _refused(url, secret, org_id), "the enabled robot accepted again")
    rotated = json.loads(cli(settings, "robots", "rotate", "acme", "ci", "--json"))["secret"]
    eventually(lambda: _refused(url, secret, org_id), "the old secret refused")
    denied(skopeo.inspect(f"{host}/acme/base/app:v1", *creds))
    new = ("--dest-creds", f"{ROBOT}:{rotated}")
    ok(skopeo.push(image.layout, f"{host}/acme/ci/app:v2", *new))
    ok(skopeo.inspect(f"{host}/acme/base/app:v1", "--creds", new[1]))


def _expiry(settings: Settings, skopeo: Skopeo, host: str, url: str, org_id: int) -> None:
    args = ("robots", "create", "acme", "brief", "--access", "pull:*", "--expires-in", "20s", "--json")
    made = json.loads(cli(settings, *args))
    creds = ("--creds", f"robot$acme+brief:{made['secret']}")
    ok(skopeo.inspect(f"{host}/acme/base/app:v1", *creds))
    assert _lists(url, made["secret"], org_id)["v1"] == ["base/app", "ci/app", "other", "pub"]
    left = (datetime.fromisoformat(made["expires_at"]) - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, left) + 0.5)  # nothing runs at the expiry: the next check compares the time
    denied(skopeo.inspect(f"{host}/acme/base/app:v1", *creds))
    assert _refused(url, made["secret"], org_id)
