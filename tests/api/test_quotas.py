"""A namespace's repository quota in every dialect and at the token server: a create over it is a
403 in the dialect's body and writes nothing; a token grants no push of a new repository in a full
namespace (pushes to existing ones go on); raising the quota lets both through again."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.domain.quotas import set_repository_quota
from repohub.store.tables import RepositoryRow
from tests.api.abeja.support import bearer
from tests.api.registry.test_token import claims
from tests.api.swr.helpers import auth
from tests.world import World, token_header


async def _quota(world: World, namespace: str, limit: int | None) -> None:
    async with world.service() as service:
        await set_repository_quota(service.store, namespace, limit)


@pytest.fixture
async def full(world: World) -> World:
    """acme (owned by boss, dev a member) holds one repository and may hold one."""
    await world.user("boss")
    await world.user("dev")
    await world.org("acme", owner="boss", members={"dev": Role.MEMBER})
    await world.repository("acme/first", by="dev")
    await _quota(world, "acme", 1)
    return world


async def test_a_create_over_the_quota_is_refused_in_every_dialect(
    client: httpx.AsyncClient, full: World
) -> None:
    token = full.tokens["dev"]
    v1 = await client.post("/v1/repositories/acme/", json={"repo_name": "two"}, headers=token_header(token))
    assert v1.status_code == 403, v1.text
    assert v1.json()["code"] == "quota_exceeded"
    assert "quota of 1 repositories" in v1.json()["detail"]

    async with full.service() as service:
        namespace_id = (await service.catalog.namespace("acme")).id
    abeja = await client.post(
        f"/organizations/{namespace_id}/registry/repositories", json={"name": "two"}, headers=bearer(token)
    )
    assert abeja.status_code == 403, abeja.text
    assert abeja.json()["error"] == "forbidden"

    swr = await client.post(
        "/v2/manage/namespaces/acme/repos",
        json={"repository": "two", "category": "linux", "is_public": False},
        headers=auth(token),
    )
    assert swr.status_code == 403, swr.text
    assert swr.json()["error_code"] == "SVCSTG.SWR.4030002"
    assert await full.count(RepositoryRow) == 1  # nothing half-written


async def test_a_raised_or_cleared_quota_lets_creates_through(client: httpx.AsyncClient, full: World) -> None:
    headers = token_header(full.tokens["dev"])
    await _quota(full, "acme", 2)
    assert (
        await client.post("/v1/repositories/acme/", json={"repo_name": "two"}, headers=headers)
    ).status_code == 201
    refused = await client.post("/v1/repositories/acme/", json={"repo_name": "three"}, headers=headers)
    assert refused.status_code == 403
    await _quota(full, "acme", None)
    assert (
        await client.post("/v1/repositories/acme/", json={"repo_name": "three"}, headers=headers)
    ).status_code == 201


async def test_other_namespaces_are_not_limited(client: httpx.AsyncClient, full: World) -> None:
    created = await client.post(
        "/v1/repositories/dev/", json={"repo_name": "mine"}, headers=token_header(full.tokens["dev"])
    )
    assert created.status_code == 201, created.text


async def _grants(client: httpx.AsyncClient, settings: Settings, token: str, *scopes: str) -> dict[str, Any]:
    basic = base64.b64encode(f"dev:{token}".encode()).decode()
    response = await client.get(
        "/registry/token",
        params=[("service", "repohub-registry"), *(("scope", scope) for scope in scopes)],
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    return {item["name"]: item["actions"] for item in claims(settings, response.json())["access"]}


async def test_the_token_grants_no_push_of_a_new_repository_in_a_full_namespace(
    client: httpx.AsyncClient, settings: Settings, full: World
) -> None:
    token = full.tokens["dev"]
    scopes = ("repository:acme/first:pull,push", "repository:acme/new:pull,push")
    # Twice: the second answer comes from the process's memo of the caller's roles, which must not
    # settle a full namespace's new names.
    for _ in range(2):
        assert await _grants(client, settings, token, *scopes) == {
            "acme/first": ["pull", "push"],
            "acme/new": ["pull"],
        }
        assert await _grants(client, settings, token, scopes[1]) == {"acme/new": ["pull"]}
    assert await _grants(client, settings, token, "repository:dev/new:pull,push") == {
        "dev/new": ["pull", "push"]
    }

    await _quota(full, "acme", 2)
    assert await _grants(client, settings, token, scopes[1]) == {"acme/new": ["pull", "push"]}


async def test_a_robot_gets_no_push_of_a_new_repository_in_a_full_namespace(
    client: httpx.AsyncClient, settings: Settings, full: World
) -> None:
    async with full.service() as service:
        issued = await service.robots.create("acme", "ci", ["push:*"])
    basic = base64.b64encode(f"{issued.robot.username}:{issued.secret}".encode()).decode()
    response = await client.get(
        "/registry/token",
        params=[
            ("service", "repohub-registry"),
            ("scope", "repository:acme/new:pull,push"),
            ("scope", "repository:acme/first:pull,push"),
        ],
        headers={"Authorization": f"Basic {basic}"},
    )
    granted = {item["name"]: item["actions"] for item in claims(settings, response.json())["access"]}
    assert granted == {"acme/new": ["pull"], "acme/first": ["pull", "push"]}
