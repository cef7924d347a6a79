"""Immutable tags against the real Distribution registry, a real ``repohub serve`` and skopeo.

The rule ``v*`` on acme: deletes of a protected tag (or of its repository) through every dialect,
a retag onto it and a delete of another tag on its image are refused (409) and the registry still
serves it; a push that overwrites it in the
registry directly (skopeo straight to the registry, no proxy: what repohub cannot prevent) leaves the
catalogue's digest, writes an audit entry naming the pusher, and ``registry sync`` reports the
disagreement without changing it; deleting the rule lifts all of it. One scenario per database.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import Hub, eventually, ok
from tests.immutable_rules import add_rule, delete_rule, rule
from tests.server import cli, free_port, serve
from tests.world import World

PASSWORD = "pw-" + "i" * 8


async def test_protected_tags_survive_every_refused_change_and_an_overwrite_is_reported(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    tokens = {
        "alice": await accounts.user("alice", password=PASSWORD),  # member of acme: pushes
        "carol": await accounts.user("carol", password=PASSWORD),  # admin of acme: deletes
    }
    org_id = await accounts.org("acme", owner="carol", members={"alice": Role.MEMBER})
    registry_port, hub_port = free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    env = {"REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}", "REPOHUB_PUBLIC_URL": hub_url}
    config = tmp_path / "registry.yml"
    fragment = cli(settings, "registry", "config", extra_env=env)
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    one, two, three = (write_image(tmp_path / name, f"{name} image\n") for name in ("one", "two", "three"))
    skopeo = Skopeo(tmp_path)
    alice = ("--dest-creds", f"alice:{PASSWORD}")
    carol = ("--creds", f"carol:{PASSWORD}")

    with (
        running_registry(config, registry_port) as registry,
        serve(settings, extra_env=env, port=hub_port) as server,
    ):
        hub = Hub(server.url, tokens)
        host = registry.host

        def served(tag: str) -> str | None:
            """The digest the registry serves under acme/app:``tag`` (None: none)."""
            done = skopeo.inspect(f"{host}/acme/app:{tag}", *carol)
            return str(json.loads(done.stdout)["Digest"]) if done.returncode == 0 else None

        ok(skopeo.push(one.layout, f"{host}/acme/app:v1", *alice))
        ok(skopeo.push(two.layout, f"{host}/acme/app:latest", *alice))
        eventually(lambda: hub.v1_tags("app") == {"v1": one.digest, "latest": two.digest}, "v1 and latest")
        rule_id = await add_rule(accounts.app, "acme", rule("v*"))

        _every_dialect_refuses(hub, org_id, rule_id)
        assert served("v1") == one.digest and served("latest") == two.digest

        # A tag on v1's image: the registry can only delete the image, so v1 with it: refused. Pushed
        # onto another image first, it may go, and v1 stays served throughout.
        ok(skopeo.push(one.layout, f"{host}/acme/app:edge", *alice))
        eventually(lambda: hub.v1_tags("app").get("edge") == one.digest, "edge on v1's image")
        refused = hub.swr("DELETE", "/namespaces/acme/repos/app/tags/edge")
        assert refused.status_code == 409, refused.text
        assert f"tag 'edge' shares its image with immutable tag 'v1' (rule {rule_id})" in refused.text
        assert served("edge") == served("v1") == one.digest
        ok(skopeo.push(two.layout, f"{host}/acme/app:edge", *alice))
        eventually(lambda: hub.v1_tags("app").get("edge") == two.digest, "edge on latest's image")
        assert hub.swr("DELETE", "/namespaces/acme/repos/app/tags/edge").status_code == 204
        assert served("edge") is None and served("v1") == one.digest and served("latest") == two.digest
        assert hub.v1_tags("app") == {"v1": one.digest, "latest": two.digest}

        # Behind the proxy: the registry takes the overwrite; the catalogue keeps what was released.
        ok(skopeo.push(three.layout, f"{host}/acme/app:v1", *alice))
        assert served("v1") == three.digest
        entries = eventually(lambda: _audited(settings, "tag.immutable_overwritten"), "the audit entry")
        [entry] = entries
        assert entry["actor"] == "alice" and entry["source"] == "registry event"
        assert f"tag=v1 digest={one.digest} new_digest={three.digest} rule={rule_id}" in entry["target"]
        assert hub.v1_tags("app")["v1"] == one.digest

        report = json.loads(cli(settings, "registry", "sync", "--json", extra_env=env))
        assert report["immutable"] == [
            {
                "path": "acme/app",
                "tag": "v1",
                "rule": rule_id,
                "catalogue_digest": one.digest,
                "registry_digest": three.digest,
            }
        ]
        assert report["moved_tags"] == [] and hub.v1_tags("app")["v1"] == one.digest
        text = cli(settings, "registry", "sync", extra_env=env)
        assert f"immutable tag disagrees, left as it is: acme/app:v1 (immutable, rule {rule_id})" in text

        # Lifted: the catalogue follows the registry again, and the tag may go.
        await delete_rule(accounts.app, rule_id)
        assert "moved tag acme/app:v1" in cli(settings, "registry", "sync", extra_env=env)
        assert hub.swr("DELETE", "/namespaces/acme/repos/app/tags/v1").status_code == 204
        assert served("v1") is None
        eventually(lambda: hub.v1_tags("app") == {"latest": two.digest}, "v1 gone")


def _every_dialect_refuses(hub: Hub, org_id: int, rule_id: int) -> None:
    """SWR's tag and repository deletes and retag, v1's and ABEJA's repository deletes: 409 each, in
    each dialect's error body."""
    refusals = [
        hub.swr("DELETE", "/namespaces/acme/repos/app/tags/v1"),
        hub.swr("DELETE", "/namespaces/acme/repos/app"),
        hub.v1("DELETE", "/repositories/acme/app"),
        hub.abeja("DELETE", f"/{org_id}/registry/repositories/{hub.abeja_repo_id(org_id, 'app')}"),
    ]
    retag = {"source_tag": "latest", "destination_tag": "v1", "override": True}
    refusals.append(
        httpx.post(
            f"{hub.url}/v2/manage/namespaces/acme/repos/app/tags",
            json=retag,
            headers={"X-Auth-Token": hub.tokens["alice"]},
            timeout=30,
        )
    )
    assert [answer.status_code for answer in refusals] == [409] * 5, [answer.text for answer in refusals]
    messages = [
        refusals[0].json()["error_msg"],
        refusals[1].json()["error_msg"],
        refusals[2].json()["detail"],
        refusals[3].json()["error_description"],
        refusals[4].json()["error_msg"],
    ]
    assert all("'v1'" in message and f"rule {rule_id}" in message for message in messages), messages
    assert refusals[3].json()["error"] == "conflict" and refusals[2].json()["code"] == "conflict"


def _audited(settings: Settings, action: str) -> list[dict[str, str]]:
    entries = json.loads(cli(settings, "audit", "--json"))
    return [entry for entry in entries if entry["action"] == action]
