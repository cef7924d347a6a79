"""Bad input on every v1 field gets the right status and {"detail", "code"}, and writes nothing."""

import pytest

from repohub.store.tables import CredentialRow, RepositoryRow
from tests.api.v1.test_repositories import assert_error

LONG_NAME = "x" * 129

CREATE_CASES = [
    # (body, status, code)
    ({}, 400, "invalid_input"),  # repo_name missing
    ({"repo_name": ""}, 400, "invalid_input"),
    ({"repo_name": LONG_NAME}, 400, "invalid_input"),
    ({"repo_name": "Upper"}, 400, "invalid_input"),
    ({"repo_name": "a//b"}, 400, "invalid_input"),
    ({"repo_name": "-lead"}, 400, "invalid_input"),
    ({"repo_name": "with space"}, 400, "invalid_input"),
    ({"repo_name": "name:tag"}, 400, "invalid_input"),
    ({"repo_name": 5}, 400, "invalid_input"),
    ({"repo_name": ["a"]}, 400, "invalid_input"),
    ({"repo_name": None}, 400, "invalid_input"),
    ({"repo_name": "ok", "description": "d" * 1025}, 400, "invalid_input"),
    ({"repo_name": "ok", "description": 7}, 400, "invalid_input"),
    ({"repo_name": "ok", "full_description": "f" * 100_001}, 400, "invalid_input"),
    ({"repo_name": "ok", "full_description": {"a": 1}}, 400, "invalid_input"),
    ({"repo_name": "ok", "is_public": "yes"}, 400, "invalid_input"),
    ({"repo_name": "ok", "is_public": "true"}, 400, "invalid_input"),
    ({"repo_name": "ok", "is_public": 1}, 400, "invalid_input"),
    ({"repo_name": "ok", "is_public": None}, 400, "invalid_input"),
    ({"repo_name": "ok", "namespace": "other"}, 400, "invalid_input"),
    ({"repo_name": "ok", "namespace": 3}, 400, "invalid_input"),
    ({"repo_name": "ok", "category": "linux"}, 400, "invalid_input"),  # unknown field
    ({"repo_name": "ok", "is_automated": True}, 400, "invalid_input"),  # read-only field
]


@pytest.mark.parametrize(("body", "status", "code"), CREATE_CASES)
async def test_create_rejects_bad_fields(client, v1, body, status, code):
    response = await client.post("/v1/repositories/alice/", json=body, headers=v1.auth("alice"))
    assert_error(response, status, code)
    assert await v1.count(RepositoryRow) == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [("not json", "application/json"), ("[1, 2]", "application/json"), ('"text"', "application/json"),
     ("repo_name=x", "application/x-www-form-urlencoded"), ("", "application/json")],
)  # fmt: skip
async def test_create_rejects_bodies_that_are_not_a_json_object(client, v1, content, content_type):
    response = await client.post(
        "/v1/repositories/alice/",
        content=content,
        headers={**v1.auth("alice"), "Content-Type": content_type},
    )
    assert_error(response, 400, "invalid_input")
    assert await v1.count(RepositoryRow) == 0


async def test_create_in_an_unknown_or_invalid_namespace_is_404(client, v1):
    for namespace in ("nobody", "Bad-NS", "x" * 100):
        response = await client.post(
            f"/v1/repositories/{namespace}/", json={"repo_name": "ok"}, headers=v1.auth("root")
        )
        assert_error(response, 404, "not_found")
    assert await v1.count(RepositoryRow) == 0


AUTH_CASES = [
    ({}, 401, "not_authenticated"),
    ({"Authorization": "Token not-a-real-token"}, 401, "not_authenticated"),
    ({"Authorization": "Token"}, 401, "not_authenticated"),
    ({"Authorization": "Token "}, 401, "not_authenticated"),
    ({"Authorization": "Bearer whatever"}, 401, "not_authenticated"),
    ({"Authorization": "Basic YWxpY2U6cGFzc3dvcmQtMQ=="}, 401, "not_authenticated"),  # alice:password-1
    ({"Authorization": "garbage"}, 401, "not_authenticated"),
]


@pytest.mark.parametrize(("headers", "status", "code"), AUTH_CASES)
async def test_create_with_missing_or_invalid_auth_is_401(client, v1, headers, status, code):
    response = await client.post("/v1/repositories/alice/", json={"repo_name": "ok"}, headers=headers)
    assert_error(response, status, code)
    assert response.headers["www-authenticate"].startswith("Token")
    assert await v1.count(RepositoryRow) == 0


@pytest.mark.parametrize(("headers", "status", "code"), AUTH_CASES[1:])
async def test_invalid_credentials_are_401_even_where_anonymous_may_read(client, v1, headers, status, code):
    await v1.create("alice", "pub", public=True, as_user="alice")
    assert_error(await client.get("/v1/repositories/alice/", headers=headers), status, code)
    assert_error(await client.get("/v1/repositories/alice/pub", headers=headers), status, code)


async def test_a_revoked_token_is_401(client, v1, app):
    async with v1.service() as service:
        assert await service.accounts.revoke_token(v1.tokens["alice"])
    response = await client.post(
        "/v1/repositories/alice/", json={"repo_name": "ok"}, headers=v1.auth("alice")
    )
    assert_error(response, 401, "not_authenticated")


