"""POST /registry/events: authentication, validation, idempotency and aggregation, on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.world import World, token_header

EVENTS = "application/vnd.docker.distribution.events.v1+json"
OCI = "application/vnd.oci.image.manifest.v1+json"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64


def headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.resolved_events_secret}", "Content-Type": EVENTS}


def manifest_event(action: str, repository: str = "acme/app", **target: Any) -> dict[str, Any]:
    method = target.pop("method", {"push": "PUT", "pull": "GET", "delete": "DELETE"}[action])
    actor = target.pop("actor", "alice")
    timestamp = target.pop("timestamp", "2025-03-01T10:00:00.123456789Z")
    body = {"repository": repository, **target}
    if action != "delete":
        body.setdefault("mediaType", OCI)
    return {
        "id": str(uuid.uuid4()),
        "timestamp": timestamp,
        "action": action,
        "target": body,
        "request": {"id": "r", "addr": "127.0.0.1", "host": "registry", "method": method, "useragent": "t"},
        "actor": {"name": actor},
        "source": {"addr": "registry:5000", "instanceID": "i"},
    }


def blob_event(action: str) -> dict[str, Any]:
    return manifest_event(action, mediaType="application/octet-stream", digest=D2, size=10)


async def post(client: httpx.AsyncClient, settings: Settings, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post("/registry/events", json={"events": events}, headers=headers(settings))
    assert response.status_code == 200, response.text
    return response.json()


async def repo(client: httpx.AsyncClient, token: str, name: str = "app") -> dict[str, Any]:
    response = await client.get(f"/v1/repositories/acme/{name}", headers=token_header(token))
    assert response.status_code == 200, response.text
    return response.json()


async def tags(client: httpx.AsyncClient, token: str, name: str = "app") -> dict[str, str]:
    response = await client.get(f"/v1/repositories/acme/{name}/tags", headers=token_header(token))
    return {item["tag"]: item["digest"] for item in response.json()}


async def swr_tags(client: httpx.AsyncClient, token: str, name: str = "app") -> list[dict[str, Any]]:
    response = await client.get(
        f"/v2/manage/namespaces/acme/repos/{name}/tags", headers={"X-Auth-Token": token}
    )
    assert response.status_code == 200, response.text
    return response.json()


@contextmanager
def repository_updates(app: FastAPI) -> Iterator[list[str]]:
    """Every UPDATE of the repositories table the app's engine sends while the block runs."""
    seen: list[str] = []
    engine = app.state.repohub.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE REPOSITORIES"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
async def admin_token(accounts: World) -> str:
    token = await accounts.user("owner")
    await accounts.user("alice")
    await accounts.org("acme", owner="owner")
    await accounts.member("acme", "alice", Role.MEMBER)
    return token


