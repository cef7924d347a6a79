"""Alauda's ``/v1/hooks`` over HTTP, on SQLite and PostgreSQL: the calls, who may make them, bad input
in v1's error format, one table shared with SWR's policies, and a secret that never comes back."""

from __future__ import annotations

import re

import httpx
import pytest

from repohub.domain.immutability.rules import Selector
from repohub.domain.webhooks.hooks import FORMAT_HARBOR, HookSpec, Scope
from repohub.store.tables import WebhookRow
from tests.api.v1.conftest import TIME
from tests.api.v1.test_repositories import assert_error
from tests.api.v1.test_secrets import dump_database
from tests.server import serve
from tests.world import World, token_header

URL = "http://93.184.215.14:8080/hooks"  # a global address literal: checked without DNS
OTHER_URL = "https://93.184.215.15/other"
SECRET = "alauda-hook-signing-secret-4711"
CREATE = {
    "subject_type": "image_repo",
    "subject": "acme/web",
    "events": ["image:push", "image:delete"],
    "url": URL,
    "secret": SECRET,
    "name": "ci",
}
FIELDS = {
    "id",
    "subject_type",
    "subject",
    "events",
    "url",
    "is_active",
    "name",
    "description",
    "created_by",
    "created_at",
    "updated_at",
}


async def create(client: httpx.AsyncClient, v1, body: dict | None = None, *, as_user: str = "boss") -> dict:
    response = await client.post("/v1/hooks", json=body or CREATE, headers=v1.auth(as_user))
    assert response.status_code == 201, response.text
    return response.json()


async def stored_secret(v1, hook_id: int) -> str | None:
    async with v1.service() as service:
        hook = await service.store.webhooks.get(hook_id)
    return hook.spec.secret


def opened(v1, sealed: str | None) -> str | None:
    return None if sealed is None else v1.app.state.repohub.secret_box.open(sealed)


# -- create ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/hooks", "/v1/hooks/"])
async def test_create_answers_201_with_the_hook_in_alaudas_fields_and_no_secret(client, v1, path):
    response = await client.post(path, json=CREATE, headers=v1.auth("boss"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == FIELDS
    assert {key: body[key] for key in ("subject_type", "subject", "events", "url", "is_active", "name")} == {
        "subject_type": "image_repo",
        "subject": "acme/web",  # the repository need not exist yet
        "events": ["image:push", "image:delete"],
        "url": URL,
        "is_active": True,
        "name": "ci",
    }
    assert (body["description"], body["created_by"]) == ("", "boss")
    assert re.fullmatch(TIME, body["created_at"]) and re.fullmatch(TIME, body["updated_at"])
    assert SECRET not in response.text
    assert opened(v1, await stored_secret(v1, body["id"])) == SECRET


async def test_a_namespace_subject_subscribes_to_all_its_repositories(client, v1):
    body = await create(
        client, v1, {**CREATE, "subject": "acme", "events": ["image:pull"], "is_active": False}
    )
    assert (body["subject"], body["events"], body["is_active"]) == ("acme", ["image:pull"], False)
    async with v1.service() as service:
        hook = await service.store.webhooks.get(body["id"])
    assert hook.spec.repository is None and hook.spec.events == {"pull"}


async def test_a_hook_without_a_secret_stores_none(client, v1):
    body = await create(client, v1, {key: value for key, value in CREATE.items() if key != "secret"})
    assert await stored_secret(v1, body["id"]) is None


@pytest.mark.parametrize(
    ("user", "subject", "status", "code"),
    [
        (None, "acme/web", 401, "not_authenticated"),
        ("dev", "acme/web", 403, "permission_denied"),  # a member, not an admin
        ("guest", "acme", 403, "permission_denied"),
        ("stranger", "acme/web", 404, "not_found"),  # nothing public in acme: undisclosed
        ("boss", "nowhere/web", 404, "not_found"),
    ],
)
async def test_only_namespace_admins_create_hooks(client, v1, user, subject, status, code):
    headers = v1.auth(user) if user else {}
    response = await client.post("/v1/hooks", json={**CREATE, "subject": subject}, headers=headers)
    assert_error(response, status, code)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Token")
    assert await v1.count(WebhookRow) == 0


BAD_CREATES = [
    {"subject_type": "image_repo", "subject": "acme", "url": URL},  # events missing
    {**CREATE, "subject_type": "build_repo"},  # builds: not repohub's
    {**CREATE, "subject_type": None},
    {**CREATE, "subject": ""},
    {**CREATE, "subject": "acme/"},
    {**CREATE, "subject": "/web"},
    {**CREATE, "subject": "acme/Bad Repo"},
    {**CREATE, "subject": 5},
    {**CREATE, "events": []},
    {**CREATE, "events": ["build:complete"]},
    {**CREATE, "events": "image:push"},
    {**CREATE, "events": [1]},
    {**CREATE, "url": None},
    {**CREATE, "url": "ftp://93.184.215.14/"},
    {**CREATE, "url": "http://127.0.0.1:8080/"},  # private: REPOHUB_WEBHOOK_ALLOW_PRIVATE is off here
    {**CREATE, "url": "http://10.0.0.8/"},
    {**CREATE, "url": "http://user:pw@93.184.215.14/"},
    {**CREATE, "url": "http://" + "a" * 3000 + ".example/"},
    {**CREATE, "secret": 123},
    {**CREATE, "secret": "s" * 1025},
    {**CREATE, "is_active": "true"},
    {**CREATE, "is_active": 1},
    {**CREATE, "name": "n" * 257},
    {**CREATE, "name": "a\u0000b"},
    {**CREATE, "description": "d" * 1025},
    {**CREATE, "hook_type": "http"},  # unknown field
    {**CREATE, "id": 7},  # read-only field
    {**CREATE, "created_by": "root"},
]


@pytest.mark.parametrize("body", BAD_CREATES)
async def test_bad_creates_are_400_in_v1s_format_and_write_nothing(client, v1, body):
    response = await client.post("/v1/hooks", json=body, headers=v1.auth("boss"))
    assert_error(response, 400, "invalid_input")
    assert await v1.count(WebhookRow) == 0


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '"text"', "", '{"subject": "\\ud800"}'])
async def test_bodies_that_are_not_a_json_object_are_400(client, v1, content):
    headers = {**v1.auth("boss"), "Content-Type": "application/json"}
    response = await client.post("/v1/hooks", content=content, headers=headers)
    assert_error(response, 400, "invalid_input")
    assert await v1.count(WebhookRow) == 0


