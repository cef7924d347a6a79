"""SWR's per-repository access and shares over HTTP (in process): what the SDK tests leave out, the
wire forms of a deadline, repository names in paths, bodies the SDK would not send, the callers
without a user, and the audit trail of each change."""

from __future__ import annotations

import pytest

from repohub.domain.entities import Role
from repohub.store.tables import AuditRow
from tests.api.swr.helpers import auth

NS = "/v2/manage/namespaces/team"
DOMAINS = NS + "/repositories/{repository}/access-domains"


async def _world(accounts) -> dict[str, str]:
    tokens = {name: await accounts.user(name) for name in ("alice", "bob")}
    await accounts.org("team", owner="alice")
    await accounts.org("ops", owner="bob")
    await accounts.repository("team/group/app", by="alice")
    return tokens


@pytest.mark.parametrize(
    ("deadline", "shown"),
    [
        ("forever", "forever"),
        ("2999-10-01T16:00:00.000Z", "2999-10-01T16:00:00.000000Z"),
        ("2999-10-01T18:00:00+02:00", "2999-10-01T16:00:00.000000Z"),
        ("2999-10-01T16:00:00", "2999-10-01T16:00:00.000000Z"),  # no zone: UTC
        ("2999-10-01", "2999-10-01T00:00:00.000000Z"),  # Terraform's YYYY-MM-DD
    ],
)
async def test_a_deadline_is_forever_or_a_time_shown_in_utc(client, accounts, deadline, shown):
    tokens = await _world(accounts)
    body = {"access_domain": "ops", "permit": "read", "deadline": deadline}
    created = await client.post(
        DOMAINS.format(repository="group$app"), json=body, headers=auth(tokens["alice"])
    )
    assert created.status_code == 201, created.text
    one = await client.get(DOMAINS.format(repository="group%2Fapp") + "/ops", headers=auth(tokens["alice"]))
    assert one.status_code == 200
    assert (one.json()["deadline"], one.json()["exist"], one.json()["status"]) == (shown, True, True)


@pytest.mark.parametrize(
    "body",
    [
        {"access_domain": "ops", "permit": "read"},
        {"access_domain": "ops", "permit": "read", "deadline": "forever", "extra": 1},
        {"access_domain": "ops", "permit": "read", "deadline": 20991231},
        {"access_domain": ["ops"], "permit": "read", "deadline": "forever"},
        {"access_domain": "ops", "permit": "read", "deadline": "FOREVER"},
        {"access_domain": "ops", "permit": "read", "deadline": "0001-01-01T00:00:00+01:00"},
        {"access_domain": "ops", "permit": "read", "deadline": "forever", "description": "a\u0000b"},
        [],
    ],
    ids=["no deadline", "unknown field", "number", "list", "case", "before year 1", "NUL", "not an object"],
)
async def test_malformed_share_bodies_are_400s(client, accounts, body):
    tokens = await _world(accounts)
    response = await client.post(
        DOMAINS.format(repository="group$app"), json=body, headers=auth(tokens["alice"])
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"].startswith("SVCSTG.SWR.400")


async def test_without_a_user_every_call_is_401(client, accounts):
    await _world(accounts)
    calls = [
        ("GET", NS + "/repos/group$app/access"),
        ("GET", DOMAINS.format(repository="group$app")),
        ("GET", "/v2/manage/shared-repositories?center=self"),
        ("GET", "/v3/manage/shared-repositories?shared_by=self"),
    ]
    for method, path in calls:
        response = await client.request(method, path)
        assert response.status_code == 401, path
        assert response.json()["error_code"].startswith("SVCSTG.SWR.401"), path


async def test_each_grant_and_share_change_is_in_the_audit_trail(client, accounts):
    tokens = await _world(accounts)
    bob = await accounts.user_id("bob")
    alice = auth(tokens["alice"])
    before = await accounts.count(AuditRow)
    grant = [{"user_id": str(bob), "auth": 1}]
    assert (await client.post(NS + "/repos/group$app/access", json=grant, headers=alice)).status_code == 201
    body = {"access_domain": "ops", "permit": "read", "deadline": "forever"}
    assert (
        await client.post(DOMAINS.format(repository="group$app"), json=body, headers=alice)
    ).status_code == 201
    ended = await client.delete(DOMAINS.format(repository="group$app") + "/ops", headers=alice)
    assert ended.status_code == 204
    async with accounts.service() as service:
        entries = (await service.store.audit.since(None))[before:]
    assert [(entry["actor"], entry["action"]) for entry in entries] == [
        ("alice", "insert repository_grants"),
        ("alice", "insert repository_shares"),
        ("alice", "delete repository_shares"),
    ]
    assert f"user_id={bob}" in entries[0]["target"] and "role=viewer" in entries[0]["target"]


async def test_a_namespace_member_sees_the_namespace_role_as_its_own_auth(client, accounts):
    tokens = await _world(accounts)
    await accounts.member("team", "bob", Role.MEMBER)
    shown = await client.get(NS + "/repos/group$app/access", headers=auth(tokens["bob"]))
    assert shown.status_code == 200
    assert shown.json()["self_auth"]["auth"] == 3 and shown.json()["others_auths"] == []
    # A member may read the shares and the grants, not change them.
    body = {"access_domain": "ops", "permit": "read", "deadline": "forever"}
    refused = await client.post(
        DOMAINS.format(repository="group$app"), json=body, headers=auth(tokens["bob"])
    )
    assert refused.status_code == 403
    listed = await client.get(DOMAINS.format(repository="group$app"), headers=auth(tokens["bob"]))
    assert listed.status_code == 200 and listed.json() == []


async def test_a_share_s_viewer_learns_its_own_share_and_role_and_no_other_tenant(client, accounts):
    """bob reads team/group/app through the share with ops; the share with sales, alice's grant to
    carol, and whether the repository is shared with a namespace he is not in, stay unknown to him."""
    tokens = await _world(accounts)
    tokens["carol"] = await accounts.user("carol")
    await accounts.org("sales", owner="carol")
    for domain in ("ops", "sales"):
        body = {"access_domain": domain, "permit": "read", "deadline": "forever"}
        made = await client.post(
            DOMAINS.format(repository="group$app"), json=body, headers=auth(tokens["alice"])
        )
        assert made.status_code == 201, made.text
    carol_id = await accounts.user_id("carol")
    granted = await client.post(
        NS + "/repos/group$app/access",
        json=[{"user_id": str(carol_id), "user_name": "carol", "auth": 1}],
        headers=auth(tokens["alice"]),
    )
    assert granted.status_code == 201, granted.text
    bob = auth(tokens["bob"])
    shown = await client.get(NS + "/repos/group$app/access", headers=bob)
    assert shown.status_code == 200
    assert (shown.json()["self_auth"]["auth"], shown.json()["others_auths"]) == (1, [])
    assert (await client.get(DOMAINS.format(repository="group$app"), headers=bob)).status_code == 403
    own = await client.get(DOMAINS.format(repository="group$app") + "/ops", headers=bob)
    assert own.status_code == 200 and own.json()["exist"] is True
    other = await client.get(DOMAINS.format(repository="group$app") + "/sales", headers=bob)
    nowhere = await client.get(DOMAINS.format(repository="group$app") + "/nowhere", headers=bob)
    assert other.status_code == nowhere.status_code == 403
    assert other.json()["error_msg"] == nowhere.json()["error_msg"]
    everyone = await client.get(NS + "/repos/group$app/access", headers=auth(tokens["alice"]))
    assert [row["user_name"] for row in everyone.json()["others_auths"]] == ["carol"]