UPDATE_CASES = [
    {"repo_name": "renamed"},
    {"namespace": "acme"},
    {"repo_path": "alice/other"},
    {"is_automated": True},
    {"logo": "x.png"},
    {"download": 5},
    {"created_at": "2020-01-01T00:00:00Z"},
    {"repo_starred_count": 9},
    {"unknown": 1},
    {"description": "ok", "category": "linux"},  # one bad field spoils the whole change
    {"description": 5},
    {"description": "d" * 1025},
    {"full_description": "f" * 100_001},
    {"full_description": ["x"]},
    {"is_public": "false"},
    {"is_public": 0},
    {"is_public": None},  # null is not "leave as it is": a create rejects it too
    {"description": None},
    {"full_description": None},
    {"description": "ok", "is_public": None},
]


@pytest.mark.parametrize("body", UPDATE_CASES)
async def test_update_rejects_unknown_read_only_and_bad_fields(client, v1, body):
    await v1.create("alice", "repo", as_user="alice")
    response = await client.put("/v1/repositories/alice/repo", json=body, headers=v1.auth("alice"))
    assert_error(response, 400, "invalid_input")
    assert await v1.repo_rows() == [("repo", "about repo", False, 0)]


@pytest.mark.parametrize("content", ["not json", "[]", "null", '"x"'])
async def test_update_rejects_bodies_that_are_not_a_json_object(client, v1, content):
    await v1.create("alice", "repo", as_user="alice")
    response = await client.put(
        "/v1/repositories/alice/repo",
        content=content,
        headers={**v1.auth("alice"), "Content-Type": "application/json"},
    )
    assert_error(response, 400, "invalid_input")
    assert await v1.repo_rows() == [("repo", "about repo", False, 0)]


LOGIN_CASES = [
    ({"username": "alice", "password": "wrong"}, "json", 401, "not_authenticated"),
    ({"username": "ghost", "password": "password-1"}, "json", 401, "not_authenticated"),
    ({"username": "alice", "password": "x" * 5000}, "form", 401, "not_authenticated"),
    ({"username": "alice"}, "json", 400, "invalid_input"),
    ({"password": "password-1"}, "form", 400, "invalid_input"),
    ({"username": 5, "password": "password-1"}, "json", 400, "invalid_input"),
    ({"username": "alice", "password": None}, "json", 400, "invalid_input"),
    ({"username": "alice", "password": "password-1", "extra": 1}, "json", 400, "invalid_input"),
    ({}, "form", 400, "invalid_input"),
]


@pytest.mark.parametrize(("body", "kind", "status", "code"), LOGIN_CASES)
async def test_login_rejects_bad_credentials_and_bodies(client, v1, body, kind, status, code):
    tokens_before = await v1.count(CredentialRow)
    send = {"json": body} if kind == "json" else {"data": body}
    response = await client.post("/v1/generate-api-token/", **send)
    assert_error(response, status, code)
    assert await v1.count(CredentialRow) == tokens_before


@pytest.mark.parametrize("content", ["{bad json", "[]", "1"])
async def test_login_rejects_json_that_is_not_an_object(client, v1, content):
    response = await client.post(
        "/v1/generate-api-token/", content=content, headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "invalid_input")


async def test_unknown_paths_and_methods_answer_in_the_v1_format(client, v1):
    assert_error(await client.get("/v1/nothing-here"), 404, "not_found")
    response = await client.patch("/v1/repositories/alice/", json={})
    assert response.status_code == 405 and set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == "method_not_allowed"


# PostgreSQL cannot hold NUL characters: they must be a client error on both databases, never a 500.


@pytest.mark.parametrize(
    "body",
    [{"repo_name": "ok", "description": "a\u0000b"}, {"repo_name": "ok", "full_description": "\u0000"},
     {"repo_name": "o\u0000k"}],
)  # fmt: skip
async def test_nul_characters_in_a_create_are_400(client, v1, body):
    response = await client.post("/v1/repositories/alice/", json=body, headers=v1.auth("alice"))
    assert_error(response, 400, "invalid_input")
    assert await v1.count(RepositoryRow) == 0


async def test_nul_characters_in_an_update_are_400(client, v1):
    await v1.create("alice", "repo", as_user="alice")
    for body in ({"description": "\u0000"}, {"full_description": "x\u0000"}):
        response = await client.put("/v1/repositories/alice/repo", json=body, headers=v1.auth("alice"))
        assert_error(response, 400, "invalid_input")
    assert await v1.repo_rows() == [("repo", "about repo", False, 0)]


async def test_nul_characters_in_names_are_not_found(client, v1):
    await v1.create("alice", "repo", public=True, as_user="alice")
    for path in ("/v1/repositories/al%00ice/", "/v1/repositories/alice/re%00po",
                 "/v1/repositories/alice/re%00po/tags"):  # fmt: skip
        assert_error(await client.get(path), 404, "not_found")
    login = await client.post("/v1/generate-api-token/", data={"username": "al\u0000ice", "password": "x"})
    assert_error(login, 401, "not_authenticated")
