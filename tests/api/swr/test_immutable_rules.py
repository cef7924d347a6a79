"""SWR's immutable-tag rule calls in process (both databases): who may do what, the 15-rule limit, a
duplicate rule's 409, every bad body a 400 in SWR's format, another instance or project a 404, the
list's paging and what it shows each caller, and the rules taking effect in the one decision."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from repohub.domain.accounts import project_id_for
from repohub.domain.entities import Role
from repohub.domain.immutability.rules import MAX_RULES_PER_NAMESPACE
from repohub.store.tables import AuditRow, ImmutableRuleRow
from tests.api.swr.helpers import auth
from tests.immutable_rules import rule
from tests.world import World


def assert_swr_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error_code", "error_msg"}, error
    assert error["error_code"].startswith(f"SVCSTG.SWR.{status}"), error
    return error


class Caller:
    """One user's view of the instance: its token and the base of its enterprise-edition paths."""

    def __init__(self, token: str | None, base: str) -> None:
        self.headers = auth(token) if token else {}
        self.base = base

    def rules(self, namespace: str | None = None) -> str:
        if namespace is None:
            return f"{self.base}/immutabletagrules"
        return f"{self.base}/namespaces/{namespace}/immutabletagrules"


async def caller(accounts: World, settings: Any, name: str, *, admin: bool = False) -> Caller:
    token = await accounts.user(name, admin=admin)
    async with accounts.service(name) as service:
        user = service.principal.user
        assert user is not None
        project = project_id_for(user)
    return Caller(token, f"/v2/{project}/instances/{settings.resolved_swr_instance_id}")


async def namespace_id(accounts: World, name: str) -> int:
    async with accounts.service() as service:
        namespace = await service.store.namespaces.by_name(name)
    assert namespace is not None
    return namespace.id


@pytest.fixture
async def alice(accounts, settings) -> Caller:
    """alice, admin of acme (repository acme/app, private)."""
    me = await caller(accounts, settings, "alice")
    await accounts.org("acme", owner="alice")
    await accounts.repository("acme/app", by="alice")
    return me


async def create(client, who: Caller, namespace: str = "acme", **body: Any) -> int:
    created = await client.post(who.rules(namespace), json=rule(**body), headers=who.headers)
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"id"} and isinstance(created.json()["id"], int)
    return int(created.json()["id"])


