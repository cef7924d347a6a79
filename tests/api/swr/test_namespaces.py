"""Namespaces and their access through SWR: create, list, show, delete, members with auth 7/3/1."""

from repohub.domain.entities import Role
from tests.api.swr.helpers import auth

NS = "/v2/manage/namespaces"


async def test_create_list_show_delete(client, accounts):
    alice = await accounts.user("alice")
    created = await client.post(NS, json={"namespace": "team"}, headers=auth(alice))
    assert created.status_code == 201, created.text
    assert created.content == b""
    listed = (await client.get(NS, headers=auth(alice))).json()["namespaces"]
    assert [(n["name"], n["creator_name"], n["auth"]) for n in listed] == [
        ("alice", "alice", 7),
        ("team", "alice", 7),
    ]
    only = await client.get(NS, params={"filter": "namespace::team|mode::visible"}, headers=auth(alice))
    assert [n["name"] for n in only.json()["namespaces"]] == ["team"]
    assert [
        n["name"]
        for n in (await client.get(NS + "?namespace=alice", headers=auth(alice))).json()["namespaces"]
    ] == ["alice"]
    shown = (await client.get(f"{NS}/team", headers=auth(alice))).json()
    assert shown == {"id": listed[1]["id"], "name": "team", "creator_name": "alice", "auth": 7}
    deleted = await client.delete(f"{NS}/team", headers=auth(alice))
    assert deleted.status_code == 204
    assert (await client.get(f"{NS}/team", headers=auth(alice))).status_code == 404


async def test_namespace_name_rules_say_which(client, accounts):
    alice = await accounts.user("alice")
    cases = {
        "Team": "only lowercase letters",
        "1team": "must start with a lowercase letter",
        "team-": "must end with a lowercase letter or a digit",
        "a.-b": "may not be adjacent",
        "a___b": "may not be adjacent",
        "x" * 65: "1 to 64 characters",
    }
    for name, rule in cases.items():
        response = await client.post(NS, json={"namespace": name}, headers=auth(alice))
        assert response.status_code == 400, name
        assert rule in response.json()["error_msg"], name
    assert (await client.post(NS, json={"namespace": "a__b"}, headers=auth(alice))).status_code == 201


