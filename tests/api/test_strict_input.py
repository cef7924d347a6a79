"""Integers, strings and name filters a client can get wrong: a 4xx in the dialect's own error format,
no traceback logged, nothing written, on every dialect and field that reads them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from repohub.config import Settings
from tests.api.abeja.support import basic, bearer, user_id
from tests.api.swr.helpers import auth as swr_auth
from tests.world import token_header

# Each breaks a rule of ``domain.numbers``: not ASCII digits ('²' passes str.isdigit, '٣' and '1_000'
# and ' 1' pass int()), negative, too many digits, past BIGINT.
BAD_INTEGERS = ["²", "٣", "1_000", " 1", "-1", "9" * 5000, str(2**63)]
BAD_NUMBERS = ["9" * 5000, str(2**63), "-1"]  # as JSON numbers
LONE_SURROGATE = '"\\ud800"'  # JSON text for a string holding U+D800 alone


@dataclass
class World:
    token: str
    user_id: int
    org_id: int
    repository_id: int
    events_secret: str

    def headers(self, dialect: str) -> dict[str, str]:
        return {
            "v1": token_header(self.token),
            "abeja": bearer(self.token),
            "swr": swr_auth(self.token),
            "registry": {"Authorization": f"Bearer {self.events_secret}"},
        }[dialect]


@pytest.fixture
async def world(client: httpx.AsyncClient, accounts: Any, app: Any, settings: Settings) -> World:
    token = await accounts.user("alice")
    org_id = await accounts.org("team", owner="alice")
    made = await client.post(
        f"/organizations/{org_id}/registry/repositories", json={"name": "app"}, headers=bearer(token)
    )
    assert made.status_code == 200, made.text
    return World(
        token=token,
        user_id=await user_id(app, "alice"),
        org_id=org_id,
        repository_id=int(made.json()["id"]),
        events_secret=settings.resolved_events_secret,
    )


@pytest.fixture
def tracebacks() -> Iterator[list[logging.LogRecord]]:
    """Log records carrying an exception, from repohub's loggers (which do not propagate) and the root."""
    logged: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = lambda record: logged.append(record) if record.exc_info else None  # type: ignore[method-assign]
    loggers = [logging.getLogger(), logging.getLogger("repohub")]
    for logger in loggers:
        logger.addHandler(handler)
    yield logged
    for logger in loggers:
        logger.removeHandler(handler)


