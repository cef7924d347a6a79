"""SWR's webhook policy calls in process (both databases): every bad body, query and path a 400 or
404 in SWR's format and nothing written, who may do what, the list's filters, order and paging,
``auth_header`` sealed and never answered, an Alauda hook shown as a policy and kept through an
SWR update, and the jobs list rendering the attempts the delivery records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, select

from repohub.domain.accounts import project_id_for
from repohub.domain.entities import Role
from repohub.domain.webhooks.hooks import FORMAT_ALAUDA
from repohub.store.tables import WebhookDeliveryRow, WebhookJobRow, WebhookRow
from tests.api.swr.test_immutable_rules import Caller, assert_swr_error, caller, namespace_id
from tests.world import World

# A public address (no DNS asked): the tests' settings do not allow private targets.
PUBLIC = "http://93.184.216.34:8080/hook"
EVERYTHING = {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**", "extras": ""}
EVERY_TAG = {"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": ""}


def policies(who: Caller, namespace: str | None = None) -> str:
    if namespace is None:
        return f"{who.base}/webhook/policies"
    return f"{who.base}/namespaces/{namespace}/webhook/policies"


def body(**changes: Any) -> dict[str, Any]:
    """A valid policy body as huaweicloudsdkswr sends it, with ``changes`` (None: left out)."""
    target = {"type": "http", "address": PUBLIC, "address_type": "internet"}
    target.update(changes.pop("target", {}))
    base: dict[str, Any] = {
        "name": "ci",
        "description": "tell the CI",
        "targets": [target],
        "scope_rules": [
            {
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
                "scope_selectors": {
                    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "app"}]
                },
                "repo_scope_mode": "regular",
            }
        ],
        "event_types": ["PUSH_ARTIFACT"],
        "enabled": True,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


@pytest.fixture
async def alice(accounts: World, settings: Any) -> Caller:
    """alice, admin of acme (private repository acme/app) and of beta; bob a member of acme."""
    me = await caller(accounts, settings, "alice")
    await accounts.user("bob")
    await accounts.org("acme", owner="alice", members={"bob": Role.MEMBER})
    await accounts.org("beta", owner="alice")
    await accounts.repository("acme/app", by="alice")
    return me


async def as_caller(accounts: World, settings: Any, name: str) -> Caller:
    """An existing user (``accounts.user``) as a caller of the instance."""
    async with accounts.service(name) as service:
        user = service.principal.user
        assert user is not None
        project = project_id_for(user)
    return Caller(accounts.tokens[name], f"/v2/{project}/instances/{settings.resolved_swr_instance_id}")


async def create(client: Any, who: Caller, namespace: str = "acme", **changes: Any) -> int:
    created = await client.post(policies(who, namespace), json=body(**changes), headers=who.headers)
    assert created.status_code == 201, created.text
    assert set(created.json()) == {"id"} and isinstance(created.json()["id"], int)
    return int(created.json()["id"])


async def stored_header(app: Any, hook_id: int) -> str | None:
    async with app.state.repohub.sessions() as session:
        query = select(WebhookRow.auth_header).where(WebhookRow.id == hook_id)
        return (await session.execute(query)).scalar_one()


# -- the calls --------------------------------------------------------------------------------------
async def test_create_show_list_replace_and_delete_a_policy(client, accounts, alice):
    acme = await namespace_id(accounts, "acme")
    hook_id = await create(client, alice, target={"auth_header": "Authorization:Bearer s3cret"})
    one = f"{policies(alice, 'acme')}/{hook_id}"
    shown = await client.get(one, headers=alice.headers)
    assert shown.status_code == 200, shown.text
    policy = shown.json()
    assert policy.pop("created_at").endswith("Z") and policy.pop("updated_at").endswith("Z")
    assert policy == {
        "id": hook_id,
        "name": "ci",
        "description": "tell the CI",
        "targets": [
            {"type": "http", "address": PUBLIC, "skip_cert_verify": False, "address_type": "internet"}
        ],
        "event_types": ["PUSH_ARTIFACT"],
        "enabled": True,
        "namespace_id": acme,
        "namespace_name": "acme",
        "creator": "alice",
        "scope_rules": [
            {
                "tag_selectors": [{**EVERY_TAG, "pattern": "v*"}],
                "scope_selectors": {"repository": [{**EVERYTHING, "pattern": "app"}]},
                "repo_scope_mode": "regular",
            }
        ],
    }
    listed = await client.get(policies(alice), headers=alice.headers)
    assert listed.status_code == 200 and "Content-Range" not in listed.headers
    assert [item["id"] for item in listed.json()["policies"]] == [hook_id] and listed.json()["total"] == 1
    assert listed.json()["policies"][0]["targets"] == policy["targets"]

    replaced = await client.put(
        one,
        json=body(
            name="ci-2",
            event_types=["PULL_ARTIFACT", "DELETE_ARTIFACT", "PUSH_ARTIFACT"],
            enabled=False,
            scope_rules=None,
            target={"skip_cert_verify": True, "address_type": "internal"},
        ),
        headers=alice.headers,
    )
    assert (replaced.status_code, replaced.content) == (200, b"")
    after = (await client.get(one, headers=alice.headers)).json()
    assert (after["name"], after["enabled"], after["event_types"]) == (
        "ci-2",
        False,
        ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"],
    )
    assert after["targets"][0] == {
        "type": "http",
        "address": PUBLIC,
        "skip_cert_verify": True,
        "address_type": "internal",
    }
    # No scope rule: every repository, every tag.
    assert after["scope_rules"] == [
        {
            "tag_selectors": [EVERY_TAG],
            "scope_selectors": {"repository": [EVERYTHING]},
            "repo_scope_mode": "regular",
        }
    ]

    deleted = await client.delete(one, headers=alice.headers)
    assert (deleted.status_code, deleted.content) == (200, b"")
    assert_swr_error(await client.get(one, headers=alice.headers), 404)
    assert_swr_error(await client.delete(one, headers=alice.headers), 404)
    assert_swr_error(await client.put(one, json=body(), headers=alice.headers), 404)


async def test_auth_header_is_sealed_never_answered_kept_when_left_out_and_removed_when_empty(
    client, app, alice
):
    hook_id = await create(client, alice, target={"auth_header": "X-Token:s3cret;X-Team:ci"})
    sealed = await stored_header(app, hook_id)
    assert sealed and "s3cret" not in sealed
    one = f"{policies(alice, 'acme')}/{hook_id}"
    for answer in (
        await client.get(one, headers=alice.headers),
        await client.get(policies(alice), headers=alice.headers),
    ):
        assert "s3cret" not in answer.text and "auth_header" not in answer.text

    # Read and sent back as the SDK does (no auth_header: the answer had none): kept.
    shown = (await client.get(one, headers=alice.headers)).json()
    resent = {key: shown[key] for key in ("name", "description", "targets", "scope_rules", "event_types")}
    assert (await client.put(one, json={**resent, "enabled": True}, headers=alice.headers)).status_code == 200
    assert await stored_header(app, hook_id) == sealed

    replaced = await client.put(one, json=body(target={"auth_header": "X-Token:n3w"}), headers=alice.headers)
    assert replaced.status_code == 200
    assert await stored_header(app, hook_id) not in (None, sealed)

    assert (
        await client.put(one, json=body(target={"auth_header": ""}), headers=alice.headers)
    ).status_code == 200
    assert await stored_header(app, hook_id) is None


# -- bad input --------------------------------------------------------------------------------------
def _two_scope_rules() -> list[Any]:
    rule = body()["scope_rules"][0]
    return [rule, rule]


BAD_BODIES = {
    "unknown event type": (body(event_types=["PUSH_IMAGE"]), "PUSH_IMAGE"),
    "no event types": (body(event_types=[]), "event_types"),
    "event types not a list": (body(event_types="PUSH_ARTIFACT"), "event_types"),
    "an ftp target": (body(target={"address": "ftp://93.184.216.34/hook"}), "http"),
    "not a URL": (body(target={"address": "hook please"}), "http"),
    "credentials in the URL": (body(target={"address": "http://me:pw@93.184.216.34/"}), "credentials"),
    "a loopback target": (body(target={"address": "http://127.0.0.1:9/hook"}), "private"),
    "a private target": (body(target={"address": "https://10.1.2.3/hook"}), "private"),
    "localhost": (body(target={"address": "http://localhost:8080/hook"}), "private"),
    "a link-local target": (body(target={"address": "http://169.254.169.254/latest"}), "private"),
    "no address": (body(targets=[{"type": "http", "address_type": "internet"}]), "address"),
    "no targets": (body(targets=None), "targets"),
    "zero targets": (body(targets=[]), "targets"),
    "two targets": (body(targets=[body()["targets"][0], body()["targets"][0]]), "exactly one"),
    "a target not http": (body(target={"type": "email"}), "type"),
    "a bad address type": (body(target={"address_type": "intranet"}), "address_type"),
    "skip_cert_verify not a boolean": (body(target={"skip_cert_verify": "yes"}), "skip_cert_verify"),
    "a header smuggled in": (body(target={"auth_header": "X-A:1\r\nHost:evil"}), "auth_header"),
    "auth_header not a string": (body(target={"auth_header": ["X-A:1"]}), "auth_header"),
    "a header value not ASCII": (body(target={"auth_header": "X-A:€"}), "auth_header"),
    "the delivery id header": (body(target={"auth_header": "X-Repohub-Delivery:x"}), "X-Repohub-Delivery"),
    "Content-Type": (body(target={"auth_header": "Content-Type:text/plain"}), "Content-Type"),
    "User-Agent": (body(target={"auth_header": "X-A:1;User-Agent:me"}), "User-Agent"),
    "an Alauda signature": (body(target={"auth_header": "X-Alauda-Signature:sha1=0"}), "auth_header"),
    "a header twice": (body(target={"auth_header": "X-A:1;x-a:2"}), "more than once"),
    "a header list too long": (body(target={"auth_header": "X-A:" + "v" * 4096}), "auth_header"),
    "an unknown target field": (body(target={"secret": "x"}), "secret"),
    "no name": (body(name=None), "name"),
    "a name with spaces": (body(name="my hook"), "name"),
    "a name too long": (body(name="n" * 257), "name"),
    "a name ending in a newline": (body(name="ci\n"), "name"),
    "a name not a string": (body(name=7), "name"),
    "a description too long": (body(description="d" * 1025), "description"),
    "enabled not a boolean": (body(enabled="true"), "enabled"),
    "two scope rules": (body(scope_rules=_two_scope_rules()), "at most one"),
    "scope_rules not a list": (body(scope_rules={"tag_selectors": []}), "scope_rules"),
    "a bad tag pattern": (
        body(scope_rules=[{**body()["scope_rules"][0], "tag_selectors": [{**EVERY_TAG, "pattern": "v[0"}]}]),
        "tag_selectors",
    ),
    "a bad repository decoration": (
        body(
            scope_rules=[
                {
                    **body()["scope_rules"][0],
                    "scope_selectors": {"repository": [{**EVERYTHING, "decoration": "x"}]},
                }
            ]
        ),
        "decoration",
    ),
    "a bad scope mode": (
        body(scope_rules=[{**body()["scope_rules"][0], "repo_scope_mode": "all"}]),
        "repo_scope_mode",
    ),
    "an unknown field": (body(secret="x"), "secret"),
}


@pytest.mark.parametrize(("sent", "wrong"), list(BAD_BODIES.values()), ids=list(BAD_BODIES))
async def test_a_bad_policy_is_a_400_and_writes_nothing(client, accounts, alice, sent, wrong):
    refused = assert_swr_error(
        await client.post(policies(alice, "acme"), json=sent, headers=alice.headers), 400
    )
    assert wrong in refused["error_msg"]
    assert await accounts.count(WebhookRow) == 0


async def test_a_name_may_be_in_any_script_with_digits_underscores_and_hyphens(client, alice):
    hook_id = await create(client, alice, name="构建-ci_2")
    shown = await client.get(f"{policies(alice, 'acme')}/{hook_id}", headers=alice.headers)
    assert shown.json()["name"] == "构建-ci_2"


async def test_an_update_is_held_to_the_same_rules(client, app, alice):
    hook_id = await create(client, alice)
    one = f"{policies(alice, 'acme')}/{hook_id}"
    for sent, _wrong in BAD_BODIES.values():
        assert_swr_error(await client.put(one, json=sent, headers=alice.headers), 400)
    shown = (await client.get(one, headers=alice.headers)).json()
    assert (shown["name"], shown["targets"][0]["address"], shown["event_types"]) == (
        "ci",
        PUBLIC,
        ["PUSH_ARTIFACT"],
    )


@pytest.mark.parametrize(
    "raw",
    [b"[]", b'"policy"', b"{", b'{"name": "\\ud800"}'],
    ids=["a list", "a string", "not JSON", "a lone surrogate"],
)
async def test_a_body_that_is_no_json_object_is_a_400(client, alice, raw):
    sent = await client.post(
        policies(alice, "acme"), content=raw, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert_swr_error(sent, 400)


async def test_a_missing_namespace_a_policy_of_another_and_a_bad_id_are_404(client, alice):
    hook_id = await create(client, alice)
    assert_swr_error(await client.post(policies(alice, "nowhere"), json=body(), headers=alice.headers), 404)
    # alice administers beta too, but the policy is acme's.
    for path in (
        f"{policies(alice, 'beta')}/{hook_id}",
        f"{policies(alice, 'nowhere')}/{hook_id}",
        f"{policies(alice, 'acme')}/{hook_id + 1000}",
        f"{policies(alice, 'acme')}/x{hook_id}",
        f"{policies(alice, 'acme')}/0",
        f"{policies(alice, 'acme')}/{2**64}",
    ):
        assert_swr_error(await client.get(path, headers=alice.headers), 404)
        assert_swr_error(await client.put(path, json=body(), headers=alice.headers), 404)
        assert_swr_error(await client.get(f"{path}/jobs", headers=alice.headers), 404)
        assert_swr_error(await client.delete(path, headers=alice.headers), 404)
    other_instance = policies(alice, "acme").replace(alice.base, alice.base.rsplit("/", 1)[0] + "/not-ours")
    assert_swr_error(await client.post(other_instance, json=body(), headers=alice.headers), 404)
    assert (
        await client.get(f"{policies(alice, 'acme')}/{hook_id}", headers=alice.headers)
    ).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "101"},
        {"limit": "0"},
        {"offset": "-1"},
        {"offset": "x"},
        {"namespace_id": "acme"},
        {"order_column": "id"},
        {"order_type": "up"},
        {"limit": "1.5"},
    ],
    ids=str,
)
async def test_a_bad_list_query_is_a_400(client, alice, query):
    assert_swr_error(await client.get(policies(alice), params=query, headers=alice.headers), 400)


@pytest.mark.parametrize("query", [{"limit": "101"}, {"offset": "-1"}, {"status": "Done"}], ids=str)
async def test_a_bad_jobs_query_is_a_400(client, alice, query):
    hook_id = await create(client, alice)
    path = f"{policies(alice, 'acme')}/{hook_id}/jobs"
    assert_swr_error(await client.get(path, params=query, headers=alice.headers), 400)


# -- who may do what --------------------------------------------------------------------------------
async def test_members_outsiders_and_anonymous_callers_manage_nothing_and_see_nothing(
    client, accounts, settings, alice
):
    hook_id = await create(client, alice)
    acme = await namespace_id(accounts, "acme")
    bob = await as_caller(accounts, settings, "bob")
    carol = await caller(accounts, settings, "carol")
    one = f"{policies(bob, 'acme')}/{hook_id}"

    # A member of acme: the namespace is disclosed to it, but managing hooks is for admins.
    assert_swr_error(await client.post(policies(bob, "acme"), json=body(), headers=bob.headers), 403)
    for answer in (
        await client.get(one, headers=bob.headers),
        await client.put(one, json=body(), headers=bob.headers),
        await client.get(f"{one}/jobs", headers=bob.headers),
        await client.delete(one, headers=bob.headers),
    ):
        assert_swr_error(answer, 404)
    # An outsider: acme (private) is not disclosed to it, so it is missing.
    assert_swr_error(await client.post(policies(carol, "acme"), json=body(), headers=carol.headers), 404)
    assert_swr_error(await client.get(f"{policies(carol, 'acme')}/{hook_id}", headers=carol.headers), 404)
    for who in (bob, carol):
        for query in ({}, {"namespace_id": str(acme)}):
            listed = await client.get(policies(who), params=query, headers=who.headers)
            assert listed.status_code == 200 and listed.json() == {"policies": [], "total": 0}
    anonymous = Caller(None, alice.base)
    assert_swr_error(await client.get(policies(anonymous), headers=anonymous.headers), 401)
    assert_swr_error(await client.post(policies(anonymous, "acme"), json=body()), 401)
    assert await accounts.count(WebhookRow) == 1


async def test_a_site_admin_lists_and_manages_every_namespaces_policies(client, accounts, settings, alice):
    hook_id = await create(client, alice)
    root = await caller(accounts, settings, "root", admin=True)
    listed = (await client.get(policies(root), headers=root.headers)).json()
    assert [item["id"] for item in listed["policies"]] == [hook_id]
    one = f"{policies(root, 'acme')}/{hook_id}"
    assert (await client.put(one, json=body(name="by-root"), headers=root.headers)).status_code == 200
    assert (await client.get(one, headers=root.headers)).json()["name"] == "by-root"


# -- the list ---------------------------------------------------------------------------------------
async def test_the_list_filters_orders_and_pages(client, accounts, alice):
    beta = await namespace_id(accounts, "beta")
    first = await create(client, alice, name="zeta-build")
    second = await create(client, alice, "beta", name="alpha-deploy")
    third = await create(client, alice, name="mid-BUILD")

    async def ids(**query: str) -> list[int]:
        answer = await client.get(policies(alice), params=query, headers=alice.headers)
        assert answer.status_code == 200, answer.text
        return [item["id"] for item in answer.json()["policies"]]

    assert await ids() == [third, second, first]  # created_at, newest first
    assert await ids(order_column="created_at", order_type="asc") == [first, second, third]
    assert await ids(order_column="name", order_type="asc") == [second, third, first]
    assert await ids(order_column="name", order_type="desc") == [first, third, second]
    assert await ids(name="build") == [third, first]
    assert await ids(namespace_id=str(beta)) == [second]
    assert await ids(namespace_id="999999") == []

    paged = await client.get(
        policies(alice), params={"offset": "1", "limit": "1", "order_type": "asc"}, headers=alice.headers
    )
    assert [item["id"] for item in paged.json()["policies"]] == [second]
    assert paged.json()["total"] == 3 and paged.headers["Content-Range"] == "1-1/3"
    beyond = await client.get(policies(alice), params={"offset": "3", "limit": "2"}, headers=alice.headers)
    assert beyond.json() == {"policies": [], "total": 3} and beyond.headers["Content-Range"] == "3-0/3"


async def test_the_default_page_is_ten(client, alice):
    for number in range(11):
        await create(client, alice, name=f"p{number}")
    listed = (await client.get(policies(alice), headers=alice.headers)).json()
    assert (len(listed["policies"]), listed["total"]) == (10, 11)


# -- Alauda's hooks seen as policies ----------------------------------------------------------------
async def alauda_hook(client: Any, accounts: World, repository: str | None) -> int:
    """A hook alice creates through Alauda's ``/v1/hooks``: of acme/``repository``, or all of acme."""
    created = await client.post(
        "/v1/hooks",
        json={
            "subject_type": "image_repo",
            "subject": "acme" if repository is None else f"acme/{repository}",
            "events": ["image:push", "image:delete"],
            "url": PUBLIC,
            "secret": "alauda-secret",
            "name": "from-v1",
        },
        headers=accounts.auth("alice"),
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def test_an_alauda_hook_is_listed_as_a_policy_of_its_repository(client, accounts, alice):
    one_repository = await alauda_hook(client, accounts, "app")
    namespace_wide = await alauda_hook(client, accounts, None)
    listed = (await client.get(policies(alice), headers=alice.headers)).json()["policies"]
    by_id = {item["id"]: item for item in listed}
    for hook_id, pattern in ((one_repository, "app"), (namespace_wide, "**")):
        shown = by_id[hook_id]
        assert shown["targets"][0]["address"] == PUBLIC
        assert shown["event_types"] == ["PUSH_ARTIFACT", "DELETE_ARTIFACT"]
        [rule] = shown["scope_rules"]
        assert rule["scope_selectors"] == {"repository": [{**EVERYTHING, "pattern": pattern}]}
        assert rule["tag_selectors"] == [EVERY_TAG]
        assert "alauda-secret" not in str(shown)


async def test_an_swr_update_of_an_alauda_hook_keeps_its_format_secret_and_repository(
    client, app, accounts, alice
):
    hook_id = await alauda_hook(client, accounts, "app")
    one = f"{policies(alice, 'acme')}/{hook_id}"
    shown = (await client.get(one, headers=alice.headers)).json()
    resent = {**{key: shown[key] for key in ("description", "targets", "scope_rules")}, "enabled": True}
    changed = await client.put(
        one, json={**resent, "name": "renamed", "event_types": ["PUSH_ARTIFACT"]}, headers=alice.headers
    )
    assert changed.status_code == 200, changed.text
    async with app.state.repohub.sessions() as session:
        query = select(WebhookRow.format, WebhookRow.repository, WebhookRow.secret, WebhookRow.name)
        row = (await session.execute(query.where(WebhookRow.id == hook_id))).one()
    assert (row.format, row.repository, row.name) == (FORMAT_ALAUDA, "app", "renamed")
    assert row.secret and "alauda-secret" not in row.secret
    through_v1 = (await client.get(f"/v1/hooks/{hook_id}", headers=accounts.auth("alice"))).json()
    assert (through_v1["subject"], through_v1["name"], through_v1["events"]) == (
        "acme/app",
        "renamed",
        ["image:push"],
    )

    # Another scope rule than the one shown replaces the repository.
    wider = await client.put(one, json=body(name="wider"), headers=alice.headers)
    assert wider.status_code == 200
    async with accounts.service("alice") as service:
        hook = await service.webhooks.get(hook_id)
    assert hook.spec.repository is None and hook.spec.scope is not None
    assert (hook.spec.scope.repository.pattern, hook.spec.scope.tag.pattern) == ("app", "v*")
    assert hook.spec.format == FORMAT_ALAUDA
    # v1 says what it can of it: the namespace (its scope rule narrows it further).
    through_v1 = (await client.get(f"/v1/hooks/{hook_id}", headers=accounts.auth("alice"))).json()
    assert through_v1["subject"] == "acme"


# -- jobs -------------------------------------------------------------------------------------------
async def record_attempts(app: Any, hook_id: int) -> None:
    """Two attempts of one push delivery, as the delivery worker records them: a 500, then a 200."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    event = orjson.dumps({"action": "push", "namespace": "acme", "repository": "app"}).decode()
    async with app.state.repohub.sessions() as session, session.begin():
        delivery = (
            await session.execute(
                insert(WebhookDeliveryRow)
                .values(
                    delivery_id="7d4c0f7e-0000-4000-8000-000000000001",
                    hook_id=hook_id,
                    action="push",
                    event=event,
                    state="delivered",
                    attempts=2,
                    next_attempt_at=at,
                )
                .returning(WebhookDeliveryRow.id)
            )
        ).scalar_one()
        for minute, (status, text, code) in enumerate((("Failed", "500", 500), ("Succeed", "200", 200))):
            await session.execute(
                insert(WebhookJobRow).values(
                    delivery_id=delivery,
                    hook_id=hook_id,
                    action="push",
                    status=status,
                    status_text=text,
                    response_code=code,
                    duration_ms=12,
                    created_at=at + timedelta(minutes=minute),
                )
            )


async def test_the_jobs_are_the_attempts_newest_first(client, app, alice):
    hook_id = await create(client, alice)
    path = f"{policies(alice, 'acme')}/{hook_id}/jobs"
    empty = await client.get(path, headers=alice.headers)
    assert (empty.status_code, empty.json()) == (200, {"jobs": [], "total": 0})

    await record_attempts(app, hook_id)
    listed = (await client.get(path, headers=alice.headers)).json()
    assert listed["total"] == 2
    succeeded, failed = listed["jobs"]
    assert (succeeded["status"], succeeded["status_text"], failed["status"], failed["status_text"]) == (
        "Succeed",
        "200",
        "Failed",
        "500",
    )
    assert succeeded["id"] > failed["id"]
    for job in listed["jobs"]:
        assert (job["policy_id"], job["event_type"], job["notify_type"]) == (hook_id, "PUSH_ARTIFACT", "http")
        assert job["created_at"] == job["updated_at"]
        detail = orjson.loads(job["job_detail"])
        assert detail["delivery_id"] == "7d4c0f7e-0000-4000-8000-000000000001"
        assert detail["event"]["repository"] == "app"
    assert failed["created_at"] == "2026-01-01T00:00:00.000000Z"

    only_failed = await client.get(path, params={"status": "Failed"}, headers=alice.headers)
    assert [job["status"] for job in only_failed.json()["jobs"]] == ["Failed"]
    pending = await client.get(path, params={"status": "Pending"}, headers=alice.headers)
    assert pending.json() == {"jobs": [], "total": 0}
    paged = await client.get(path, params={"offset": "1", "limit": "1"}, headers=alice.headers)
    assert [job["id"] for job in paged.json()["jobs"]] == [failed["id"]]
    assert paged.headers["Content-Range"] == "1-1/2"

    # Deleting the policy takes its jobs with it.
    assert (
        await client.delete(f"{policies(alice, 'acme')}/{hook_id}", headers=alice.headers)
    ).status_code == 200
    async with app.state.repohub.sessions() as session:
        left = (await session.execute(select(WebhookJobRow.id))).all()
    assert left == []