async def test_bad_bodies_and_duplicates(client, accounts):
    alice = await accounts.user("alice")
    for body in ({}, {"namespace": 5}, {"namespace": "x", "extra": 1}, ["x"]):
        response = await client.post(NS, json=body, headers=auth(alice))
        assert response.status_code == 400, body
        assert response.json()["error_code"] == "SVCSTG.SWR.4000001"
    not_json = await client.post(
        NS, content=b"{", headers={**auth(alice), "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    assert (await client.post(NS, json={"namespace": "alice"}, headers=auth(alice))).status_code == 409


async def test_visibility_and_permissions(client, accounts):
    await accounts.user("alice")
    bob = await accounts.user("bob")
    await accounts.org("team", owner="alice")
    # bob is not in team: it does not exist for him
    assert (await client.get(f"{NS}/team", headers=auth(bob))).status_code == 404
    assert (await client.delete(f"{NS}/team", headers=auth(bob))).status_code == 404
    assert [n["name"] for n in (await client.get(NS, headers=auth(bob))).json()["namespaces"]] == ["bob"]
    await accounts.member("team", "bob", Role.MEMBER)
    assert (await client.get(f"{NS}/team", headers=auth(bob))).json()["auth"] == 3
    forbidden = await client.delete(f"{NS}/team", headers=auth(bob))
    assert forbidden.status_code == 403
    assert forbidden.json()["error_code"].startswith("SVCSTG.SWR.403")
    # site admins see and manage everything
    root = await accounts.user("root", admin=True)
    names = [n["name"] for n in (await client.get(NS, headers=auth(root))).json()["namespaces"]]
    assert names == ["alice", "bob", "root", "team"]
    assert (await client.get(f"{NS}/team", headers=auth(root))).json()["auth"] == 7


async def test_non_empty_and_personal_namespaces_are_kept(client, accounts):
    alice = await accounts.user("alice")
    await accounts.org("team", owner="alice")
    made = await client.post(
        f"{NS}/team/repos", json={"repository": "app", "is_public": False}, headers=auth(alice)
    )
    assert made.status_code == 201
    busy = await client.delete(f"{NS}/team", headers=auth(alice))
    assert busy.status_code == 409
    assert busy.json()["error_code"] == "SVCSTG.SWR.4090001"
    assert "still has repositories" in busy.json()["error_msg"]
    personal = await client.delete(f"{NS}/alice", headers=auth(alice))
    assert personal.status_code == 409
    assert "personal namespace" in personal.json()["error_msg"]


async def test_access_list_add_update_remove(client, accounts):
    alice = await accounts.user("alice")
    bob = await accounts.user("bob")
    await accounts.user("carol")
    await accounts.org("team", owner="alice")
    access = f"{NS}/team/access"
    alice_id = (await client.get(access, headers=auth(alice))).json()["self_auth"]["user_id"]
    added = await client.post(
        access, json=[{"user_name": "bob", "auth": 1}, {"user_name": "carol", "auth": 3}], headers=auth(alice)
    )
    assert added.status_code == 201, added.text
    shown = (await client.get(access, headers=auth(alice))).json()
    assert shown["name"] == "team"
    assert shown["creator_name"] == "alice"
    assert shown["self_auth"] == {"user_id": alice_id, "user_name": "alice", "auth": 7}
    others = {u["user_name"]: u for u in shown["others_auths"]}
    assert {name: u["auth"] for name, u in others.items()} == {"bob": 1, "carol": 3}
    # bob (viewer) reads the access list, sees himself as self_auth, may not change it
    as_bob = (await client.get(access, headers=auth(bob))).json()
    assert as_bob["self_auth"]["auth"] == 1
    denied = await client.patch(access, json=[{"user_name": "bob", "auth": 7}], headers=auth(bob))
    assert denied.status_code == 403
    # update by id; user_name may accompany it but must agree
    raised = await client.patch(
        access,
        json=[{"user_id": others["bob"]["user_id"], "user_name": "bob", "auth": 7}],
        headers=auth(alice),
    )
    assert raised.status_code == 201, raised.text
    assert (await client.get(f"{NS}/team", headers=auth(bob))).json()["auth"] == 7
    removed = await client.request("DELETE", access, json=[others["carol"]["user_id"]], headers=auth(alice))
    assert removed.status_code == 204, removed.text
    left = (await client.get(access, headers=auth(alice))).json()["others_auths"]
    assert [u["user_name"] for u in left] == ["bob"]


async def test_access_mistakes(client, accounts):
    alice = await accounts.user("alice")
    await accounts.user("bob")
    await accounts.org("team", owner="alice")
    access = f"{NS}/team/access"
    cases = [
        ("POST", [{"user_name": "bob", "auth": 5}], 400, "auth must be 7"),
        ("POST", [{"user_name": "nobody", "auth": 1}], 404, "not found"),
        ("POST", [{"auth": 1}], 400, "user_id or a user_name"),
        ("POST", [{"user_id": "abc", "auth": 1}], 400, "user_id must be"),
        ("POST", [], 400, "give 1 to"),
        ("POST", {"user_name": "bob", "auth": 1}, 400, ""),
        ("POST", [{"user_name": "bob", "auth": 1}, {"user_name": "bob", "auth": 3}], 400, "more than once"),
        ("POST", [{"user_name": "alice", "auth": 1}], 409, "already has access"),
        ("PATCH", [{"user_name": "bob", "auth": 3}], 404, "has no access"),
        ("PATCH", [{"user_name": "alice", "auth": 3}], 409, "at least one admin"),
        ("DELETE", ["x"], 400, "user ids"),
        ("DELETE", ["999"], 404, "has no access"),
    ]
    for method, body, status, message in cases:
        response = await client.request(method, access, json=body, headers=auth(alice))
        assert response.status_code == status, (method, body, response.text)
        assert message in response.json()["error_msg"], (method, body)
    mismatch = await client.get(access, headers=auth(alice))
    alice_id = mismatch.json()["self_auth"]["user_id"]
    wrong_pair = await client.post(
        access, json=[{"user_id": alice_id, "user_name": "bob", "auth": 1}], headers=auth(alice)
    )
    assert wrong_pair.status_code == 400
    last_admin = await client.request("DELETE", access, json=[alice_id], headers=auth(alice))
    assert last_admin.status_code == 409
