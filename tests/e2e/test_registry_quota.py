"""A repository quota at the real registry, driven by skopeo: in a namespace at its quota a push
that would create a repository is refused at the token server (the token grants no ``push`` of a
name that does not exist yet), a push to an existing repository goes on, and once ``repohub quotas
set`` raises the quota (another process: the token facts' memo shows it within 2 s) the same push
succeeds and its repository enters the catalogue.
"""

from __future__ import annotations

from pathlib import Path

from repohub.config import Settings
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import PASSWORD, denied, eventually, ok
from tests.e2e.test_registry_access import _eventually_repository
from tests.server import cli, free_port, serve
from tests.world import World


async def test_a_push_creating_a_repository_over_the_quota_is_refused_until_the_quota_is_raised(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    await accounts.user("carol", password=PASSWORD)
    await accounts.org("acme", owner="carol")
    registry_port, hub_port = free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    env = {"REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}", "REPOHUB_PUBLIC_URL": hub_url}
    config = tmp_path / "registry.yml"
    fragment = cli(settings, "registry", "config", extra_env=env)
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    one, two = write_image(tmp_path / "one", "first\n"), write_image(tmp_path / "two", "second\n")
    skopeo = Skopeo(tmp_path)
    creds = ("--dest-creds", f"carol:{PASSWORD}")

    with running_registry(config, registry_port) as registry, serve(settings, extra_env=env, port=hub_port):
        ok(skopeo.push(one.layout, f"{registry.host}/acme/app:v1", *creds))
        await _eventually_repository(accounts, "acme/app")
        cli(settings, "quotas", "set", "acme", "--repositories", "1")

        new = f"{registry.host}/acme/extra:v1"
        eventually(
            lambda: skopeo.push(two.layout, new, *creds).returncode != 0, "the quota shows at the token"
        )
        denied(skopeo.push(two.layout, new, *creds))
        ok(skopeo.push(two.layout, f"{registry.host}/acme/app:v2", *creds))  # an existing repository
        ok(skopeo.push(two.layout, f"{registry.host}/carol/extra:v1", *creds))  # another namespace

        cli(settings, "quotas", "set", "acme", "--repositories", "2")
        eventually(lambda: skopeo.push(two.layout, new, *creds).returncode == 0, "the raised quota admits it")
        await _eventually_repository(accounts, "acme/extra")
        shown = cli(settings, "quotas", "show", "acme")
        assert shown.splitlines()[1] == "acme\trepositories\t2\t2"
        assert cli(settings, "counts", "check").strip() == "counts match the rows"
