"""An SWR long-term credential used by skopeo against the real Distribution registry, repohub its token
server (as ``test_registry.py``): pulls with it work, stop when it is disabled, work again when it is
enabled, and stop for good when it is deleted; the credential is made and managed through the SDK."""

from __future__ import annotations

from pathlib import Path

from huaweicloudsdkswr.v2 import (
    CreateInstanceLtCredentialRequest,
    CreateLongTermCredentialRequestBody,
    DeleteInstanceLtCredentialRequest,
    UpdateInstanceLtCredentialRequest,
    UpdateLongTermCredentialRequestBody,
)

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.compat.test_swr_sdk import access_key, swr_client
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import PASSWORD, denied, ok
from tests.server import cli, free_port, serve
from tests.world import World


async def test_skopeo_pulls_with_a_long_term_credential_until_it_is_disabled_or_deleted(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    alice = await accounts.user("alice", password=PASSWORD)
    await accounts.user("bob")
    await accounts.org("acme", owner="alice", members={"bob": Role.VIEWER})
    bob_key = await access_key(accounts, "bob")
    instance = settings.resolved_swr_instance_id

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
    image = write_image(tmp_path / "image", "long-term\n")
    skopeo = Skopeo(tmp_path)
    with (
        running_registry(config, registry_port) as registry,
        serve(settings, extra_env=env, port=hub_port) as server,
    ):
        source = f"{registry.host}/acme/app:v1"
        ok(skopeo.push(image.layout, source, "--dest-creds", f"alice:{alice}"))
        bob = swr_client(server.url, bob_key)
        body = CreateLongTermCredentialRequestBody(name="ci")
        made = bob.create_instance_lt_credential(
            CreateInstanceLtCredentialRequest(instance_id=instance, body=body)
        )
        creds = ("--src-creds", f"{made.user_id}:{made.auth_token}")

        def pull(into: str) -> object:
            return skopeo.pull(source, tmp_path / into, *creds)

        def enable(enabled: bool) -> None:
            bob.update_instance_lt_credential(
                UpdateInstanceLtCredentialRequest(
                    instance_id=instance,
                    credential_id=made.token_id,
                    body=UpdateLongTermCredentialRequestBody(enable=enabled),
                )
            )

        ok(pull("first"))
        enable(False)
        denied(pull("disabled"))
        enable(True)
        ok(pull("enabled"))
        # A viewer's credential pulls, never pushes.
        denied(skopeo.push(image.layout, f"{registry.host}/acme/app:v2", "--dest-creds", creds[1]))
        bob.delete_instance_lt_credential(
            DeleteInstanceLtCredentialRequest(instance_id=instance, credential_id=made.token_id)
        )
        denied(pull("deleted"))