# -- read -----------------------------------------------------------------------------------------


async def test_get_shows_a_hook_to_its_namespaces_admins_only(client, v1):
    hook = await create(client, v1)
    for user in ("boss", "root"):
        response = await client.get(f"/v1/hooks/{hook['id']}", headers=v1.auth(user))
        assert response.status_code == 200 and response.json() == hook
    for user in ("dev", "guest", "stranger", "alice"):
        response = await client.get(f"/v1/hooks/{hook['id']}/", headers=v1.auth(user))
        assert_error(response, 404, "not_found")
        assert response.json()["detail"] == f"webhook {hook['id']} not found"
    assert_error(await client.get(f"/v1/hooks/{hook['id']}"), 401, "not_authenticated")


@pytest.mark.parametrize("hook_id", ["abc", "0", "-1", "1.5", "²", "9" * 30, str(2**63), "999999"])
async def test_an_id_naming_no_hook_is_404(client, v1, hook_id):
    await create(client, v1)
    for method in ("GET", "PUT", "DELETE"):
        body = CREATE if method == "PUT" else None
        response = await client.request(method, f"/v1/hooks/{hook_id}", json=body, headers=v1.auth("root"))
        assert_error(response, 404, "not_found")
    assert await v1.count(WebhookRow) == 1


async def listed(client, v1, user: str, **params) -> list[int]:
    response = await client.get("/v1/hooks", params=params, headers=v1.auth(user))
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), list)
    return [hook["id"] for hook in response.json()]


async def test_the_list_is_of_the_namespaces_the_caller_administers_narrowed_by_subject(client, v1):
    web = (await create(client, v1))["id"]
    wide = (await create(client, v1, {**CREATE, "subject": "acme"}))["id"]
    api = (await create(client, v1, {**CREATE, "subject": "acme/api"}))["id"]
    own = (await create(client, v1, {**CREATE, "subject": "alice/web"}, as_user="alice"))["id"]
    assert await listed(client, v1, "boss") == [api, wide, web]  # newest first
    assert await listed(client, v1, "boss", subject_type="image_repo", subject="acme") == [api, wide, web]
    assert await listed(client, v1, "boss", subject="acme/web") == [web]
    assert await listed(client, v1, "boss", subject="acme/nothing") == []
    assert await listed(client, v1, "boss", subject="alice") == []  # not boss's to see: empty, no error
    assert await listed(client, v1, "boss", subject="nowhere/x") == []
    assert await listed(client, v1, "alice") == [own]
    assert await listed(client, v1, "dev") == []  # a member of acme, not an admin
    assert await listed(client, v1, "root") == [own, api, wide, web]
    assert await listed(client, v1, "boss", page=2, page_size=2) == [web]