# -- the four calls ----------------------------------------------------------------------------------
async def test_create_list_replace_and_delete_a_rule(client, accounts, alice):
    acme = await namespace_id(accounts, "acme")
    rule_id = await create(client, alice)
    listed = await client.get(alice.rules(), params={"namespace_id": acme}, headers=alice.headers)
    assert listed.status_code == 200, listed.text
    selector = {"kind": "doublestar", "decoration": "matches", "pattern": "v*", "extras": ""}
    scope = {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**", "extras": ""}
    assert listed.json() == {
        "immutable_rules": [
            {
                "id": rule_id,
                "namespace_id": acme,
                "namespace_name": "acme",
                "priority": 0,
                "disabled": False,
                "action": "immutable",
                "template": "immutable_template",
                "tag_selectors": [selector],
                "scope_selectors": {"repository": [scope]},
            }
        ],
        "total": 1,
    }

    one = f"{alice.rules('acme')}/{rule_id}"
    replaced = await client.put(
        one, json=rule("release-*", "app", priority=5, disabled=True), headers=alice.headers
    )
    assert (replaced.status_code, replaced.content) == (200, b"")
    [after] = (await client.get(alice.rules(), headers=alice.headers)).json()["immutable_rules"]
    assert (after["id"], after["priority"], after["disabled"]) == (rule_id, 5, True)
    assert after["tag_selectors"][0]["pattern"] == "release-*"
    assert after["scope_selectors"]["repository"][0]["pattern"] == "app"

    deleted = await client.delete(one, headers=alice.headers)
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert (await client.get(alice.rules(), headers=alice.headers)).json() == {
        "immutable_rules": [],
        "total": 0,
    }
    assert_swr_error(await client.delete(one, headers=alice.headers), 404)
    assert_swr_error(await client.put(one, json=rule(), headers=alice.headers), 404)


async def test_a_rule_made_here_is_what_the_one_decision_applies(client, app, accounts, alice):
    await accounts.tag("acme/app", "v1")
    await accounts.tag("acme/app", "latest")
    rule_id = await create(client, alice)

    async def protected() -> dict[str, int]:
        async with accounts.service() as service:
            repository = await service.store.repositories.by_name(await namespace_id(accounts, "acme"), "app")
            assert repository is not None
            return await service.immutability.protected(repository)

    assert await protected() == {"v1": rule_id}
    one = f"{alice.rules('acme')}/{rule_id}"
    await client.put(one, json=rule(disabled=True), headers=alice.headers)
    assert await protected() == {}
    await client.put(one, json=rule("v*", tag_decoration="excludes"), headers=alice.headers)
    assert await protected() == {"latest": rule_id}
    await client.delete(one, headers=alice.headers)
    assert await protected() == {}


async def test_every_rule_write_is_in_the_audit_trail_under_its_caller(client, app, alice):
    rule_id = await create(client, alice)
    one = f"{alice.rules('acme')}/{rule_id}"
    await client.put(one, json=rule(disabled=True), headers=alice.headers)
    await client.delete(one, headers=alice.headers)
    async with app.state.repohub.sessions() as session:
        query = select(AuditRow.actor, AuditRow.action).where(AuditRow.action.like("% immutable_rules"))
        trail = (await session.execute(query.order_by(AuditRow.id))).all()
    assert [tuple(entry) for entry in trail] == [
        ("alice", "insert immutable_rules"),
        ("alice", "update immutable_rules"),
        ("alice", "delete immutable_rules"),
    ]


# -- who may do what ---------------------------------------------------------------------------------
@pytest.fixture
async def team(accounts, settings) -> dict[str, Caller]:
    """team: alice admin, bob member, carol viewer; dave outside; root a site admin. hidden: alice's,
    nothing public (undisclosed to dave); open: alice's, with a public repository (disclosed)."""
    callers = {name: await caller(accounts, settings, name) for name in ("alice", "bob", "carol", "dave")}
    callers["root"] = await caller(accounts, settings, "root", admin=True)
    for name in ("hidden", "open"):
        await accounts.org(name, owner="alice", members={"bob": Role.MEMBER, "carol": Role.VIEWER})
    await accounts.repository("open/app", by="alice", public=True)
    return callers


async def _statuses(client, who: Caller, namespace: str, rule_id: int) -> dict[str, int]:
    one = f"{who.rules(namespace)}/{rule_id}"
    return {
        "create": (await client.post(who.rules(namespace), json=rule("x*"), headers=who.headers)).status_code,
        "update": (await client.put(one, json=rule("y*"), headers=who.headers)).status_code,
        "delete": (await client.delete(one, headers=who.headers)).status_code,
    }


@pytest.mark.parametrize(
    ("who", "namespace", "expected"),
    [
        ("alice", "hidden", {"create": 201, "update": 200, "delete": 200}),
        ("root", "hidden", {"create": 201, "update": 200, "delete": 200}),
        ("bob", "hidden", {"create": 403, "update": 403, "delete": 403}),
        ("carol", "hidden", {"create": 403, "update": 403, "delete": 403}),
        # An outsider: an undisclosed namespace is not there; a disclosed one is, but its rules are
        # its admins' business.
        ("dave", "hidden", {"create": 404, "update": 404, "delete": 404}),
        ("dave", "open", {"create": 403, "update": 403, "delete": 403}),
    ],
)
async def test_admins_manage_rules_others_are_refused(client, accounts, team, who, namespace, expected):
    rule_id = await create(client, team["alice"], namespace)
    assert await _statuses(client, team[who], namespace, rule_id) == expected
    # The first rule, plus the one created, less the one deleted: a refusal changed nothing.
    left = 1 + (expected["create"] == 201) - (expected["delete"] == 200)
    assert await accounts.count(ImmutableRuleRow) == left


async def test_a_refusal_says_what_is_needed_and_a_hidden_namespace_is_a_missing_one(client, team):
    rule_id = await create(client, team["alice"], "hidden")
    refused = assert_swr_error(
        await client.put(
            f"{team['bob'].rules('hidden')}/{rule_id}", json=rule(), headers=team["bob"].headers
        ),
        403,
    )
    assert "admin" in refused["error_msg"]
    hidden = assert_swr_error(
        await client.post(team["dave"].rules("hidden"), json=rule(), headers=team["dave"].headers), 404
    )
    missing = assert_swr_error(
        await client.post(team["dave"].rules("nowhere"), json=rule(), headers=team["dave"].headers), 404
    )
    assert hidden["error_msg"].replace("hidden", "N") == missing["error_msg"].replace("nowhere", "N")


async def test_anonymous_callers_get_401_on_every_call(client, team):
    rule_id = await create(client, team["alice"], "hidden")
    base = team["alice"]
    one = f"{base.rules('hidden')}/{rule_id}"
    for headers in ({}, {"X-Auth-Token": "not-a-token"}):
        answers = [
            await client.post(base.rules("hidden"), json=rule("x*"), headers=headers),
            await client.get(base.rules(), headers=headers),
            await client.put(one, json=rule("x*"), headers=headers),
            await client.delete(one, headers=headers),
        ]
        for answer in answers:
            assert_swr_error(answer, 401)


async def test_the_list_shows_the_rules_of_the_callers_namespaces(client, accounts, team):
    alice = team["alice"]
    ids = {namespace: await create(client, alice, namespace) for namespace in ("hidden", "open")}
    ids["alice"] = await create(client, alice, "alice")  # alice's own namespace
    namespaces = {name: await namespace_id(accounts, name) for name in ("hidden", "open", "alice")}

    async def listed(who: str, **params: Any) -> list[int]:
        answer = await client.get(team[who].rules(), params=params, headers=team[who].headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["total"] == len(body["immutable_rules"])
        return [entry["id"] for entry in body["immutable_rules"]]

    everything = sorted(ids.values())
    assert sorted(await listed("alice")) == everything
    assert sorted(await listed("root")) == everything
    assert sorted(await listed("carol")) == sorted([ids["hidden"], ids["open"]])
    assert await listed("dave") == []
    assert await listed("bob", namespace_id=namespaces["open"]) == [ids["open"]]
    # Narrowed to a namespace dave may not read: empty, whether it is undisclosed, disclosed by a
    # public repository, or missing; alice's own namespace is hers alone.
    for other in (namespaces["hidden"], namespaces["open"], 999_999):
        assert await listed("dave", namespace_id=other) == []
    assert await listed("bob", namespace_id=namespaces["alice"]) == []
    assert await listed("root", namespace_id=namespaces["alice"]) == [ids["alice"]]


# -- the limit and duplicates ------------------------------------------------------------------------
async def test_a_namespace_holds_at_most_15_rules(client, accounts, alice):
    for number in range(MAX_RULES_PER_NAMESPACE):
        await create(client, alice, tags=f"v{number}.*")
    refused = assert_swr_error(
        await client.post(alice.rules("acme"), json=rule("w*"), headers=alice.headers), 400
    )
    assert str(MAX_RULES_PER_NAMESPACE) in refused["error_msg"]
    assert await accounts.count(ImmutableRuleRow) == MAX_RULES_PER_NAMESPACE
    # Another namespace has room of its own.
    await create(client, alice, "alice", tags="w*")


async def test_rules_created_at_once_never_pass_the_limit(client, accounts, alice):
    for number in range(MAX_RULES_PER_NAMESPACE - 1):
        await create(client, alice, tags=f"v{number}.*")
    answers = await asyncio.gather(
        *(client.post(alice.rules("acme"), json=rule(f"last{n}-*"), headers=alice.headers) for n in range(3))
    )
    assert sorted(answer.status_code for answer in answers) == [201, 400, 400]
    assert await accounts.count(ImmutableRuleRow) == MAX_RULES_PER_NAMESPACE


async def test_a_rule_saying_what_another_says_is_409(client, accounts, alice):
    first = await create(client, alice)
    # Priority and disabled do not make it another rule: the selectors do.
    duplicate = await client.post(
        alice.rules("acme"), json=rule(priority=3, disabled=True), headers=alice.headers
    )
    assert_swr_error(duplicate, 409)
    second = await create(client, alice, tags="v*", tag_decoration="excludes")
    onto_first = await client.put(f"{alice.rules('acme')}/{second}", json=rule(), headers=alice.headers)
    assert_swr_error(onto_first, 409)
    # A rule replaced by what it says already is no duplicate of itself.
    itself = await client.put(f"{alice.rules('acme')}/{first}", json=rule(priority=1), headers=alice.headers)
    assert itself.status_code == 200, itself.text
    assert await accounts.count(ImmutableRuleRow) == 2
    # The same rule in another namespace is another rule.
    await create(client, alice, "alice")


# -- bad input ---------------------------------------------------------------------------------------
def _without(field: str) -> dict[str, Any]:
    body = rule()
    del body[field]
    return body


def _selector(**fields: Any) -> dict[str, Any]:
    return rule() | {
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*", **fields}]
    }


BAD_BODIES: dict[str, Any] = {
    "tag_selectors missing": _without("tag_selectors"),
    "scope_selectors missing": _without("scope_selectors"),
    "unknown field": rule(name="x"),
    "action other": rule(action="retain"),
    "template other": rule(template="latestPushedK"),
    "priority negative": rule(priority=-1),
    "priority text": rule(priority="1"),
    "priority beyond int32": rule(priority=2**31),
    "priority true": rule(priority=True),
    "disabled text": rule(disabled="false"),
    "tag_selectors empty": rule() | {"tag_selectors": []},
    "two tag selectors": rule() | {"tag_selectors": rule()["tag_selectors"] * 2},
    "tag_selectors an object": rule() | {"tag_selectors": rule()["tag_selectors"][0]},
    "selector a string": rule() | {"tag_selectors": ["v*"]},
    "kind regexp": _selector(kind="regexp"),
    "kind missing": {
        **rule(),
        "tag_selectors": [{"decoration": "matches", "pattern": "v*"}],
    },
    "tag decoration repoMatches": rule(tag_decoration="repoMatches"),
    "repo decoration matches": rule(repo_decoration="matches"),
    "decoration unknown": rule(tag_decoration="contains"),
    "selector field unknown": _selector(label="x"),
    "extras a number": _selector(extras=1),
    "pattern missing": {**rule(), "tag_selectors": [{"kind": "doublestar", "decoration": "matches"}]},
    "pattern a number": rule(tags=7),
    "pattern empty": rule(tags=""),
    "pattern unclosed set": rule(tags="v[0-9"),
    "pattern unclosed brace": rule(tags="{a,b"),
    "pattern stray brace": rule(tags="a}"),
    "pattern too long": rule(tags="a" * 257),
    "pattern control character": rule(tags="v\n1"),
    "pattern too many spellings": rule(tags="{a,b}" * 7),
    "repository pattern broken": rule(repos="[]"),
    "scope other key": rule() | {"scope_selectors": {"tag": rule()["tag_selectors"]}},
    "scope two keys": rule()
    | {"scope_selectors": {"repository": rule()["tag_selectors"], "tag": rule()["tag_selectors"]}},
    "scope a list": rule() | {"scope_selectors": rule()["scope_selectors"]["repository"]},
}


@pytest.mark.parametrize("sent", BAD_BODIES.values(), ids=BAD_BODIES.keys())
async def test_a_bad_body_is_400_in_swr_format_and_changes_nothing(client, accounts, alice, sent):
    assert_swr_error(await client.post(alice.rules("acme"), json=sent, headers=alice.headers), 400)
    assert await accounts.count(ImmutableRuleRow) == 0
    rule_id = await create(client, alice)
    one = f"{alice.rules('acme')}/{rule_id}"
    assert_swr_error(await client.put(one, json=sent, headers=alice.headers), 400)
    [kept] = (await client.get(alice.rules(), headers=alice.headers)).json()["immutable_rules"]
    assert kept["tag_selectors"][0]["pattern"] == "v*"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", "application/json"),
        (b"null", "application/json"),
        (b"[]", "application/json"),
        (b"{", "application/json"),
        (b'{"priority": "\\ud800"}', "application/json"),
        (b'{"priority": 0}', "text/plain"),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_400(client, accounts, alice, content, content_type):
    headers = {**alice.headers, "Content-Type": content_type}
    assert_swr_error(await client.post(alice.rules("acme"), content=content, headers=headers), 400)
    assert await accounts.count(ImmutableRuleRow) == 0


@pytest.mark.parametrize("rule_id", ["abc", "0", "-1", "1.5", "9" * 30, "%2e%2e", "999999"])
async def test_a_rule_id_that_names_no_rule_is_404(client, alice, rule_id):
    await create(client, alice)
    one = f"{alice.rules('acme')}/{rule_id}"
    assert_swr_error(await client.put(one, json=rule(), headers=alice.headers), 404)
    assert_swr_error(await client.delete(one, headers=alice.headers), 404)


async def test_a_rule_is_reached_only_through_its_own_namespace(client, accounts, alice):
    rule_id = await create(client, alice)
    elsewhere = f"{alice.rules('alice')}/{rule_id}"  # alice administers her own namespace too
    assert_swr_error(await client.put(elsewhere, json=rule("x*"), headers=alice.headers), 404)
    assert_swr_error(await client.delete(elsewhere, headers=alice.headers), 404)
    assert await accounts.count(ImmutableRuleRow) == 1


async def test_another_instance_or_project_is_404_on_every_call(client, accounts, settings, alice):
    rule_id = await create(client, alice)
    bob = await caller(accounts, settings, "bob")
    ours = settings.resolved_swr_instance_id
    project = alice.base.split("/")[2]
    bases = [
        f"/v2/{project}/instances/other",  # another instance
        bob.base.replace(bob.base.split("/")[2], project),  # bob naming alice's project
        f"/v2/{'0' * 32}/instances/{ours}",  # a project that does not exist
    ]
    for who, base in ((alice, bases[0]), (bob, bases[1]), (alice, bases[2])):
        wrong = Caller(None, base)
        one = f"{wrong.rules('acme')}/{rule_id}"
        answers = [
            await client.post(wrong.rules("acme"), json=rule("x*"), headers=who.headers),
            await client.get(wrong.rules(), headers=who.headers),
            await client.put(one, json=rule("x*"), headers=who.headers),
            await client.delete(one, headers=who.headers),
        ]
        for answer in answers:
            assert_swr_error(answer, 404)
    assert await accounts.count(ImmutableRuleRow) == 1


# -- paging ------------------------------------------------------------------------------------------
async def test_the_list_pages_by_offset_and_limit(client, accounts, alice):
    made = [await create(client, alice, tags=f"v{number}.*", priority=0) for number in range(12)]

    async def page(**params: Any) -> tuple[list[int], int]:
        answer = await client.get(alice.rules(), params=params, headers=alice.headers)
        assert answer.status_code == 200, answer.text
        return [entry["id"] for entry in answer.json()["immutable_rules"]], answer.json()["total"]

    assert await page() == (made[:10], 12)  # SWR's default limit is 10
    assert await page(offset=10, limit=10) == (made[10:], 12)
    assert await page(offset=4, limit=4) == (made[4:8], 12)
    assert await page(offset=12) == ([], 12)
    assert await page(limit=100) == (made, 12)


async def test_priority_orders_the_list_within_a_namespace(client, alice):
    low = await create(client, alice, tags="a*", priority=9)
    high = await create(client, alice, tags="b*", priority=1)
    listed = (await client.get(alice.rules(), headers=alice.headers)).json()["immutable_rules"]
    assert [entry["id"] for entry in listed] == [high, low]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"offset": "-1"},
        {"offset": "x"},
        {"limit": "1.5"},
        {"namespace_id": "abc"},
        {"namespace_id": "-1"},
        {"namespace_id": "9" * 30},
    ],
)
async def test_bad_list_parameters_are_400(client, alice, params):
    assert_swr_error(await client.get(alice.rules(), params=params, headers=alice.headers), 400)


