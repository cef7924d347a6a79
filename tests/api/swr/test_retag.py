"""SWR's retag (``create_repo_tag``: ``POST .../repos/{repository}/tags``) without a registry: the
catalogue alone changes, with the rules the SDK test checks end to end (tests/compat/test_swr_retag.py).
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from repohub.domain.entities import Role
from tests.api.swr.helpers import BASE, add_tag, auth
from tests.world import World

TAGS = "/v2/manage/namespaces/acme/repos/app/tags"


@pytest.fixture
async def acme(accounts: World, app) -> World:
    """acme/app (private) with v1 (size 7) and v2 (size 9); alice member, bob viewer, carol admin,
    dave no role."""
    for name in ("alice", "bob", "carol", "dave"):
        await accounts.user(name)
    await accounts.org("acme", owner="carol", members={"alice": Role.MEMBER, "bob": Role.VIEWER})
    await accounts.repository("acme/app", by="carol")
    await add_tag(app, "acme", "app", "v1", at=BASE, size=7)
    await add_tag(app, "acme", "app", "v2", at=BASE + timedelta(minutes=1), size=9)
    return accounts


async def retag(client: httpx.AsyncClient, token: str, body: object) -> httpx.Response:
    return await client.post(TAGS, json=body, headers=auth(token))


async def listed(client: httpx.AsyncClient, token: str) -> dict[str, dict[str, object]]:
    answer = await client.get(TAGS, headers=auth(token))
    assert answer.status_code == 200, answer.text
    return {item["tag"]: item for item in answer.json()}


def image(item: dict[str, object]) -> tuple[object, ...]:
    return tuple(item[key] for key in ("digest", "image_id", "size", "manifest", "schema"))


async def test_retag_copies_the_source_image_under_a_new_tag_pushed_now(client, acme: World) -> None:
    alice = acme.tokens["alice"]
    before = await listed(client, alice)

    answer = await retag(client, alice, {"source_tag": "v1", "destination_tag": "stable"})

    assert answer.status_code == 201, answer.text
    assert answer.content == b""
    after = await listed(client, alice)
    assert set(after) == {"v1", "v2", "stable"}
    assert image(after["stable"]) == image(before["v1"])
    assert after["stable"]["updated"] > before["v2"]["updated"]  # pushed now, not at v1's push
    assert after["v1"] == before["v1"]
    repository = (await client.get("/v2/manage/namespaces/acme/repos/app", headers=auth(alice))).json()
    assert (repository["num_images"], repository["size"]) == (3, 7 + 9 + 7)
    async with acme.service("alice") as service:
        app_repository = await service.catalog.repository("acme", "app")
        stable = await service.catalog.tag(app_repository, "stable")
    assert stable.creator is not None and stable.creator.username == "alice"
    v1_tags = await client.get("/v1/repositories/acme/app/tags", headers=acme.auth("alice"))
    assert {item["tag"]: item["digest"] for item in v1_tags.json()}["stable"] == before["v1"]["digest"]


async def test_an_existing_destination_is_moved_only_with_override(client, acme: World) -> None:
    alice = acme.tokens["alice"]
    before = await listed(client, alice)

    refused = await retag(client, alice, {"source_tag": "v1", "destination_tag": "v2"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error_code"] == "SVCSTG.SWR.4090001"
    refused = await retag(client, alice, {"source_tag": "v1", "destination_tag": "v2", "override": False})
    assert refused.status_code == 409, refused.text
    assert await listed(client, alice) == before

    moved = await retag(client, alice, {"source_tag": "v1", "destination_tag": "v2", "override": True})
    assert moved.status_code == 201, moved.text
    after = await listed(client, alice)
    assert image(after["v2"]) == image(before["v1"])
    assert after["v2"]["created"] == before["v2"]["created"]  # the same tag, moved
    repository = (await client.get("/v2/manage/namespaces/acme/repos/app", headers=auth(alice))).json()
    assert (repository["num_images"], repository["size"]) == (2, 7 + 7)


async def test_who_may_retag(client, acme: World) -> None:
    body = {"source_tag": "v1", "destination_tag": "new"}
    viewer = await retag(client, acme.tokens["bob"], body)
    assert viewer.status_code == 403, viewer.text
    assert viewer.json()["error_code"].startswith("SVCSTG.SWR.403")
    outsider = await retag(client, acme.tokens["dave"], body)  # cannot see the private repository
    assert outsider.status_code == 404, outsider.text
    anonymous = await client.post(TAGS, json=body)
    assert anonymous.status_code == 401, anonymous.text
    admin = await retag(client, acme.tokens["carol"], body)
    assert admin.status_code == 201, admin.text
    assert set(await listed(client, acme.tokens["carol"])) == {"v1", "v2", "new"}


async def test_a_missing_source_or_repository_is_404(client, acme: World) -> None:
    alice = acme.tokens["alice"]
    missing = await retag(client, alice, {"source_tag": "nope", "destination_tag": "new"})
    assert missing.status_code == 404, missing.text
    assert "nope" in missing.json()["error_msg"]
    elsewhere = await client.post(
        "/v2/manage/namespaces/acme/repos/other/tags",
        json={"source_tag": "v1", "destination_tag": "new"},
        headers=auth(alice),
    )
    assert elsewhere.status_code == 404, elsewhere.text
    assert set(await listed(client, alice)) == {"v1", "v2"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"source_tag": "v1"},
        {"destination_tag": "new"},
        {"source_tag": "v1", "destination_tag": "new", "extra": 1},
        {"source_tag": "v1", "destination_tag": "new", "override": "true"},
        {"source_tag": "v1", "destination_tag": "new", "override": 1},
        {"source_tag": 1, "destination_tag": "new"},
        {"source_tag": "v1", "destination_tag": None},
        {"source_tag": "v1", "destination_tag": "bad tag"},
        {"source_tag": "v1", "destination_tag": ""},
        {"source_tag": "v1", "destination_tag": ".hidden"},
        {"source_tag": "v1", "destination_tag": "x" * 129},
        ["v1", "new"],
        "v1",
    ],
)
async def test_bad_bodies_are_400_in_swr_format(client, acme: World, body: object) -> None:
    alice = acme.tokens["alice"]
    answer = await retag(client, alice, body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"].startswith("SVCSTG.SWR.400")
    assert answer.json()["error_msg"]
    assert set(await listed(client, alice)) == {"v1", "v2"}


async def test_a_body_that_is_not_json_is_400(client, acme: World) -> None:
    answer = await client.post(
        TAGS,
        content=b"{source_tag: v1",
        headers={**auth(acme.tokens["alice"]), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error_code"].startswith("SVCSTG.SWR.400")
