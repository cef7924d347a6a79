"""SWR's retention calls in process: every bad body a 400 in SWR's format, who may do what, the log's
paging, and a repository's deletion taking its policy and log with it (both databases)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from repohub.domain.entities import DueRetention, Role
from repohub.domain.retention.rules import MAX_DAYS, MAX_NUM
from repohub.store.tables import RetentionLogRow, RetentionRow
from tests.api.swr.helpers import auth
from tests.world import World

NS = "/v2/manage/namespaces"
KEEP_2: dict[str, Any] = {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 2}}]}


def rule(template: str = "tag_rule", params: Any = None, **fields: Any) -> dict[str, Any]:
    return {"template": template, "params": {"num": 2} if params is None else params, **fields}


def body(*rules: Any, **fields: Any) -> dict[str, Any]:
    return {"algorithm": "or", "rules": list(rules), **fields}


def selectors(*entries: Any) -> dict[str, Any]:
    return body(rule(tag_selectors=list(entries)))


def retentions(path: str) -> str:
    namespace, repository = path.split("/", 1)
    return f"{NS}/{namespace}/repos/{repository.replace('/', '%2F')}/retentions"


def assert_swr_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error_code", "error_msg"}, error
    assert error["error_code"].startswith(f"SVCSTG.SWR.{status}"), error
    return error


BAD_BODIES = {
    "algorithm not or": {**KEEP_2, "algorithm": "and"},
    "algorithm missing": {"rules": KEEP_2["rules"]},
    "rules missing": {"algorithm": "or"},
    "rules empty": body(),
    "rules not a list": {"algorithm": "or", "rules": rule()},
    "two rules": body(rule(), rule("date_rule", {"days": 3})),
    "rule not an object": body("tag_rule"),
    "template unknown": body(rule("age_rule")),
    "template missing": body({"params": {"num": 2}}),
    "params missing": body({"template": "tag_rule"}),
    "params not an object": body(rule(params=[2])),
    "params wrong key": body(rule(params={"days": 2})),
    "date_rule with num": body(rule("date_rule", {"num": 2})),
    "params extra key": body(rule(params={"num": 2, "days": 2})),
    "params empty": body(rule(params={})),
    "num zero": body(rule(params={"num": 0})),
    "num zero as text": body(rule(params={"num": "0"})),
    "num negative": body(rule(params={"num": -1})),
    "num negative as text": body(rule(params={"num": "-1"})),
    "num abc": body(rule(params={"num": "abc"})),
    "num 1.5 as text": body(rule(params={"num": "1.5"})),
    "num 1.5": body(rule(params={"num": 1.5})),
    "num true": body(rule(params={"num": True})),
    "num null": body(rule(params={"num": None})),
    "num with spaces": body(rule(params={"num": " 2"})),
    "num too large": body(rule(params={"num": MAX_NUM + 1})),
    "days too large": body(rule("date_rule", {"days": str(MAX_DAYS + 1)})),
    "num beyond any integer": body(rule(params={"num": "9" * 40})),
    "tag_selectors not a list": body(rule(tag_selectors={"kind": "label", "pattern": "v1"})),
    "tag_selectors an empty object": body(rule(tag_selectors={})),
    "tag_selectors a string": body(rule(tag_selectors="v1")),
    "tag_selectors too many": selectors(*({"kind": "label", "pattern": f"v{i}"} for i in range(101))),
    "selector not an object": selectors("v1"),
    "selector kind unknown": selectors({"kind": "glob", "pattern": "v*"}),
    "selector kind missing": selectors({"pattern": "v1"}),
    "selector pattern missing": selectors({"kind": "regexp"}),
    "selector pattern not text": selectors({"kind": "regexp", "pattern": 5}),
    "selector extra field": selectors({"kind": "label", "pattern": "v1", "decoration": True}),
    "label that is no tag name": selectors({"kind": "label", "pattern": "v1:latest"}),
    "label empty": selectors({"kind": "label", "pattern": ""}),
    "regexp empty": selectors({"kind": "regexp", "pattern": ""}),
    "regexp invalid": selectors({"kind": "regexp", "pattern": "["}),
    "regexp nested repeat": selectors({"kind": "regexp", "pattern": "(a+)+$"}),
    "regexp back-reference": selectors({"kind": "regexp", "pattern": r"(\w)\1"}),
    "regexp polynomial and slow": selectors({"kind": "regexp", "pattern": ".*.*.*.*x"}),
    "regexp too long": selectors({"kind": "regexp", "pattern": "a" * 257}),
    "extra field in the body": {**KEEP_2, "scope": ""},
    "extra field in a rule": body(rule(priority=1)),
}


@pytest.fixture
async def alice(accounts) -> str:
    token = await accounts.user("alice")
    await accounts.repository("alice/app", by="alice")
    return token


@pytest.mark.parametrize("sent", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_bad_body_is_refused_with_swr_400_and_nothing_is_stored(client, accounts, alice, sent):
    refused = await client.post(retentions("alice/app"), json=sent, headers=auth(alice))
    assert_swr_error(refused, 400)
    assert await accounts.count(RetentionRow) == 0


@pytest.mark.parametrize("sent", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_bad_body_does_not_change_a_policy(client, alice, sent):
    created = await client.post(retentions("alice/app"), json=KEEP_2, headers=auth(alice))
    url = f"{retentions('alice/app')}/{created.json()['id']}"
    assert_swr_error(await client.patch(url, json=sent, headers=auth(alice)), 400)
    assert (await client.get(url, headers=auth(alice))).json()["rules"][0]["params"] == {"num": "2"}


@pytest.mark.parametrize(
    "content", [b"", b"null", b"[]", b'"tag_rule"', b"7", b"{", b'{"algorithm": "\\ud800"}']
)
async def test_a_body_that_is_not_a_json_object_is_400(client, accounts, alice, content):
    headers = {**auth(alice), "Content-Type": "application/json"}
    assert_swr_error(await client.post(retentions("alice/app"), content=content, headers=headers), 400)
    assert await accounts.count(RetentionRow) == 0


async def test_create_list_show_update_delete(client, alice):
    url = retentions("alice/app")
    sent = body(
        rule(
            "date_rule",
            {"days": "30"},
            tag_selectors=[{"kind": "regexp", "pattern": r"^v\d+$"}, {"kind": "label", "pattern": "latest"}],
        )
    )
    created = await client.post(url, json=sent, headers=auth(alice))
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"id"} and isinstance(created.json()["id"], int)
    policy_id = created.json()["id"]
    shown = {
        "algorithm": "or",
        "id": policy_id,
        "rules": [{**sent["rules"][0], "params": {"days": "30"}}],
        "scope": "",
    }
    assert (await client.get(url, headers=auth(alice))).json() == [shown]
    assert (await client.get(f"{url}/{policy_id}", headers=auth(alice))).json() == shown

    changed = await client.patch(f"{url}/{policy_id}", json=KEEP_2, headers=auth(alice))
    assert (changed.status_code, changed.content) == (201, b"")
    after = (await client.get(f"{url}/{policy_id}", headers=auth(alice))).json()
    assert after["rules"] == [{"template": "tag_rule", "params": {"num": "2"}, "tag_selectors": []}]

    deleted = await client.delete(f"{url}/{policy_id}", headers=auth(alice))
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(url, headers=auth(alice))).json() == []
    assert_swr_error(await client.get(f"{url}/{policy_id}", headers=auth(alice)), 404)


async def test_a_second_policy_on_the_repository_is_400(client, accounts, alice):
    url = retentions("alice/app")
    assert (await client.post(url, json=KEEP_2, headers=auth(alice))).status_code == 201
    second = body(rule("date_rule", {"days": 7}))
    error = assert_swr_error(await client.post(url, json=second, headers=auth(alice)), 400)
    assert "one per repository" in error["error_msg"]
    assert await accounts.count(RetentionRow) == 1


async def test_policies_created_at_once_leave_one(client, accounts, alice):
    """The check for an existing policy and the insert race; the unique repository id settles it: the
    loser gets SWR's 400 (the check saw the winner) or 409 (the insert did)."""
    url = retentions("alice/app")
    answers = await asyncio.gather(*(client.post(url, json=KEEP_2, headers=auth(alice)) for _ in range(4)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses[0] == 201 and statuses.count(201) == 1 and set(statuses[1:]) <= {400, 409}, statuses
    for answer in answers[1:]:
        if answer.status_code != 201:
            assert_swr_error(answer, answer.status_code)
    assert await accounts.count(RetentionRow) == 1


@pytest.mark.parametrize("tag_selectors", [None, []], ids=["null", "empty"])
async def test_selectors_left_out_null_or_empty_mean_no_exceptions(client, alice, tag_selectors):
    url = retentions("alice/app")
    sent = body(rule(params={"num": "3"}, tag_selectors=tag_selectors))
    policy_id = (await client.post(url, json=sent, headers=auth(alice))).json()["id"]
    shown = (await client.get(f"{url}/{policy_id}", headers=auth(alice))).json()
    assert shown["rules"] == [{"template": "tag_rule", "params": {"num": "3"}, "tag_selectors": []}]


@pytest.mark.parametrize("retention_id", ["abc", "0", "-1", "1.0", "99999999999999999999", "424242"])
async def test_a_retention_id_that_names_no_policy_is_404(client, alice, retention_id):
    url = retentions("alice/app")
    await client.post(url, json=KEEP_2, headers=auth(alice))
    one = f"{url}/{retention_id}"
    assert_swr_error(await client.get(one, headers=auth(alice)), 404)
    assert_swr_error(await client.patch(one, json=KEEP_2, headers=auth(alice)), 404)
    assert_swr_error(await client.delete(one, headers=auth(alice)), 404)


async def test_a_policy_is_reached_only_through_its_own_repository(client, accounts, alice):
    await accounts.repository("alice/other", by="alice")
    policy_id = (await client.post(retentions("alice/app"), json=KEEP_2, headers=auth(alice))).json()["id"]
    elsewhere = f"{retentions('alice/other')}/{policy_id}"
    assert_swr_error(await client.get(elsewhere, headers=auth(alice)), 404)
    assert_swr_error(await client.delete(elsewhere, headers=auth(alice)), 404)
    assert await accounts.count(RetentionRow) == 1


async def test_a_missing_repository_is_404(client, alice):
    assert_swr_error(await client.get(retentions("alice/nothing"), headers=auth(alice)), 404)
    assert_swr_error(await client.post(retentions("alice/nothing"), json=KEEP_2, headers=auth(alice)), 404)


async def test_names_with_slashes_travel_as_percent_2f(client, accounts, alice):
    await accounts.repository("alice/team/app", by="alice")
    url = retentions("alice/team/app")
    assert "%2F" in url
    policy_id = (await client.post(url, json=KEEP_2, headers=auth(alice))).json()["id"]
    assert [p["id"] for p in (await client.get(url, headers=auth(alice))).json()] == [policy_id]
    assert (await client.get(retentions("alice/app"), headers=auth(alice))).json() == []


# -- who may do what ---------------------------------------------------------------------------------
@pytest.fixture
async def team(accounts) -> dict[str, str]:
    """team: alice admin, bob member, carol viewer; dave outside; root a site admin. A private and a
    public repository, each with a policy."""
    tokens = {name: await accounts.user(name) for name in ("alice", "bob", "carol", "dave")}
    tokens["root"] = await accounts.user("root", admin=True)
    await accounts.org("team", owner="alice", members={"bob": Role.MEMBER, "carol": Role.VIEWER})
    await accounts.repository("team/private", by="alice")
    await accounts.repository("team/public", by="alice", public=True)
    return tokens


async def _calls(client, token: str | None, path: str, policy_id: int) -> dict[str, int]:
    """The status of each of the six calls (creation on a repository that has no policy yet is not
    possible here: a create that passes its checks answers 400, one policy per repository)."""
    url, headers = retentions(path), auth(token) if token else {}
    one = f"{url}/{policy_id}"
    return {
        "create": (await client.post(url, json=KEEP_2, headers=headers)).status_code,
        "list": (await client.get(url, headers=headers)).status_code,
        "show": (await client.get(one, headers=headers)).status_code,
        "histories": (await client.get(f"{url}/histories", headers=headers)).status_code,
        "update": (await client.patch(one, json=KEEP_2, headers=headers)).status_code,
    }


async def _policies(client, admin: str) -> dict[str, int]:
    ids = {}
    for path in ("team/private", "team/public"):
        created = await client.post(retentions(path), json=KEEP_2, headers=auth(admin))
        assert created.status_code == 201, created.text
        ids[path] = created.json()["id"]
    return ids


READS = {"list": 200, "show": 200, "histories": 200}
REFUSED_WRITES = {"create": 403, "update": 403}


@pytest.mark.parametrize(
    ("who", "path", "expected"),
    [
        ("alice", "team/private", {**READS, "create": 400, "update": 201}),  # 400: one per repository
        ("root", "team/private", {**READS, "create": 400, "update": 201}),
        ("bob", "team/private", {**READS, **REFUSED_WRITES}),
        ("carol", "team/private", {**READS, **REFUSED_WRITES}),
        ("bob", "team/public", {**READS, **REFUSED_WRITES}),
        # An outsider: a private repository is not there; a public one is, but its policy is the
        # namespace's business (roles.require: PermissionDenied once the namespace is disclosed).
        ("dave", "team/private", dict.fromkeys(("create", "list", "show", "histories", "update"), 404)),
        ("dave", "team/public", dict.fromkeys(("create", "list", "show", "histories", "update"), 403)),
        (None, "team/private", dict.fromkeys(("create", "list", "show", "histories", "update"), 401)),
        (None, "team/public", dict.fromkeys(("create", "list", "show", "histories", "update"), 401)),
    ],
)
async def test_admins_manage_members_and_viewers_read_outsiders_are_refused(
    client, team, who, path, expected
):
    ids = await _policies(client, team["alice"])
    assert await _calls(client, team.get(who) if who else None, path, ids[path]) == expected


@pytest.mark.parametrize(("who", "status"), [("bob", 403), ("carol", 403), ("dave", 404), (None, 401)])
async def test_only_admins_delete_a_policy(client, team, who, status):
    ids = await _policies(client, team["alice"])
    one = f"{retentions('team/private')}/{ids['team/private']}"
    assert_swr_error(await client.delete(one, headers=auth(team[who]) if who else {}), status)
    assert (await client.get(one, headers=auth(team["bob"]))).status_code == 200
    assert (await client.delete(one, headers=auth(team["alice"]))).status_code == 204


async def test_a_refusal_is_in_swr_format_and_says_what_is_needed(client, team):
    ids = await _policies(client, team["alice"])
    one = f"{retentions('team/private')}/{ids['team/private']}"
    error = assert_swr_error(await client.patch(one, json=KEEP_2, headers=auth(team["carol"])), 403)
    assert "admin" in error["error_msg"]
    assert_swr_error(await client.get(one), 401)


# -- the log ---------------------------------------------------------------------------------------------
async def _log(app, path: str, tags: list[str]) -> None:
    """Entries as a run leaves them (``RetentionStore.record``), one record each, in the order given."""
    world = World(app)
    repository_id = await world.repository_id(path)
    namespace, repository = path.split("/", 1)
    async with world.service() as service:
        store = service.store
        [stored] = await store.retentions.of_repository(repository_id)
        due = DueRetention(stored, namespace, repository, len(tags))
        async with store.transaction():
            for tag in tags:
                await store.retentions.record(stored.id, due, [(tag, "tag_rule")])


async def test_histories_page_newest_first_with_content_range(client, app, alice):
    url = retentions("alice/app")
    policy_id = (await client.post(url, json=KEEP_2, headers=auth(alice))).json()["id"]
    empty = await client.get(f"{url}/histories", headers=auth(alice))
    assert empty.json() == {"retention_log": [], "total": 0}
    assert "content-range" not in empty.headers
    await _log(app, "alice/app", [f"v{i}" for i in range(5)])

    whole = await client.get(f"{url}/histories", headers=auth(alice))
    assert "content-range" not in whole.headers
    log = whole.json()["retention_log"]
    assert whole.json()["total"] == 5
    assert [entry["tag"] for entry in log] == ["v4", "v3", "v2", "v1", "v0"]
    assert {(e["retention_id"], e["namespace"], e["repo"], e["rule_type"]) for e in log} == {
        (policy_id, "alice", "app", "tag_rule")
    }
    assert all(entry["created_at"].endswith("Z") and isinstance(entry["id"], int) for entry in log)

    paged = await client.get(f"{url}/histories", params={"offset": "1", "limit": "2"}, headers=auth(alice))
    assert [entry["tag"] for entry in paged.json()["retention_log"]] == ["v3", "v2"]
    assert (paged.json()["total"], paged.headers["content-range"]) == (5, "1-2/5")
    # The filter wins over the parameters.
    filtered = await client.get(
        f"{url}/histories",
        params={"offset": "0", "limit": "1", "filter": "limit::3|offset::3"},
        headers=auth(alice),
    )
    assert [entry["tag"] for entry in filtered.json()["retention_log"]] == ["v1", "v0"]
    assert filtered.headers["content-range"] == "3-2/5"


async def test_the_log_outlives_the_policy_it_came_from(client, app, alice):
    url = retentions("alice/app")
    policy_id = (await client.post(url, json=KEEP_2, headers=auth(alice))).json()["id"]
    await _log(app, "alice/app", ["old"])
    assert (await client.delete(f"{url}/{policy_id}", headers=auth(alice))).status_code == 204
    kept = (await client.get(f"{url}/histories", headers=auth(alice))).json()
    assert [(e["tag"], e["retention_id"]) for e in kept["retention_log"]] == [("old", policy_id)]


@pytest.mark.parametrize(
    "params",
    [
        {"offset": "1"},
        {"limit": "2"},
        {"offset": "-1", "limit": "2"},
        {"offset": "0", "limit": "0"},
        {"offset": "0", "limit": "1001"},
        {"offset": "0", "limit": "x"},
        {"filter": "limit::2"},
        {"filter": "tag::v1"},
        {"filter": "limit::2|offset::"},
        {"filter": ""},
    ],
)
async def test_bad_history_paging_is_400(client, alice, params):
    await client.post(retentions("alice/app"), json=KEEP_2, headers=auth(alice))
    url = f"{retentions('alice/app')}/histories"
    assert_swr_error(await client.get(url, params=params, headers=auth(alice)), 400)


# -- the repository's deletion -------------------------------------------------------------------------
async def test_deleting_the_repository_deletes_its_policy_and_log(client, app, accounts, alice):
    await accounts.repository("alice/kept", by="alice")
    for path in ("alice/app", "alice/kept"):
        assert (await client.post(retentions(path), json=KEEP_2, headers=auth(alice))).status_code == 201
        await _log(app, path, ["gone"])
    assert (await client.delete(f"{NS}/alice/repos/app", headers=auth(alice))).status_code == 204
    assert await accounts.count(RetentionRow) == 1
    assert await accounts.count(RetentionLogRow) == 1
    assert len((await client.get(retentions("alice/kept"), headers=auth(alice))).json()) == 1
    # Made again, the repository starts with no policy and an empty log.
    await accounts.repository("alice/app", by="alice")
    assert (await client.get(retentions("alice/app"), headers=auth(alice))).json() == []
    log = await client.get(f"{retentions('alice/app')}/histories", headers=auth(alice))
    assert log.json() == {"retention_log": [], "total": 0}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_policy_sent_as_anything_but_json_is_400(client, accounts, alice, content_type):
    headers = {**auth(alice), **({"Content-Type": content_type} if content_type else {})}
    sent = b'{"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 2}}]}'
    error = assert_swr_error(await client.post(retentions("alice/app"), content=sent, headers=headers), 400)
    assert "application/json" in error["error_msg"]
    assert await accounts.count(RetentionRow) == 0