@pytest.mark.parametrize(
    "params",
    [
        {"subject_type": "build_repo"},
        {"subject": "acme/"},
        {"subject": "acme/Bad"},
        {"page_size": "101"},
        {"page_size": "0"},
        {"page": "x"},
        {"page": "0"},
    ],
)
async def test_bad_list_parameters_are_400(client, v1, params):
    response = await client.get("/v1/hooks", params=params, headers=v1.auth("boss"))
    assert_error(response, 400, "invalid_input")


async def test_listing_needs_a_caller(client, v1):
    assert_error(await client.get("/v1/hooks"), 401, "not_authenticated")


# -- update ---------------------------------------------------------------------------------------


async def test_put_restates_the_hook_and_a_left_out_secret_is_kept(client, v1):
    hook = await create(client, v1)
    sealed = await stored_secret(v1, hook["id"])
    body = {"events": ["image:pull"], "url": OTHER_URL, "is_active": False, "description": "new"}
    response = await client.put(f"/v1/hooks/{hook['id']}", json=body, headers=v1.auth("boss"))
    assert response.status_code == 200, response.text
    changed = response.json()
    assert {
        key: changed[key] for key in ("subject", "events", "url", "is_active", "name", "description")
    } == {
        "subject": "acme/web",  # left out: kept
        "events": ["image:pull"],
        "url": OTHER_URL,
        "is_active": False,
        "name": "",  # left out: the creation default, as a PUT restates the hook
        "description": "new",
    }
    assert (changed["id"], changed["created_at"], changed["created_by"]) == (
        hook["id"],
        hook["created_at"],
        "boss",
    )
    assert await stored_secret(v1, hook["id"]) == sealed


@pytest.mark.parametrize(("secret", "expected"), [("rotated", "rotated"), ("", None), (None, None)])
async def test_put_replaces_or_removes_the_secret(client, v1, secret, expected):
    hook = await create(client, v1)
    body = {"events": ["image:push"], "url": URL, "secret": secret}
    response = await client.put(f"/v1/hooks/{hook['id']}/", json=body, headers=v1.auth("boss"))
    assert response.status_code == 200, response.text
    assert "secret" not in response.json() and SECRET not in response.text
    assert opened(v1, await stored_secret(v1, hook["id"])) == expected


async def test_put_moves_a_hook_between_subjects_of_its_namespace_only(client, v1):
    hook = await create(client, v1)
    moved = await client.put(
        f"/v1/hooks/{hook['id']}",
        json={"subject": "acme", "events": ["image:push"], "url": URL},
        headers=v1.auth("boss"),
    )
    assert moved.status_code == 200 and moved.json()["subject"] == "acme"
    refused = await client.put(
        f"/v1/hooks/{hook['id']}",
        json={"subject": "boss/web", "events": ["image:push"], "url": URL},
        headers=v1.auth("boss"),
    )
    assert_error(refused, 400, "invalid_input")


@pytest.mark.parametrize(
    "body",
    [
        {"url": URL},  # events missing
        {"events": ["image:push"]},  # url missing
        {"events": [], "url": URL},
        {"events": ["image:push"], "url": "http://127.0.0.1/"},
        {"events": ["image:push"], "url": URL, "is_active": None},
        {"events": ["image:push"], "url": URL, "subject_type": "build_repo"},
        {"events": ["image:push"], "url": URL, "subject": "acme/"},
        {"events": ["image:push"], "url": URL, "color": "red"},
    ],
)
async def test_bad_puts_are_400_and_change_nothing(client, v1, body):
    hook = await create(client, v1)
    response = await client.put(f"/v1/hooks/{hook['id']}", json=body, headers=v1.auth("boss"))
    assert_error(response, 400, "invalid_input")
    again = await client.get(f"/v1/hooks/{hook['id']}", headers=v1.auth("boss"))
    assert again.json() == hook