def assert_dialect_error(dialect: str, response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    if dialect == "v1":
        assert set(body) == {"detail", "code"}, body
    elif dialect == "abeja":
        assert body["error"] in {"bad_request", "unauthorized", "not_found"}, body
        assert body["error_description"]
    elif dialect == "swr":
        assert body["error_code"].startswith(f"SVCSTG.SWR.{response.status_code}"), body
        assert body["error_msg"]
    else:
        assert body["errors"][0]["code"] and body["errors"][0]["message"], body


async def snapshot(client: httpx.AsyncClient, world: World) -> Any:
    """What a write could have changed: the repositories (with their fields) and the namespaces."""
    repos = await client.get("/v2/manage/repos", headers=world.headers("swr"))
    namespaces = await client.get("/v2/manage/namespaces", headers=world.headers("swr"))
    return repos.json(), namespaces.json()


def event_with(size: str) -> str:
    target = {"repository": "team/app", "tag": "v1", "digest": "sha256:" + "1" * 64, "mediaType": "x"}
    event = json.dumps({"id": "e-1", "action": "push", "target": target})
    return '{"events": [' + event.replace('"tag"', f'"size": {size}, "tag"', 1) + "]}"


# (dialect, method, path template, body template or None); {v} is the bad value, {org} and {repo}
# the world's ids. Query values are sent percent-encoded, string fields as JSON strings.
TEAM = "/v2/manage/namespaces/team"
ORG = "/organizations/{org}/registry/repositories"
PULLED = '{"events": [{"id": {v}, "action": "pull", "target": {"repository": "team/app"}}]}'
INTEGER_FIELDS = {
    "swr-list-offset": ("swr", "GET", "/v2/manage/repos?offset={v}&limit=1", None),
    "swr-list-limit": ("swr", "GET", "/v2/manage/repos?offset=0&limit={v}", None),
    "swr-filter-offset": ("swr", "GET", "/v2/manage/repos?filter=offset::{v}|limit::1", None),
    "swr-filter-limit": ("swr", "GET", "/v2/manage/repos?filter=offset::0|limit::{v}", None),
    "swr-tags-offset": ("swr", "GET", TEAM + "/repos/app/tags?offset={v}&limit=1", None),
    "swr-tags-limit": ("swr", "GET", TEAM + "/repos/app/tags?offset=0&limit={v}", None),
    "swr-access-post-user_id": ("swr", "POST", TEAM + "/access", '[{"user_id": {v}, "auth": 1}]'),
    "swr-access-patch-user_id": ("swr", "PATCH", TEAM + "/access", '[{"user_id": {v}, "auth": 3}]'),
    "swr-access-delete-list": ("swr", "DELETE", TEAM + "/access", "[{v}]"),
    "v1-page": ("v1", "GET", "/v1/repositories/team/?page={v}", None),
    "v1-page_size": ("v1", "GET", "/v1/repositories/team/?page_size={v}", None),
    "v1-tags-page": ("v1", "GET", "/v1/repositories/team/app/tags?page={v}", None),
    "v1-tags-page_size": ("v1", "GET", "/v1/repositories/team/app/tags?page_size={v}", None),
    "abeja-limit": ("abeja", "GET", ORG + "?limit={v}", None),
    "abeja-offset": ("abeja", "GET", ORG + "?offset={v}", None),
    "abeja-tags-limit": ("abeja", "GET", ORG + "/{repo}/tags?limit={v}", None),
    "abeja-tags-offset": ("abeja", "GET", ORG + "/{repo}/tags?offset={v}", None),
    "abeja-organization_id": ("abeja", "GET", "/organizations/{v}/registry/repositories", None),
    "abeja-repository_id": ("abeja", "GET", ORG + "/{v}", None),
}  # fmt: skip


def request_for(world: World, template: tuple[str, str, str, str | None], value: str) -> dict[str, Any]:
    dialect, method, path, body = template
    path = path.format(v=quote(value, safe=""), org=world.org_id, repo=world.repository_id)
    content = None if body is None else body.replace("{v}", json.dumps(value))
    headers = {**world.headers(dialect), "Content-Type": "application/json"}
    return {"method": method, "url": path, "content": content, "headers": headers}


@pytest.mark.parametrize("field", INTEGER_FIELDS)
async def test_bad_integers_are_a_4xx_in_the_dialects_format(client, world, tracebacks, field):
    template = INTEGER_FIELDS[field]
    before = await snapshot(client, world)
    for value in BAD_INTEGERS:  # one world for all values: each request is refused before it acts
        response = await client.request(**request_for(world, template, value))
        assert_dialect_error(template[0], response)
    assert tracebacks == []
    assert await snapshot(client, world) == before


async def test_a_bad_abeja_basic_user_id_is_a_401(client, world, tracebacks):
    for value in BAD_INTEGERS:
        response = await client.get(
            f"/organizations/{world.org_id}/registry/repositories", headers=basic(value, world.token)
        )
        assert response.status_code == 401, response.text
        assert_dialect_error("abeja", response)
    assert tracebacks == []


async def test_a_bad_event_size_is_a_400_and_applies_nothing(client, world, tracebacks):
    headers = {**world.headers("registry"), "Content-Type": "application/json"}
    before = await snapshot(client, world)
    for size in [*BAD_NUMBERS, *(json.dumps(value) for value in BAD_INTEGERS)]:
        response = await client.post("/registry/events", content=event_with(size), headers=headers)
        assert response.status_code == 400, (size[:20], response.text)
        assert_dialect_error("registry", response)
    assert tracebacks == []
    assert await snapshot(client, world) == before


def test_the_event_helper_writes_the_size_it_is_given():
    assert json.loads(event_with("7"))["events"][0]["target"]["size"] == 7


SURROGATE_BODIES = {
    "v1-login": ("v1", "POST", "/v1/generate-api-token/", '{"username": {v}, "password": "x"}'),
    "v1-create": ("v1", "POST", "/v1/repositories/team/", '{"repo_name": "ok", "description": {v}}'),
    "v1-update": ("v1", "PUT", "/v1/repositories/team/app", '{"description": {v}}'),
    "swr-namespace": ("swr", "POST", "/v2/manage/namespaces", '{"namespace": {v}}'),
    "swr-update": ("swr", "PATCH", TEAM + "/repos/app", '{"is_public": true, "description": {v}}'),
    "swr-access": ("swr", "POST", TEAM + "/access", '[{"user_name": {v}, "auth": 1}]'),
    "abeja-create": ("abeja", "POST", ORG, '{"name": "ok", "description": {v}}'),
    "registry-event": ("registry", "POST", "/registry/events", PULLED),
}  # fmt: skip


@pytest.mark.parametrize("field", SURROGATE_BODIES)
async def test_a_lone_surrogate_in_json_is_a_400_and_writes_nothing(client, world, tracebacks, field):
    dialect, method, path, body = SURROGATE_BODIES[field]
    headers = {"Content-Type": "application/json"}
    if field != "v1-login":  # logging in is anonymous
        headers.update(world.headers(dialect))
    before = await snapshot(client, world)
    response = await client.request(
        method, path.format(org=world.org_id), content=body.replace("{v}", LONE_SURROGATE), headers=headers
    )
    assert response.status_code == 400, response.text
    assert_dialect_error(dialect, response)
    assert tracebacks == []
    assert await snapshot(client, world) == before


async def test_a_surrogate_pair_is_still_text(client, world):
    body = '{"is_public": false, "description": "\\ud83d\\ude00"}'
    headers = {**world.headers("swr"), "Content-Type": "application/json"}
    updated = await client.patch(TEAM + "/repos/app", content=body, headers=headers)
    assert updated.status_code == 201, updated.text
    shown = await client.get(TEAM + "/repos/app", headers=world.headers("swr"))
    assert shown.json()["description"] == "\N{GRINNING FACE}"


@pytest.mark.parametrize(
    "query", ["name={v}", "filter=name::{v}", "namespace=team&name={v}", "filter=namespace::team|name::{v}"]
)
async def test_a_name_filter_over_255_characters_is_a_400(client, world, tracebacks, query):
    for length in (256, 60_000):
        url = "/v2/manage/repos?" + query.format(v="a" * length)
        response = await client.get(url, headers=world.headers("swr"))
        assert response.status_code == 400, response.text
        assert_dialect_error("swr", response)
    assert tracebacks == []


async def test_a_name_filter_of_255_characters_is_answered(client, world):
    response = await client.get("/v2/manage/repos?name=" + "a" * 255, headers=world.headers("swr"))
    assert response.status_code == 200, response.text
    assert response.json() == []
