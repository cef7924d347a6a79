"""Access finer than a namespace role at the real registry, driven by skopeo: a repository grant lets
one user pull (a viewer) and then push (a member) one private repository of a namespace it has no role
in; a share lets the members of another namespace pull it until the deadline, and not after; an
outsider is refused throughout. A real ``repohub serve`` answers the registry's token requests; the
grants and shares are written to its database as the SWR calls write them, and a change another
process made shows within the token facts' memo (``domain.grant_facts``, 2 s).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import insert, update

from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.store.tables import RepositoryGrantRow, RepositoryShareRow
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import PASSWORD, denied, eventually, ok
from tests.server import cli, free_port, serve
from tests.world import World


async def _write(app: FastAPI, statement: object) -> None:
    async with app.state.repohub.engine.begin() as connection:
        await connection.execute(statement)


async def test_grants_and_shares_open_one_repository_at_the_registry_and_deadlines_close_it(
    app: FastAPI, settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    for name in ("carol", "dave", "erin", "frank"):
        await accounts.user(name, password=PASSWORD)
    await accounts.org("acme", owner="carol")
    await accounts.org("partner", owner="erin")  # erin: a member of the access domain
    registry_port, hub_port = free_port(), free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    env = {"REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}", "REPOHUB_PUBLIC_URL": hub_url}
    config = tmp_path / "registry.yml"
    fragment = cli(settings, "registry", "config", extra_env=env)
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    one, two = write_image(tmp_path / "one", "granted\n"), write_image(tmp_path / "two", "pushed\n")
    skopeo = Skopeo(tmp_path)

    def creds(user: str, flag: str) -> tuple[str, str]:
        return (flag, f"{user}:{PASSWORD}")

    with running_registry(config, registry_port) as registry, serve(settings, extra_env=env, port=hub_port):
        image = f"{registry.host}/acme/app"
        ok(skopeo.push(one.layout, f"{image}:v1", *creds("carol", "--dest-creds")))
        repository_id = await _eventually_repository(accounts, "acme/app")
        dave_id, partner_id = await accounts.user_id("dave"), await _namespace_id(accounts, "partner")

        def pull(user: str, to: str) -> object:
            return skopeo.pull(f"{image}:v1", tmp_path / to, *creds(user, "--src-creds"))

        for user in ("dave", "erin", "frank"):
            denied(pull(user, f"before-{user}"))  # private: no role, no grant, no share
        await _write(
            app,
            insert(RepositoryGrantRow).values(repository_id=repository_id, user_id=dave_id, role=Role.VIEWER),
        )
        eventually(lambda: pull("dave", "viewer").returncode == 0, "dave pulls with a viewer grant")
        denied(skopeo.push(two.layout, f"{image}:v2", *creds("dave", "--dest-creds")))
        await _write(app, update(RepositoryGrantRow).values(role=Role.MEMBER))
        eventually(
            lambda: skopeo.push(two.layout, f"{image}:v2", *creds("dave", "--dest-creds")).returncode == 0,
            "dave pushes with a member grant",
        )
        denied(skopeo.push(two.layout, f"{registry.host}/acme/other:v1", *creds("dave", "--dest-creds")))

        soon = datetime.now(UTC) + timedelta(seconds=4)
        await _write(
            app,
            insert(RepositoryShareRow).values(
                repository_id=repository_id, namespace_id=partner_id, expires_at=soon
            ),
        )
        eventually(lambda: pull("erin", "shared").returncode == 0, "erin pulls the shared repository")
        denied(pull("frank", "outsider"))
        eventually(
            lambda: pull("erin", "after").returncode != 0, "the share ends at its deadline", timeout=30
        )
        assert datetime.now(UTC) >= soon
        denied(pull("erin", "after-again"))
        ok(pull("dave", "still"))  # the grant is untouched


async def _eventually_repository(accounts: World, path: str) -> int:
    for _ in range(100):
        try:
            return await accounts.repository_id(path)
        except Exception:  # not there until the registry's event arrived
            await asyncio.sleep(0.2)
    raise AssertionError(f"{path} never entered the catalogue")


async def _namespace_id(accounts: World, name: str) -> int:
    async with accounts.service() as service:
        found = await service.store.namespaces.by_name(name)
        assert found is not None
        return found.id