async def test_put_by_anyone_but_an_admin_is_404_and_changes_nothing(client, v1):
    hook = await create(client, v1)
    body = {"events": ["image:push"], "url": OTHER_URL, "subject": "acme/web"}
    for user in ("dev", "stranger"):
        response = await client.put(f"/v1/hooks/{hook['id']}", json=body, headers=v1.auth(user))
        assert_error(response, 404, "not_found")
    assert_error(await client.put(f"/v1/hooks/{hook['id']}", json=body), 401, "not_authenticated")
    assert (await client.get(f"/v1/hooks/{hook['id']}", headers=v1.auth("boss"))).json()["url"] == URL


# -- delete ---------------------------------------------------------------------------------------


async def test_delete_answers_204_once_and_only_to_an_admin(client, v1):
    hook = await create(client, v1)
    for user in ("dev", "stranger"):
        assert_error(await client.delete(f"/v1/hooks/{hook['id']}", headers=v1.auth(user)), 404, "not_found")
    response = await client.delete(f"/v1/hooks/{hook['id']}/", headers=v1.auth("boss"))
    assert response.status_code == 204 and response.content == b""
    assert_error(await client.delete(f"/v1/hooks/{hook['id']}", headers=v1.auth("boss")), 404, "not_found")
    assert await v1.count(WebhookRow) == 0


# -- one table with SWR's policies ----------------------------------------------------------------

POLICY = HookSpec(
    format=FORMAT_HARBOR,
    url=URL,
    events=frozenset({"push", "pull"}),
    name="swr policy",
    scope=Scope(Selector("repoMatches", "web/**"), Selector("matches", "v*")),
    auth_header="Authorization:Bearer swr-header-secret",
)


async def test_an_swr_policy_is_listed_and_updated_through_v1_keeping_what_only_swr_knows(client, v1):
    async with v1.service("boss") as service:
        policy = await service.webhooks.create("acme", POLICY)
    (shown,) = (await client.get("/v1/hooks", headers=v1.auth("boss"))).json()
    assert (shown["id"], shown["subject"], shown["events"], shown["name"]) == (
        policy.id,
        "acme",
        ["image:push", "image:pull"],
        "swr policy",
    )
    body = {"events": ["image:delete"], "url": OTHER_URL, "name": "renamed"}
    response = await client.put(f"/v1/hooks/{policy.id}", json=body, headers=v1.auth("boss"))
    assert response.status_code == 200, response.text
    assert "swr-header-secret" not in response.text
    async with v1.service() as service:
        kept = (await service.store.webhooks.get(policy.id)).spec
    assert (kept.format, kept.scope, kept.events, kept.url) == (
        FORMAT_HARBOR,
        POLICY.scope,
        {"delete"},
        OTHER_URL,
    )
    assert opened(v1, kept.auth_header) == POLICY.auth_header


# -- the secret stays secret ----------------------------------------------------------------------


async def test_the_secret_is_in_no_answer_and_not_stored_in_clear(client, v1):
    answers = [await create(client, v1)]
    hook_id = answers[0]["id"]
    headers = v1.auth("boss")
    answers.append((await client.get(f"/v1/hooks/{hook_id}", headers=headers)).json())
    answers.append((await client.get("/v1/hooks", headers=headers)).json())
    put = {"events": ["image:push"], "url": URL, "secret": SECRET + "-2"}
    answers.append((await client.put(f"/v1/hooks/{hook_id}", json=put, headers=headers)).json())
    assert all("secret" not in str(answer) for answer in answers)
    assert SECRET not in await dump_database(v1.app)


async def test_the_secret_is_not_in_the_server_log(settings, app, clean):
    """A real ``repohub serve`` at debug level: a hook made, read and changed with a secret."""
    world = World(app)
    token = await world.user("carol")
    with serve(settings, extra_env={"REPOHUB_LOG_LEVEL": "debug"}) as server:
        async with httpx.AsyncClient(base_url=server.url, headers=token_header(token)) as http:
            made = await http.post("/v1/hooks", json={**CREATE, "subject": "carol"})
            assert made.status_code == 201, made.text
            hook = f"/v1/hooks/{made.json()['id']}"
            assert (await http.get(hook)).status_code == 200
            put = {"events": ["image:push"], "url": URL, "secret": SECRET + "-2"}
            assert (await http.put(hook, json=put)).status_code == 200
            bad = await http.post(
                "/v1/hooks", json={**CREATE, "subject": "carol", "url": "http://127.0.0.1/"}
            )
            assert bad.status_code == 400 and SECRET not in bad.text
        log = server.log.read_text()
    assert SECRET not in log
