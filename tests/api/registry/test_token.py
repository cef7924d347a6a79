"""GET /registry/token: who gets which actions, verified by decoding the signed JWT with the certificate."""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx
import jwt
import pytest
from cryptography import x509
from sqlalchemy import event

from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.registry.keys import signing_key
from tests.world import World, token_header

PASSWORD = "pw-" + "x" * 8


def basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def claims(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    """Verify the token as the registry does: signature by the certificate's key, iss, aud, kid."""
    key = signing_key(settings)
    public_key = x509.load_pem_x509_certificate(key.cert_pem).public_key()
    assert jwt.get_unverified_header(body["token"])["kid"] == key.kid
    assert body["access_token"] == body["token"]
    return jwt.decode(
        body["token"], public_key, algorithms=["ES256"], audience="repohub-registry", issuer="repohub"
    )


async def access(
    client: httpx.AsyncClient, settings: Settings, scopes: list[str], headers: dict[str, str] | None = None
) -> dict[str, list[str]]:
    response = await client.get(
        "/registry/token",
        params=[("service", "repohub-registry"), *(("scope", scope) for scope in scopes)],
        headers=headers or {},
    )
    assert response.status_code == 200, response.text
    decoded = claims(settings, response.json())
    return {f"{item['type']}:{item['name']}": item["actions"] for item in decoded["access"]}


@pytest.fixture
async def world(accounts: World, client: httpx.AsyncClient) -> dict[str, str]:
    tokens = {
        name: await accounts.user(name, password=PASSWORD)
        for name in ("owner", "member", "viewer", "outsider")
    }
    tokens["root"] = await accounts.user("root", admin=True, password=PASSWORD)
    await accounts.org("acme", owner="owner")
    await accounts.member("acme", "member", Role.MEMBER)
    await accounts.member("acme", "viewer", Role.VIEWER)
    for name, public in (("private", False), ("public", True)):
        created = await client.post(
            "/v1/repositories/acme/",
            json={"repo_name": name, "is_public": public},
            headers=token_header(tokens["member"]),
        )
        assert created.status_code == 201, created.text
    return tokens


SCOPES = [
    "repository:acme/private:pull,push,delete",
    "repository:acme/public:pull,push,delete",
    "repository:acme/new/app:pull,push",
    "repository:nowhere/app:pull,push",
    "registry:catalog:*",
]


async def test_anonymous_pulls_public_only(client: httpx.AsyncClient, settings: Settings, world: Any) -> None:
    assert await access(client, settings, SCOPES) == {"repository:acme/public": ["pull"]}


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (
            "outsider",
            {"repository:acme/public": ["pull"]},
        ),
        (
            "viewer",
            {
                "repository:acme/private": ["pull"],
                "repository:acme/public": ["pull"],
                "repository:acme/new/app": ["pull"],
            },
        ),
        (
            "member",
            {
                "repository:acme/private": ["pull", "push"],
                "repository:acme/public": ["pull", "push"],
                "repository:acme/new/app": ["pull", "push"],
            },
        ),
        (
            "owner",
            {
                "repository:acme/private": ["pull", "push", "delete"],
                "repository:acme/public": ["pull", "push", "delete"],
                "repository:acme/new/app": ["pull", "push"],
            },
        ),
        (
            "root",
            {
                "repository:acme/private": ["pull", "push", "delete"],
                "repository:acme/public": ["pull", "push", "delete"],
                "repository:acme/new/app": ["pull", "push"],
                "registry:catalog": ["*"],
            },
        ),
    ],
)
async def test_grants_follow_the_role(
    client: httpx.AsyncClient, settings: Settings, world: dict[str, str], user: str, expected: dict[str, Any]
) -> None:
    by_token = await access(client, settings, SCOPES, basic(user, world[user]))
    assert by_token == expected
    assert await access(client, settings, SCOPES, basic(user, PASSWORD)) == expected


async def test_subject_and_lifetime(client: httpx.AsyncClient, settings: Settings, world: Any) -> None:
    response = await client.get(
        "/registry/token",
        params={"scope": "repository:acme/private:pull", "account": "member"},
        headers=basic("member", world["member"]),
    )
    body = response.json()
    decoded = claims(settings, body)
    assert decoded["sub"] == "member"
    assert body["expires_in"] == settings.registry_token_ttl == decoded["exp"] - decoded["iat"]


async def test_star_gets_what_the_caller_may(
    client: httpx.AsyncClient, settings: Settings, world: Any
) -> None:
    scope = ["repository:acme/private:*"]
    assert await access(client, settings, scope, basic("owner", world["owner"])) == {
        "repository:acme/private": ["*"]
    }
    assert await access(client, settings, scope, basic("member", world["member"])) == {
        "repository:acme/private": ["pull", "push"]
    }


