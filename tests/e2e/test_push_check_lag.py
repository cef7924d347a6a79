"""The push check, retag and repository deletes ask the registry about a protected tag the catalogue
has not heard of yet.

The catalogue learns of a push from the registry's notification, which the registry sends after it
answered the push: an overwrite right behind a first push would otherwise find no tag and pass (the
"not atomic" trap). Here the registry sends no notifications at all, so only the registry itself can
tell that ``acme/app:v1`` exists: the check must refuse its overwrite, and still pass a first push.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from repohub.config import Settings
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.immutable_rules import add_rule, rule
from tests.server import cli, free_port, serve
from tests.world import World

PASSWORD = "pw-" + "l" * 8


async def test_a_protected_tag_the_catalogue_has_not_heard_of_is_refused_from_the_registrys_answer(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    token_of_carol = await accounts.user("carol", password=PASSWORD)
    await accounts.org("acme", owner="carol", members={})
    await add_rule(accounts.app, "acme", rule("v*"))
    registry_port, hub_port = free_port(), free_port()
    env = {
        "REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
        "REPOHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
    }
    fragment = cli(settings, "registry", "config", extra_env=env)
    silent = re.sub(r"notifications:\n(?:[ -].*\n?)*", "", fragment)  # no events: the catalogue never hears
    assert "notifications" not in silent and "auth:" in silent
    config = tmp_path / "registry.yml"
    config.write_text(registry_config(silent, tmp_path / "storage", registry_port))
    image = write_image(tmp_path / "one", "one image\n")
    with (
        running_registry(config, registry_port) as registry,
        serve(settings, extra_env=env, port=hub_port) as server,
    ):
        pushed = Skopeo(tmp_path).push(
            image.layout, f"{registry.host}/acme/app:v1", "--dest-creds", f"carol:{PASSWORD}"
        )
        assert pushed.returncode == 0, pushed.stderr
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
            granted = await http.get(
                "/registry/token?service=repohub-registry&scope=repository:acme/app:pull,push",
                auth=("carol", PASSWORD),
            )
            token = granted.json()["token"]

            async def check(tag: str) -> httpx.Response:
                return await http.get(
                    "/registry/push-check",
                    headers={
                        "X-Original-Method": "PUT",
                        "X-Original-URI": f"/v2/acme/app/manifests/{tag}",
                        "Authorization": f"Bearer {token}",
                    },
                )

            overwrite, first, unmatched = await check("v1"), await check("v2"), await check("latest")
            # The repository known to the catalogue, with one tag the registry lacks: its v1 is only in
            # the registry. Deleting the repository, or retagging onto v1, is refused from the
            # registry's answer too (without it the retag would reach the registry and fail 404).
            swr = {"X-Auth-Token": token_of_carol}
            made = await http.post(
                "/v1/repositories/acme/",
                json={"repo_name": "app"},
                headers={"Authorization": f"Token {token_of_carol}"},
            )
            assert made.status_code == 201, made.text
            await accounts.tag("acme/app", "src")
            retag = await http.post(
                "/v2/manage/namespaces/acme/repos/app/tags",
                json={"source_tag": "src", "destination_tag": "v1", "override": True},
                headers=swr,
            )
            removed = await http.delete("/v2/manage/namespaces/acme/repos/app", headers=swr)
    assert overwrite.status_code == 403, overwrite.text
    assert "immutable" in overwrite.headers["x-repohub-denied"]
    assert first.status_code == 204  # v2 is in neither: a first push
    assert retag.status_code == 409 and "immutable" in retag.text, retag.text
    assert removed.status_code == 409 and "immutable" in removed.text, removed.text
    assert unmatched.status_code == 204  # no rule selects latest: not even the registry is asked
    async with accounts.service() as service:
        namespace = await service.store.namespaces.by_name("acme")
        assert namespace is not None
        assert await service.store.immutables.tags_named(namespace.id, "app", "v1") == []  # never heard