async def test_first_push_creates_a_private_repository_with_its_tags(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    result = await post(
        client,
        settings,
        [
            blob_event("push"),
            manifest_event("push", tag="v1", digest=D1, size=418),
            manifest_event("push", tag="v2", digest=D1, size=418),
        ],
    )
    assert result == {"applied": 2, "duplicates": 0, "ignored": 1}
    detail = await repo(client, admin_token)
    assert detail["is_public"] is False
    assert detail["pushed_at"] == "2025-03-01T10:00:00.123456Z"
    assert await tags(client, admin_token) == {"v1": D1, "v2": D1}
    swr = await client.get("/v2/manage/namespaces/acme/repos/app", headers={"X-Auth-Token": admin_token})
    assert swr.json()["creator_name"] == "alice"
    assert swr.json()["num_images"] == 2
    assert swr.json()["size"] == 2 * 418  # no registry configured: the manifest's own size


async def test_a_burst_is_one_update_per_repository_and_counts_manifest_gets(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    await post(client, settings, [manifest_event("push", tag="v1", digest=D1, size=1)])
    await post(client, settings, [manifest_event("push", "acme/other", tag="v1", digest=D1, size=1)])
    burst = [
        *(manifest_event("pull", tag="v1", digest=D1) for _ in range(3)),
        manifest_event("pull", digest=D1, timestamp="2025-03-02T00:00:00Z"),  # by digest: counts
        manifest_event("pull", tag="v1", digest=D1, method="HEAD"),  # existence check: does not
        manifest_event("pull", tag="v1", digest=D1, actor="@repohub"),  # repohub's own read: neither
        blob_event("pull"),
        manifest_event("pull", "acme/other", tag="v1", digest=D1),
        manifest_event("pull", "acme/other", tag="v1", digest=D1),
        manifest_event("push", "acme/other", tag="v2", digest=D2, size=5),
    ]
    with repository_updates(app) as updates:
        result = await post(client, settings, burst)
    assert result == {"applied": 9, "duplicates": 0, "ignored": 1}
    assert len(updates) == 2, updates
    app_detail, other = await repo(client, admin_token), await repo(client, admin_token, "other")
    assert app_detail["download"] == 4
    assert app_detail["pulled_at"] == "2025-03-02T00:00:00.000000Z"
    assert other["download"] == 2
    assert await tags(client, admin_token, "other") == {"v1": D1, "v2": D2}


async def test_every_push_event_counts_one_upload(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    await post(client, settings, [manifest_event("push", tag="v1", digest=D1, size=1)])
    assert (await repo(client, admin_token))["upload"] == 1
    # Two pushes in one envelope count two, a re-push of the same tag and digest too (it is a push).
    await post(
        client,
        settings,
        [
            manifest_event("push", tag="v2", digest=D2, size=1),
            manifest_event("push", tag="v1", digest=D1, size=1),
        ],
    )
    assert (await repo(client, admin_token))["upload"] == 3
    await post(client, settings, [manifest_event("push", tag="v3", digest=D1, actor="@repohub")])
    await post(client, settings, [manifest_event("pull", tag="v1", digest=D1), blob_event("push")])
    detail = await repo(client, admin_token)
    assert detail["upload"] == 3  # repohub's own re-tag, pulls and blob pushes are no uploads
    assert detail["download"] == 1


async def test_pushing_an_existing_tag_with_a_new_digest_moves_it(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    await post(
        client,
        settings,
        [manifest_event("push", tag="latest", digest=D1, size=418, timestamp="2025-03-01T10:00:00Z")],
    )
    (before,) = await swr_tags(client, admin_token)
    assert (before["Tag"], before["digest"], before["size"]) == ("latest", D1, 418)
    await post(
        client,
        settings,
        [manifest_event("push", tag="latest", digest=D2, size=977, timestamp="2025-03-02T10:00:00Z")],
    )
    (after,) = await swr_tags(client, admin_token)  # still one tag: moved, not added
    assert (after["Tag"], after["digest"], after["size"]) == ("latest", D2, 977)
    assert after["id"] == before["id"] and after["updated"] > before["updated"]
    assert await tags(client, admin_token) == {"latest": D2}
    swr = await client.get("/v2/manage/namespaces/acme/repos/app", headers={"X-Auth-Token": admin_token})
    assert swr.json()["num_images"] == 1 and swr.json()["size"] == 977  # the summary follows the move
    assert (await repo(client, admin_token))["upload"] == 2


async def test_a_replayed_envelope_counts_once(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    await post(client, settings, [manifest_event("push", tag="v1", digest=D1, size=1)])
    envelope = [manifest_event("pull", tag="v1", digest=D1), manifest_event("pull", tag="v1", digest=D1)]
    assert await post(client, settings, envelope) == {"applied": 2, "duplicates": 0, "ignored": 0}
    assert await post(client, settings, envelope) == {"applied": 0, "duplicates": 2, "ignored": 0}
    doubled = [envelope[0], envelope[0]]  # the same id twice inside one envelope
    assert await post(client, settings, doubled) == {"applied": 0, "duplicates": 1, "ignored": 1}
    assert (await repo(client, admin_token))["download"] == 2


async def test_a_delivery_racing_itself_counts_once(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    """The registry retries; a retry may arrive while the first delivery is still being applied."""
    await post(client, settings, [manifest_event("push", tag="v1", digest=D1, size=1)])
    envelope = [manifest_event("pull", tag="v1", digest=D1) for _ in range(5)]
    results = await asyncio.gather(*(post(client, settings, envelope) for _ in range(6)))
    assert sorted(result["applied"] for result in results) == [0, 0, 0, 0, 0, 5]
    assert all(result["applied"] + result["duplicates"] == 5 for result in results)
    assert (await repo(client, admin_token))["download"] == 5


async def test_pulled_at_never_moves_back(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    await post(client, settings, [manifest_event("push", tag="v1", digest=D1, size=1)])
    await post(client, settings, [manifest_event("pull", tag="v1", timestamp="2025-05-01T00:00:00Z")])
    await post(client, settings, [manifest_event("pull", tag="v1", timestamp="2025-04-01T00:00:00Z")])
    detail = await repo(client, admin_token)
    assert detail["pulled_at"] == "2025-05-01T00:00:00.000000Z"
    assert detail["download"] == 2


async def test_delete_by_digest_removes_every_tag_on_it(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    await post(
        client,
        settings,
        [
            manifest_event("push", tag="a", digest=D1, size=1),
            manifest_event("push", tag="b", digest=D1, size=1),
            manifest_event("push", tag="c", digest=D2, size=1),
        ],
    )
    await post(client, settings, [manifest_event("delete", digest=D1)])
    assert await tags(client, admin_token) == {"c": D2}
    await post(client, settings, [manifest_event("delete", tag="c")])
    assert await tags(client, admin_token) == {}
    assert (await repo(client, admin_token))["download"] == 0


async def test_events_for_unknown_namespaces_or_missing_repositories_are_ignored(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    result = await post(
        client,
        settings,
        [
            manifest_event("push", "nowhere/app", tag="v1", digest=D1, size=1),
            manifest_event("pull", "acme/never-pushed", tag="v1", digest=D1),
            manifest_event("push", "library", tag="v1", digest=D1, size=1),
        ],
    )
    assert result["applied"] == 3
    missing = await client.get("/v1/repositories/acme/never-pushed", headers=token_header(admin_token))
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("request_headers", "body", "status"),
    [
        ({"Content-Type": EVENTS}, b'{"events": []}', 401),
        ({"Authorization": "Bearer wrong", "Content-Type": EVENTS}, b'{"events": []}', 401),
        ({"Content-Type": "text/plain"}, b'{"events": []}', 400),
        ({}, b"not json", 400),
        ({}, b'{"events": [{"id": "x"}]}', 400),
        ({}, b'{"nothing": 1}', 400),
    ],
)
async def test_bad_deliveries(
    client: httpx.AsyncClient, settings: Settings, request_headers: dict[str, str], body: bytes, status: int
) -> None:
    sent = {**headers(settings), **request_headers}
    if "Authorization" not in request_headers and status == 401:
        sent.pop("Authorization")
    response = await client.post("/registry/events", content=body, headers=sent)
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["message"]
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("tag", ["../../etc\u0000", ".hidden", "-x", "a/b", "v 1", "x" * 129, "ü"])
async def test_an_event_with_a_bad_tag_is_skipped_and_the_good_ones_applied(
    client: httpx.AsyncClient, settings: Settings, admin_token: str, tag: str
) -> None:
    """The registry redelivers a refused envelope forever: a tag outside the distribution grammar
    skips its event (counted as ignored), the rest of the envelope is applied."""
    envelope = [
        manifest_event("push", tag=tag, digest=D2, size=10),
        manifest_event("push", tag="v1", digest=D1, size=418),
    ]
    assert await post(client, settings, envelope) == {"applied": 1, "duplicates": 0, "ignored": 1}
    assert await tags(client, admin_token) == {"v1": D1}
    metrics = (await client.get("/metrics")).text
    assert 'repohub_registry_events_rejected_total{reason="tag"}' in metrics


async def test_a_timestamp_in_the_future_is_clamped_to_the_receive_time(
    client: httpx.AsyncClient, settings: Settings, admin_token: str
) -> None:
    before = datetime.now(UTC)
    envelope = [
        manifest_event("push", tag="v1", digest=D1, size=418, timestamp="2999-01-01T00:00:00Z"),
        manifest_event("pull", digest=D1, timestamp="2999-01-01T00:00:00Z"),
    ]
    assert await post(client, settings, envelope) == {"applied": 2, "duplicates": 0, "ignored": 0}
    after = datetime.now(UTC)
    shown = (await swr_tags(client, admin_token))[0]
    pushed = datetime.fromisoformat(shown["updated"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= pushed <= after + timedelta(seconds=1)
    detail = await repo(client, admin_token)
    for moment in (detail["pushed_at"], detail["pulled_at"]):
        assert before - timedelta(seconds=1) <= datetime.fromisoformat(moment) <= after + timedelta(seconds=1)
