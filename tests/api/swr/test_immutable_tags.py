"""Immutable-tag rules over SWR's tag delete, repository delete and retag (in process, no registry):
a protected tag is refused with a 409 in SWR's format and nothing changes; what a rule does not
select (another tag, an ``excludes`` decoration, a disabled rule, a deleted rule) goes as before."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from repohub.domain.entities import Role
from tests.api.swr.helpers import BASE, add_tag, auth
from tests.immutable_rules import add_rule, change_rule, delete_rule, rule
from tests.world import World

REPO = "/v2/manage/namespaces/acme/repos/app"
TAGS = f"{REPO}/tags"


@pytest.fixture
async def acme(accounts: World, app) -> World:
    """acme/app with v1, v2 and latest; carol admin of acme, alice member."""
    for name in ("alice", "carol"):
        await accounts.user(name)
    await accounts.org("acme", owner="carol", members={"alice": Role.MEMBER})
    await accounts.repository("acme/app", by="carol")
    for minute, name in enumerate(["v1", "v2", "latest"]):
        await add_tag(app, "acme", "app", name, at=BASE + timedelta(minutes=minute))
    return accounts


async def tags(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    answer = await client.get(TAGS, headers=auth(token))
    assert answer.status_code == 200, answer.text
    return {item["tag"]: item["digest"] for item in answer.json()}


def assert_immutable(answer: httpx.Response, tag: str, rule_id: int) -> None:
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["error_code"].startswith("SVCSTG.SWR.409")
    assert f"{tag!r}" in body["error_msg"] and f"rule {rule_id}" in body["error_msg"]


async def test_a_protected_tag_is_not_deleted_and_an_unprotected_one_is(client, app, acme: World) -> None:
    carol = acme.tokens["carol"]
    rule_id = await add_rule(app, "acme", rule("v*"))
    before = await tags(client, carol)

    assert_immutable(await client.delete(f"{TAGS}/v1", headers=auth(carol)), "v1", rule_id)
    assert await tags(client, carol) == before

    deleted = await client.delete(f"{TAGS}/latest", headers=auth(carol))
    assert deleted.status_code == 204, deleted.text
    assert set(await tags(client, carol)) == {"v1", "v2"}


async def test_a_tag_sharing_its_image_with_a_protected_tag_is_not_deleted(client, app, acme: World) -> None:
    """Distribution deletes the image, so every tag on it: deleting ``edge`` (on v1's digest) would
    delete the protected v1 in the registry. Moving ``edge`` onto another image first frees it."""
    carol = acme.tokens["carol"]
    rule_id = await add_rule(app, "acme", rule("v1"))
    before = await tags(client, carol)
    await acme.tag("acme/app", "edge", digest=before["v1"])

    refused = await client.delete(f"{TAGS}/edge", headers=auth(carol))
    assert_immutable(refused, "edge", rule_id)
    assert "shares its image with immutable tag 'v1'" in refused.json()["error_msg"]
    assert await tags(client, carol) == {**before, "edge": before["v1"]}

    moved = {"source_tag": "latest", "destination_tag": "edge", "override": True}
    assert (await client.post(TAGS, json=moved, headers=auth(carol))).status_code == 201
    assert (await client.delete(f"{TAGS}/edge", headers=auth(carol))).status_code == 204
    assert await tags(client, carol) == before


async def test_a_repository_holding_a_protected_tag_is_not_deleted(client, app, acme: World) -> None:
    carol = acme.tokens["carol"]
    rule_id = await add_rule(app, "acme", rule("v2", "app"))

    assert_immutable(await client.delete(REPO, headers=auth(carol)), "v2", rule_id)
    assert (await client.get(REPO, headers=auth(carol))).status_code == 200
    assert set(await tags(client, carol)) == {"v1", "v2", "latest"}

    await delete_rule(app, rule_id)  # deleting the rule lifts it
    assert (await client.delete(REPO, headers=auth(carol))).status_code == 204
    assert (await client.get(REPO, headers=auth(carol))).status_code == 404


async def test_a_rule_for_other_repositories_protects_nothing_here(client, app, acme: World) -> None:
    carol = acme.tokens["carol"]
    await add_rule(app, "acme", rule("**", "other"))
    await add_rule(app, "acme", rule("**", "app", repo_decoration="repoExcludes"))
    assert (await client.delete(f"{TAGS}/v1", headers=auth(carol))).status_code == 204
    assert (await client.delete(REPO, headers=auth(carol))).status_code == 204


@pytest.mark.parametrize(
    "lifted", [rule("v*", disabled=True), rule("v*", tag_decoration="excludes")], ids=["disabled", "excludes"]
)
async def test_a_disabled_rule_or_an_excludes_decoration_lifts_it(client, app, acme: World, lifted) -> None:
    carol = acme.tokens["carol"]
    rule_id = await add_rule(app, "acme", rule("v*"))
    assert (await client.delete(f"{TAGS}/v1", headers=auth(carol))).status_code == 409

    await change_rule(app, rule_id, lifted)
    assert (await client.delete(f"{TAGS}/v1", headers=auth(carol))).status_code == 204
    if lifted["tag_selectors"][0]["decoration"] == "excludes":  # "not v*" protects latest now
        assert_immutable(await client.delete(f"{TAGS}/latest", headers=auth(carol)), "latest", rule_id)
    else:
        assert (await client.delete(f"{TAGS}/latest", headers=auth(carol))).status_code == 204


async def test_a_caller_who_may_not_delete_learns_nothing_of_the_rules(client, app, acme: World) -> None:
    await add_rule(app, "acme", rule("v*"))
    answer = await client.delete(f"{TAGS}/v1", headers=auth(acme.tokens["alice"]))
    assert answer.status_code == 403, answer.text
    assert "immutable" not in answer.json()["error_msg"]


async def test_retag_onto_a_protected_tag_is_refused_override_or_not(client, app, acme: World) -> None:
    alice = acme.tokens["alice"]
    rule_id = await add_rule(app, "acme", rule("v*"))
    before = await tags(client, alice)
    for override in (False, True):
        body = {"source_tag": "latest", "destination_tag": "v1", "override": override}
        assert_immutable(await client.post(TAGS, json=body, headers=auth(alice)), "v1", rule_id)
    assert await tags(client, alice) == before

    # A new tag the rule matches is its first push: allowed, and protected from then on.
    new = {"source_tag": "latest", "destination_tag": "v3"}
    first = await client.post(TAGS, json=new, headers=auth(alice))
    assert first.status_code == 201, first.text
    assert (await tags(client, alice))["v3"] == before["latest"]
    again = {"source_tag": "v1", "destination_tag": "v3", "override": True}
    assert_immutable(await client.post(TAGS, json=again, headers=auth(alice)), "v3", rule_id)

    # An unprotected destination still moves with override; deleting the rule lifts the refusal.
    moved = {"source_tag": "v1", "destination_tag": "latest", "override": True}
    assert (await client.post(TAGS, json=moved, headers=auth(alice))).status_code == 201
    await delete_rule(app, rule_id)
    assert (await client.post(TAGS, json=again, headers=auth(alice))).status_code == 201
    assert (await tags(client, alice))["v3"] == before["v1"]


async def test_the_retention_history_says_which_tags_a_rule_kept_and_why(client, app, acme: World) -> None:
    from repohub.domain.retention.runner import RetentionRunner

    carol = acme.tokens["carol"]
    policies = f"{REPO}/retentions"
    keep_one = {
        "algorithm": "or",
        "rules": [{"template": "tag_rule", "params": {"num": "1"}, "tag_selectors": []}],
    }
    assert (await client.post(policies, json=keep_one, headers=auth(carol))).status_code == 201
    rule_id = await add_rule(app, "acme", rule("v1"))
    async with acme.service() as service:
        await RetentionRunner(service.store, None).run()

    assert set(await tags(client, carol)) == {"v1", "latest"}
    [policy] = (await client.get(policies, headers=auth(carol))).json()
    history = await client.get(f"{policies}/histories", headers=auth(carol))
    assert history.status_code == 200, history.text
    entries = {entry["tag"]: entry for entry in history.json()["retention_log"]}
    assert entries["v2"]["outcome"] == "deleted" and "reason" not in entries["v2"]
    assert entries["v1"]["outcome"] == "kept"
    assert entries["v1"]["reason"] == f"immutable (rule {rule_id})"
    assert entries["v1"]["retention_id"] == policy["id"] and entries["v1"]["rule_type"] == "tag_rule"
