"""ABEJA's repository delete under immutable-tag rules: a repository holding a protected tag answers
409 in ABEJA's format (``{"error": "conflict", "error_description": ...}``) and keeps everything;
a lifted rule lets it go."""

from __future__ import annotations

import pytest

from tests.api.abeja.support import add_tag, basic, user_id
from tests.immutable_rules import add_rule, change_rule, delete_rule, rule


@pytest.fixture
async def acme(app, accounts):
    """Org acme (admin alice) with repository app, tags 1.0 and latest; its path and alice's header."""
    token = await accounts.user("alice")
    org_id = await accounts.org("acme", owner="alice")
    headers = basic(await user_id(app, "alice"), token)
    await accounts.repository("acme/app", by="alice")
    repo_id = await accounts.repository_id("acme/app")
    await add_tag(app, repo_id, "1.0", minute=1)
    await add_tag(app, repo_id, "latest", minute=2)
    return {"path": f"/organizations/{org_id}/registry/repositories/{repo_id}", "auth": headers}


async def test_a_repository_holding_a_protected_tag_is_not_deleted(client, app, acme) -> None:
    rule_id = await add_rule(app, "acme", rule("[0-9]*", "app"))
    refused = await client.delete(acme["path"], headers=acme["auth"])
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "conflict"
    assert "'1.0'" in body["error_description"] and f"rule {rule_id}" in body["error_description"]
    kept = await client.get(acme["path"], headers=acme["auth"])
    assert kept.status_code == 200 and [t["name"] for t in kept.json()["tags"]] == ["latest", "1.0"]

    await delete_rule(app, rule_id)
    deleted = await client.delete(acme["path"], headers=acme["auth"])
    assert deleted.status_code == 200, deleted.text
    assert (await client.get(acme["path"], headers=acme["auth"])).status_code == 404


@pytest.mark.parametrize("lifted", [rule("latest", disabled=True), rule("latest", tag_decoration="excludes")])
async def test_a_disabled_rule_or_an_excluded_tag_lets_it_go(client, app, acme, lifted) -> None:
    await add_rule(app, "acme", rule("[0-9]*", "other"))  # another repository's: nothing here
    rule_id = await add_rule(app, "acme", rule("latest"))
    assert (await client.delete(acme["path"], headers=acme["auth"])).status_code == 409
    await change_rule(app, rule_id, lifted)
    if lifted["disabled"]:
        assert (await client.delete(acme["path"], headers=acme["auth"])).status_code == 200
    else:  # "not latest" protects 1.0 now
        refused = await client.delete(acme["path"], headers=acme["auth"])
        assert refused.status_code == 409 and "'1.0'" in refused.json()["error_description"]