async def test_invalid_new_name_gets_no_push(
    client: httpx.AsyncClient, settings: Settings, world: Any
) -> None:
    got = await access(
        client, settings, ["repository:acme/" + "a" * 130 + ":pull,push"], basic("member", PASSWORD)
    )
    assert got == {"repository:acme/" + "a" * 130: ["pull"]}


@pytest.mark.parametrize(
    "headers",
    [
        basic("member", "wrong-password"),
        basic("ghost", PASSWORD),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Digest abc"},
        {"Authorization": "Bearer not-a-token"},
    ],
)
async def test_bad_credentials_are_401(
    client: httpx.AsyncClient, world: Any, headers: dict[str, str]
) -> None:
    response = await client.get(
        "/registry/token", params={"scope": "repository:acme/public:pull"}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="repohub"'
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


async def test_a_token_of_another_user_is_401(client: httpx.AsyncClient, world: dict[str, str]) -> None:
    response = await client.get("/registry/token", headers=basic("owner", world["member"]))
    assert response.status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"scope": "repository:acme/private"},
        {"scope": "repository:Acme/X:pull"},
        {"scope": "registry:other:*"},
        {"service": "someone-else"},
    ],
)
async def test_bad_requests_are_400(client: httpx.AsyncClient, world: Any, params: dict[str, str]) -> None:
    response = await client.get("/registry/token", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_REQUEST"


async def test_no_scope_is_an_empty_grant(client: httpx.AsyncClient, settings: Settings, world: Any) -> None:
    assert await access(client, settings, []) == {}


async def test_swr_docker_login_credential_works_at_the_token_service(
    client: httpx.AsyncClient, settings: Settings, world: dict[str, str]
) -> None:
    response = await client.post(
        "/v2/manage/utils/authorizationtoken", headers={"X-Auth-Token": world["member"]}
    )
    assert response.status_code == 200, response.text
    command = response.headers["x-swr-dockerlogin"].split()
    assert command[:3] == ["docker", "login", "-u"] and command[3] == "member"
    assert command[-1] == settings.registry_host
    assert response.headers["x-swr-expireat"].endswith("Z")
    auth = response.json()["auths"][settings.registry_host]["auth"]
    user, password = base64.b64decode(auth).decode().split(":", 1)
    assert (user, password) == ("member", command[5])
    got = await access(client, settings, ["repository:acme/private:pull,push"], basic(user, password))
    assert got == {"repository:acme/private": ["pull", "push"]}


async def test_swr_docker_login_needs_credentials(client: httpx.AsyncClient, world: Any) -> None:
    response = await client.post("/v2/manage/utils/authorizationtoken")
    assert response.status_code == 401
    assert "error_code" in response.json()


async def test_a_change_shows_in_the_next_grant(
    client: httpx.AsyncClient, settings: Settings, world: dict[str, str]
) -> None:
    """Grants are remembered for a moment, but never past a write this process committed."""
    scope = ["repository:acme/public:pull"]
    assert await access(client, settings, scope) == {"repository:acme/public": ["pull"]}
    assert await access(client, settings, scope) == {"repository:acme/public": ["pull"]}  # remembered
    hidden = await client.put(
        "/v1/repositories/acme/public", json={"is_public": False}, headers=token_header(world["owner"])
    )
    assert hidden.status_code == 200, hidden.text
    assert await access(client, settings, scope) == {}
    shown = await client.put(
        "/v1/repositories/acme/public", json={"is_public": True}, headers=token_header(world["owner"])
    )
    assert shown.status_code == 200, shown.text
    assert await access(client, settings, scope) == {"repository:acme/public": ["pull"]}


async def test_a_role_is_remembered_per_namespace_but_never_past_a_change(
    client: httpx.AsyncClient, settings: Settings, world: dict[str, str]
) -> None:
    """One remembered role serves a whole push of new repositories; a role change shows at once."""
    member = basic("member", world["member"])
    first = ["repository:acme/private:pull,push"]
    assert await access(client, settings, first, member) == {"repository:acme/private": ["pull", "push"]}
    # Neither exists: the namespace's role answers for a valid new name, not for one too long to create.
    too_long = "acme/" + "a" * 200
    later = ["repository:acme/fresh/app:pull,push", f"repository:{too_long}:pull,push"]
    assert await access(client, settings, later, member) == {
        "repository:acme/fresh/app": ["pull", "push"],
        f"repository:{too_long}": ["pull"],
    }
    demoted = await client.patch(
        "/v2/manage/namespaces/acme/access",
        json=[{"user_name": "member", "auth": 1}],
        headers={"X-Auth-Token": world["owner"]},
    )
    assert demoted.status_code == 201, demoted.text
    assert await access(client, settings, later, member) == {
        "repository:acme/fresh/app": ["pull"],
        f"repository:{too_long}": ["pull"],
    }
    # An outsider's answer still rests on each repository's visibility.
    outsider = basic("outsider", world["outsider"])
    assert await access(client, settings, ["repository:acme/public:pull"], outsider) == {
        "repository:acme/public": ["pull"]
    }
    assert await access(client, settings, ["repository:acme/private:pull"], outsider) == {}


async def test_a_member_s_repository_grant_is_remembered_with_its_role_but_never_past_a_change(
    accounts: World, client: httpx.AsyncClient, settings: Settings, world: dict[str, str]
) -> None:
    """A grant stronger than the member's role shows in its tokens (served from the member's
    remembered facts), and its revocation shows at once; the namespace's other names keep the role's."""
    member = basic("member", world["member"])
    scopes = ["repository:acme/private:pull,push,delete", "repository:acme/other:pull,push,delete"]
    role_only = {"repository:acme/private": ["pull", "push"], "repository:acme/other": ["pull", "push"]}
    assert await access(client, settings, scopes, member) == role_only
    grants = "/v2/manage/namespaces/acme/repos/private/access"
    user_id = str(await accounts.user_id("member"))
    owner = {"X-Auth-Token": world["owner"]}
    made = await client.post(grants, json=[{"user_id": user_id, "auth": 7}], headers=owner)
    assert made.status_code == 201, made.text
    for _ in range(2):  # the second from the remembered facts
        assert await access(client, settings, scopes, member) == {
            **role_only,
            "repository:acme/private": ["pull", "push", "delete"],
        }
    revoked = await client.request("DELETE", grants, json=[user_id], headers=owner)
    assert revoked.status_code == 204, revoked.text
    assert await access(client, settings, scopes, member) == role_only


async def test_the_access_log_names_who_asked_for_a_token(
    client: httpx.AsyncClient, world: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="repohub.access"):
        for headers in (basic("member", world["member"]), {}):
            response = await client.get("/registry/token", params=_scope_query([]), headers=headers)
            assert response.status_code == 200, response.text
    logged = [r.fields["user"] for r in caplog.records if r.name == "repohub.access"]  # type: ignore[attr-defined]
    assert logged == ["member", None]


def _scope_query(scopes: list[str]) -> list[tuple[str, str]]:
    return [("service", "repohub-registry"), *(("scope", scope) for scope in scopes)]


@pytest.mark.parametrize("count", [33, 800])
async def test_more_than_32_distinct_scopes_are_400_in_the_registry_format(
    client: httpx.AsyncClient, world: Any, count: int
) -> None:
    scopes = [f"repository:acme/r{index}:pull" for index in range(count)]
    response = await client.get("/registry/token", params=_scope_query(scopes))
    assert response.status_code == 400, response.text
    assert response.json() == {
        "errors": [
            {
                "code": "INVALID_REQUEST",
                "message": f"ask for at most 32 distinct scopes at a time, not {count}",
                "detail": None,
            }
        ]
    }


async def test_repeated_scopes_are_merged_and_count_once(
    client: httpx.AsyncClient, settings: Settings, world: dict[str, str]
) -> None:
    """32 distinct scopes, each asked for several times with different actions: allowed, and the
    token's access names each once with the actions of all its mentions."""
    distinct = ["acme/private", "acme/public", *(f"acme/new{index}" for index in range(30))]
    scopes = [f"repository:{name}:pull" for name in distinct]
    scopes += [f"repository:{name}:push" for name in distinct]
    scopes += [f"repository:{name}:pull,delete repository:{name}:pull" for name in distinct]
    response = await client.get(
        "/registry/token", params=_scope_query(scopes), headers=basic("owner", world["owner"])
    )
    assert response.status_code == 200, response.text
    granted = claims(settings, response.json())["access"]
    assert [item["name"] for item in granted] == distinct
    assert all(item["actions"] == ["pull", "push", "delete"] for item in granted)


async def test_all_scopes_of_a_request_are_looked_up_in_one_query(
    app: Any, client: httpx.AsyncClient, settings: Settings, world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement the token request runs is counted, on the reader and on the session's engine."""
    state = app.state.repohub
    statements: list[str] = []
    real_fetch = state.reader.fetch

    async def counted_fetch(sql: str, params: Any) -> Any:
        statements.append(sql)
        return await real_fetch(sql, params)

    def counted(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    monkeypatch.setattr(state.reader, "fetch", counted_fetch)
    event.listen(state.engine.sync_engine, "before_cursor_execute", counted)
    try:
        names = ["acme/public", "acme/private", "nowhere/app", *(f"acme/app{index}" for index in range(20))]
        granted = await access(client, settings, [f"repository:{name}:pull" for name in names])
    finally:
        event.remove(state.engine.sync_engine, "before_cursor_execute", counted)
    assert granted == {"repository:acme/public": ["pull"]}
    assert len(statements) == 1, statements