@pytest.mark.parametrize("call", ["update", "delete"])
async def test_a_rule_deleted_concurrently_is_a_404_not_a_200(accounts: World, call: str) -> None:
    """The row count inside the transaction decides: a delete landing between any earlier read and
    the write leaves nothing to change, and the caller hears so."""
    from repohub.domain.errors import NotFound
    from tests.immutable_rules import add_rule, delete_rule

    await accounts.user("alice")
    await accounts.org("acme", owner="alice")
    rule_id = await add_rule(accounts.app, "acme", rule())
    async with accounts.service("alice") as service:
        transaction = service.store.transaction

        def deleted_first(*args: Any, **options: Any) -> Any:
            # The concurrent delete commits just before this call's transaction starts.
            async def enter() -> Any:
                await delete_rule(accounts.app, rule_id)
                return transaction(*args, **options)

            return _Late(enter)

        service.store.transaction = deleted_first  # type: ignore[method-assign]
        with pytest.raises(NotFound):
            if call == "update":
                await service.immutable_rules.update("acme", rule_id, rule("w*"))
            else:
                await service.immutable_rules.delete("acme", rule_id)


class _Late:
    """An async context manager made by a coroutine when entered (the concurrent delete runs first)."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._inner: Any = None

    async def __aenter__(self) -> Any:
        self._inner = await self._make()
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._inner.__aexit__(*exc)
