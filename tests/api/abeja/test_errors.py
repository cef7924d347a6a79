"""Every error the ABEJA dialect answers: status, and the body the abeja-sdk parses."""

from __future__ import annotations

import base64

import pytest

from repohub.domain.entities import Role
from tests.api.abeja.support import basic, bearer, user_id


@pytest.fixture
async def acme(app, accounts):
    token = await accounts.user("alice")
    org_id = await accounts.org("acme", owner="alice")
    return {"org": str(org_id), "auth": basic(await user_id(app, "alice"), token), "token": token}


def assert_error(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == code
    assert isinstance(body["error_description"], str) and body["error_description"]
    assert set(body) <= {"error", "error_description", "error_detail"}
    return body


def _basic_raw(text: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(text.encode()).decode()}


async def test_401_without_or_with_wrong_credentials(app, client, accounts, acme):
    other_token = await accounts.user("eve")
    alice_id = await user_id(app, "alice")
    path = f"/organizations/{acme['org']}/registry/repositories"
    cases = [
        {},
        bearer("not-a-token"),
        basic(alice_id, "not-a-token"),
        basic(alice_id, other_token),  # eve's token next to alice's id
        _basic_raw(f"someone:{acme['token']}"),
        _basic_raw(f"user-{'9' * 5000}:{acme['token']}"),
        _basic_raw("no-colon"),
        {"Authorization": "Basic %%%not-base64"},
        {"Authorization": f"Token {acme['token']}"},
        {"Authorization": "Bearer"},
    ]
    for headers in cases:
        for method in ("GET", "POST"):
            answer = await client.request(method, path, headers=headers, json={"name": "x"})
            assert_error(answer, 401, "unauthorized")
    assert (await client.get(f"/organizations/{acme['org']}")).status_code == 401
    # A bare user id (without "user-") is accepted, for hand-written scripts.
    bare = _basic_raw(f"{alice_id}:{acme['token']}")
    assert (await client.get(path, headers=bare)).status_code == 200


@pytest.mark.parametrize("org", ["999999", "abc", "-1", "1.5", "9" * 40, "١٢"])
async def test_404_for_unknown_or_malformed_organization(client, acme, org):
    for path in (
        f"/organizations/{org}",
        f"/organizations/{org}/registry/repositories",
        f"/organizations/{org}/registry/repositories/1",
        f"/organizations/{org}/registry/repositories/1/tags",
    ):
        assert_error(await client.get(path, headers=acme["auth"]), 404, "not_found")
    posted = await client.post(
        f"/organizations/{org}/registry/repositories", json={"name": "x"}, headers=acme["auth"]
    )
    assert_error(posted, 404, "not_found")


@pytest.mark.parametrize("repo", ["424242", "abc", "9" * 40, "0"])
async def test_404_for_unknown_or_malformed_repository(client, acme, repo):
    base = f"/organizations/{acme['org']}/registry/repositories/{repo}"
    for method, path in [("GET", base), ("GET", base + "/tags"), ("DELETE", base)]:
        assert_error(await client.request(method, path, headers=acme["auth"]), 404, "not_found")


async def test_404_for_a_repository_asked_for_under_another_org(client, accounts, acme):
    other = await accounts.org("initech", owner="alice")
    made = await client.post(
        f"/organizations/{acme['org']}/registry/repositories", json={"name": "r"}, headers=acme["auth"]
    )
    repo_id = made.json()["id"]
    wrong = await client.get(f"/organizations/{other}/registry/repositories/{repo_id}", headers=acme["auth"])
    assert_error(wrong, 404, "not_found")


async def test_409_for_a_duplicate_name(client, acme):
    path = f"/organizations/{acme['org']}/registry/repositories"
    assert (await client.post(path, json={"name": "dup"}, headers=acme["auth"])).status_code == 200
    assert_error(await client.post(path, json={"name": "dup"}, headers=acme["auth"]), 409, "conflict")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Upper"},
        {"name": ""},
        {"name": "a" * 300},
        {"name": "ok", "description": "d" * 2000},
        {"name": "ok", "description": 5},
        {"name": 5},
        {},
        {"name": "ok", "is_public": True},
        ["name"],
    ],
)
async def test_400_for_bad_create_bodies(client, acme, body):
    path = f"/organizations/{acme['org']}/registry/repositories"
    assert_error(await client.post(path, json=body, headers=acme["auth"]), 400, "bad_request")


async def test_400_for_a_body_that_is_not_json(client, acme):
    path = f"/organizations/{acme['org']}/registry/repositories"
    headers = {**acme["auth"], "Content-Type": "application/json"}
    assert_error(await client.post(path, content=b"{not json", headers=headers), 400, "bad_request")


async def test_400_names_the_field(client, acme):
    path = f"/organizations/{acme['org']}/registry/repositories"
    body = assert_error(
        await client.post(path, json={"name": "ok", "description": "d" * 2000}, headers=acme["auth"]),
        400,
        "bad_request",
    )
    assert body["error_detail"] == {"field": "description"}


async def test_403_for_too_small_a_role(app, client, accounts, acme):
    path = f"/organizations/{acme['org']}/registry/repositories"
    made = await client.post(path, json={"name": "kept"}, headers=acme["auth"])
    viewer_token = await accounts.user("vic")
    await accounts.member("acme", "vic", Role.VIEWER)
    vic = basic(await user_id(app, "vic"), viewer_token)
    assert_error(await client.post(path, json={"name": "nope"}, headers=vic), 403, "forbidden")
    member_token = await accounts.user("meg")
    await accounts.member("acme", "meg", Role.MEMBER)
    meg = basic(await user_id(app, "meg"), member_token)
    assert_error(await client.delete(f"{path}/{made.json()['id']}", headers=meg), 403, "forbidden")
    assert (await client.get(f"{path}/{made.json()['id']}", headers=vic)).status_code == 200


async def test_405_and_unknown_paths_keep_the_abeja_format(client, acme):
    path = f"/organizations/{acme['org']}/registry/repositories"
    assert_error(await client.put(path, json={}, headers=acme["auth"]), 405, "method_not_allowed")
    assert_error(await client.get(path + "/1/nothing", headers=acme["auth"]), 404, "not_found")


async def test_413_for_a_body_over_the_limit_is_payload_too_large(client, settings, acme):
    path = f"/organizations/{acme['org']}/registry/repositories"
    huge = b'{"name": "x", "description": "' + b"a" * settings.max_body_bytes + b'"}'
    headers = {**acme["auth"], "Content-Type": "application/json"}
    answer = await client.post(path, content=huge, headers=headers)
    body = assert_error(answer, 413, "payload_too_large")
    assert str(settings.max_body_bytes) in body["error_description"]
    listed = (await client.get(path, headers=acme["auth"])).json()["registry_repositories"]
    assert listed == []  # nothing was made
