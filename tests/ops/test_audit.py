"""The audit trail: every write through any dialect is listed by ``repohub audit`` with who, what,
when and from where; nothing secret is recorded; rolled-back writes leave no entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.server import cli
from tests.world import token_header


async def test_writes_through_each_dialect_are_audited(settings, client, accounts):
    token = await accounts.user("ann", password="ann-password-1")
    org = await accounts.org("annorg", owner="ann")
    started = datetime.now(UTC)
    made = await client.post(
        "/v1/repositories/ann/",
        json={"repo_name": "web"},
        headers={**token_header(token), "X-Request-Id": "audit-1"},
    )
    assert made.status_code == 201
    assert (await client.put("/v1/repositories/ann/web/star", headers=token_header(token))).status_code == 200
    abeja = await client.post(
        f"/organizations/{org}/registry/repositories",
        json={"name": "api"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert abeja.status_code == 200
    swr = await client.delete("/v2/manage/namespaces/annorg/repos/api", headers={"X-Auth-Token": token})
    assert swr.status_code == 204
    # A refused write (duplicate) is rolled back and leaves no entry.
    again = await client.post("/v1/repositories/ann/", json={"repo_name": "web"}, headers=token_header(token))
    assert again.status_code == 409
    login = await client.post(
        "/v1/generate-api-token/", data={"username": "ann", "password": "ann-password-1"}
    )
    assert login.status_code == 200

    entries = json.loads(cli(settings, "audit", "--since", started.isoformat(), "--json"))
    actions = [(entry["actor"], entry["action"], entry["target"]) for entry in entries]
    creates = [entry for entry in entries if entry["action"] == "insert repositories"]
    assert len(creates) == 2, actions  # the refused duplicate left nothing
    assert creates[0]["target"].startswith("category=other is_public=False name=web namespace_id=")
    assert creates[1]["target"] == f"category=other is_public=False name=api namespace_id={org}"
    first = creates[0]
    assert first["actor"] == "ann" and first["source"] == "127.0.0.1" and first["request_id"] == "audit-1"
    assert datetime.fromisoformat(first["at"]) >= started
    assert ("ann", "insert stars") in [(actor, action) for actor, action, _ in actions]
    assert ("ann", "delete repositories") in [(actor, action) for actor, action, _ in actions]
    assert any(action == "insert credentials" and "kind=token" in target for _, action, target in actions)
    text = json.dumps(entries)
    assert token not in text and login.json()["token"] not in text and "ann-password-1" not in text
    assert "argon2" not in text
    # Text output and the age form of --since work too.
    assert "insert repositories" in cli(settings, "audit", "--since", "1h")
