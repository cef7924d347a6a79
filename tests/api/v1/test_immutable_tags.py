"""v1's repository delete under immutable-tag rules: a repository holding a protected tag answers
409 in v1's format (``{"detail", "code"}``) and keeps everything; lifted rules let it go."""

from __future__ import annotations

import pytest

from repohub.store.tables import RepositoryRow, TagRow
from tests.api.v1.conftest import V1World
from tests.immutable_rules import add_rule, change_rule, delete_rule, rule

PATH = "/v1/repositories/acme/repo"


@pytest.fixture
async def repo(v1: V1World) -> V1World:
    await v1.create("acme", "repo", as_user="dev")
    await v1.add_tags("acme", "repo", ["v1.0", "latest"])
    return v1


async def test_a_repository_holding_a_protected_tag_is_not_deleted(client, app, repo: V1World) -> None:
    rule_id = await add_rule(app, "acme", rule("v*"))
    refused = await client.delete(PATH, headers=repo.auth("boss"))
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert set(body) == {"detail", "code"} and body["code"] == "conflict"
    assert "'v1.0'" in body["detail"] and f"rule {rule_id}" in body["detail"]
    assert (await repo.count(RepositoryRow), await repo.count(TagRow)) == (1, 2)
    assert (await client.get(PATH, headers=repo.auth("boss"))).status_code == 200

    await delete_rule(app, rule_id)
    assert (await client.delete(PATH, headers=repo.auth("boss"))).status_code == 204
    assert (await repo.count(RepositoryRow), await repo.count(TagRow)) == (0, 0)


@pytest.mark.parametrize(
    "lifted",
    [rule("v*", disabled=True), rule("v*", tag_decoration="excludes", repos="other")],
    ids=["disabled", "other-repository"],
)
async def test_a_rule_that_selects_no_tag_here_lets_it_go(client, app, repo: V1World, lifted) -> None:
    rule_id = await add_rule(app, "acme", rule("latest"))
    assert (await client.delete(PATH, headers=repo.auth("root"))).status_code == 409
    await change_rule(app, rule_id, lifted)
    assert (await client.delete(PATH, headers=repo.auth("root"))).status_code == 204
    assert await repo.count(RepositoryRow) == 0


async def test_excluding_every_tag_or_another_namespace_protects_nothing(client, app, repo: V1World) -> None:
    await add_rule(app, "acme", rule("{v*,latest}", tag_decoration="excludes"))  # neither tag
    await add_rule(app, "alice", rule("**"))  # another namespace's rule: not acme's
    assert (await client.delete(PATH, headers=repo.auth("boss"))).status_code == 204
