"""The ABEJA repository list and tag page, built without their response models
(``api.routing.PlainRoute``), answer what the validated pages answered: the model's body, the same
400s for bad parameters in ABEJA's error format, the same 401s and 404s."""

from __future__ import annotations

import pytest

from repohub.api.abeja.schemas import RepositoryPage, TagPage
from repohub.domain.entities import Role
from tests.api.abeja.support import add_tag, basic, repository_id, user_id
from tests.api.plain_pages import HARD_TEXT, assert_as_validated


@pytest.fixture
async def org(app, accounts):
    """acme (admin alice, member bob): a repository with hard text and two tags, one without one."""
    alice, bob = await accounts.user("alice"), await accounts.user("bob")
    org_id = await accounts.org("acme", owner="alice", members={"bob": Role.MEMBER})
    await accounts.repository("acme/app", by="alice", description=HARD_TEXT)
    await accounts.repository("acme/bare", by="bob")
    repo = await repository_id(app, "acme", "app")
    await add_tag(app, repo, "v1", creator="alice", minute=1)
    await add_tag(app, repo, "v2", minute=2)
    return {
        "base": f"/organizations/{org_id}/registry/repositories",
        "repo": repo,
        "alice": basic(await user_id(app, "alice"), alice),
        "bob": basic(await user_id(app, "bob"), bob),
    }


@pytest.mark.parametrize("who", ["alice", "bob"])
@pytest.mark.parametrize("query", ["", "?limit=1", "?limit=1&offset=1"])
async def test_the_repository_list_answers_its_models_body(client, org, who, query):
    body = assert_as_validated(RepositoryPage, await client.get(org["base"] + query, headers=org[who]))
    names = [item["name"] for item in body["registry_repositories"]]
    assert names == {"": ["app", "bare"], "?limit=1": ["app"], "?limit=1&offset=1": ["bare"]}[query]
    assert body["has_next"] is (query == "?limit=1")


@pytest.mark.parametrize("query", ["", "?limit=1", "?offset=1"])
async def test_the_tag_page_answers_its_models_body(client, org, query):
    response = await client.get(f"{org['base']}/{org['repo']}/tags{query}", headers=org["bob"])
    body = assert_as_validated(TagPage, response)
    tags = {tag["name"]: tag for tag in body["tags"]}
    assert list(tags) == {"": ["v2", "v1"], "?limit=1": ["v2"], "?offset=1": ["v1"]}[query]
    assert all(tag["creator"] is None for name, tag in tags.items() if name == "v2")
    assert all(tag["creator"]["role"] == "admin" for name, tag in tags.items() if name == "v1")


# What FastAPI's solving answered for each (checked against the validated pages on main).
BAD = [
    ("limit=0", "limit: Input should be greater than or equal to 1"),
    ("limit=101", "limit: Input should be less than or equal to 100"),
    ("offset=-1", "offset: Value error, value must be an integer from 0 to 9223372036854775807, not '-1'"),
    ("limit=x", "limit: Value error, value must be an integer from 0 to 9223372036854775807, not 'x'"),
    ("offset=1000000001", "offset: Input should be less than or equal to 1000000000"),
]


@pytest.mark.parametrize(("query", "description"), BAD)
@pytest.mark.parametrize("page", ["", "/{repo}/tags"])
async def test_bad_paging_parameters_are_the_400_they_were(client, org, page, query, description):
    path = org["base"] + page.format(repo=org["repo"])
    response = await client.get(f"{path}?{query}", headers=org["alice"])
    assert response.status_code == 400
    assert response.json() == {"error": "bad_request", "error_description": description}


@pytest.mark.parametrize("page", ["", "/{repo}/tags"])
async def test_no_credentials_are_refused_before_bad_parameters(client, org, page):
    response = await client.get(org["base"] + page.format(repo=org["repo"]) + "?limit=0")
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


@pytest.mark.parametrize(
    "path", ["/organizations/99999/registry/repositories", "/organizations/x/registry/repositories/1/tags"]
)
async def test_unknown_ids_are_404(client, org, path):
    response = await client.get(path, headers=org["alice"])
    assert response.status_code == 404 and response.json()["error"] == "not_found"
