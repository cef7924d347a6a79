"""Per-tag pull counts from the real registry's events, and a kept tag surviving a delete of another.

The Distribution registry, a real ``repohub serve`` and skopeo (as ``test_registry.py``). Two tags on
one digest; skopeo pulls one by tag (``copy`` and ``inspect``: one manifest GET each) and the digest
once (``inspect --raw`` of ``@digest``: a GET without a tag); then the other tag is deleted through
SWR, which makes repohub delete the digest in the registry and put the manifest back under the kept
tag. The registry's events for that (a delete and a push, by ``@repohub``) must leave the kept tag's
pull count and push time as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import PASSWORD, Hub, eventually, ok
from tests.server import cli, free_port, serve
from tests.world import World


def v1_tags(hub: Hub) -> dict[str, dict[str, Any]]:
    response = hub.v1("GET", "/repositories/acme/hello/tags")
    assert response.status_code == 200, response.text
    return {item["tag"]: item for item in response.json()}


def downloads(hub: Hub) -> dict[str, int]:
    return {name: item["download"] for name, item in v1_tags(hub).items()}


async def test_tag_pulls_counted_and_kept_through_a_delete_of_a_tag_on_the_same_digest(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    tokens = {
        "alice": await accounts.user("alice", password=PASSWORD),  # member: pushes
        "bob": await accounts.user("bob", password=PASSWORD),  # viewer: pulls
        "carol": await accounts.user("carol", password=PASSWORD),  # admin: deletes
    }
    await accounts.org("acme", owner="carol")
    await accounts.member("acme", "alice", Role.MEMBER)
    await accounts.member("acme", "bob", Role.VIEWER)

    registry_port, hub_port = free_port(), free_port()
    env = {
        "REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
        "REPOHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
    }
    config = tmp_path / "registry.yml"
    fragment = cli(settings, "registry", "config", extra_env=env)
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    image = write_image(tmp_path / "image", "pulled image\n")
    skopeo = Skopeo(tmp_path)
    alice = ("--dest-creds", f"alice:{tokens['alice']}")
    bob = ("--creds", f"bob:{PASSWORD}")
    with (
        running_registry(config, registry_port) as registry,
        serve(settings, extra_env=env, port=hub_port) as server,
    ):
        hub = Hub(server.url, tokens)
        host = registry.host
        ok(skopeo.push(image.layout, f"{host}/acme/hello:keep", *alice))
        ok(skopeo.push(image.layout, f"{host}/acme/hello:gone", *alice))
        eventually(lambda: set(v1_tags(hub)) == {"keep", "gone"}, "both tags in v1")
        pushed = v1_tags(hub)["keep"]
        assert (pushed["download"], pushed["pulled_at"]) == (0, None)

        # By tag, twice: skopeo copy and skopeo inspect each GET the manifest once, by the tag.
        ok(skopeo.pull(f"{host}/acme/hello:keep", tmp_path / "pulled", "--src-creds", f"bob:{PASSWORD}"))
        ok(skopeo.inspect(f"{host}/acme/hello:keep", *bob))
        eventually(lambda: downloads(hub) == {"keep": 2, "gone": 0}, "two pulls of keep only")
        # By digest: the event has no tag, so it counts for both tags on the digest.
        ok(
            skopeo.run(
                "inspect", "--tls-verify=false", "--raw", *bob, f"docker://{host}/acme/hello@{image.digest}"
            )
        )
        eventually(lambda: downloads(hub) == {"keep": 3, "gone": 1}, "the digest's pull on both tags")
        assert hub.v1("GET", "/repositories/acme/hello").json()["download"] == 3

        assert hub.swr("DELETE", "/namespaces/acme/repos/hello/tags/gone").status_code == 204
        ok(skopeo.inspect(f"{host}/acme/hello:keep", *bob))  # kept in the registry; and a 4th pull
        assert skopeo.inspect(f"{host}/acme/hello:gone", *bob).returncode != 0
        # The registry delivers an endpoint's events in order: once this last pull is counted, its
        # delete and put-back events (by @repohub) have been applied before it.
        eventually(lambda: downloads(hub) == {"keep": 4}, "the pull after the delete")
        kept = v1_tags(hub)["keep"]
        assert (kept["created_at"], kept["updated_at"]) == (pushed["created_at"], pushed["updated_at"])
        assert kept["digest"] == image.digest and kept["pulled_at"] is not None
        assert hub.swr_tags("hello") == {"keep": (image.digest, image.size)}
