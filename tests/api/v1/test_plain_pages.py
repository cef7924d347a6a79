"""The v1 list and detail pages, built without their response models (``api.routing.PlainRoute``),
answer what the validated pages answered: the model's body, the same 400s for bad parameters, the
same 404s and 401s."""

from __future__ import annotations

import pytest

from repohub.api.v1.schemas import RepositoryDetail, RepositoryPage
from tests.api.plain_pages import HARD_TEXT, assert_as_validated
from tests.world import token_header


@pytest.fixture
async def filled(client, v1):
    """alice's namespace: a public repository with hard text, tags and a star; a private one."""
    auth = v1.auth("alice")
    created = await client.post(
        "/v1/repositories/alice/",
        json={
            "repo_name": "team/app",
            "description": HARD_TEXT,
            "is_public": True,
            "full_description": HARD_TEXT,
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    await v1.create("alice", "private", as_user="alice")
    await v1.add_tags("alice", "team/app", ["v1", "v2"])
    assert (await client.put("/v1/repositories/alice/team/app/star", headers=auth)).status_code == 200
    return v1


@pytest.mark.parametrize(("who", "names"), [("alice", ["private", "team/app"]), (None, ["team/app"])])
async def test_the_list_page_answers_its_models_body(client, filled, who, names):
    headers = filled.auth(who) if who else {}
    body = assert_as_validated(RepositoryPage, await client.get("/v1/repositories/alice", headers=headers))
    assert [item["repo_name"] for item in body["results"]] == names and body["count"] == len(names)
    assert all(item["pulled_at"] is None for item in body["results"])
    assert body["next"] is None and body["previous"] is None


async def test_a_middle_page_answers_its_models_body_with_both_links(client, filled):
    await filled.create("alice", "zz", as_user="alice")
    response = await client.get("/v1/repositories/alice/?page_size=1&page=2", headers=filled.auth("alice"))
    body = assert_as_validated(RepositoryPage, response)
    assert [item["repo_name"] for item in body["results"]] == ["team/app"]
    assert body["next"] == "http://testserver/v1/repositories/alice/?page_size=1&page=3"
    assert body["previous"] == "http://testserver/v1/repositories/alice/?page_size=1"


@pytest.mark.parametrize("who", ["alice", None])
async def test_the_detail_answers_its_models_body(client, filled, who):
    headers = filled.auth(who) if who else {}
    for path in ("/v1/repositories/alice/team/app", "/v1/repositories/alice/team/app/"):
        body = assert_as_validated(RepositoryDetail, await client.get(path, headers=headers))
        assert body["description"] == HARD_TEXT and body["repo_starred_count"] == 1
        assert body["is_repo_starred"] is (who == "alice")


# What FastAPI's solving answered for each (checked against the validated pages on main).
BAD_PAGES = [
    ("page=0", "page: Input should be greater than or equal to 1"),
    ("page=1000001", "page: Input should be less than or equal to 1000000"),
    ("page=abc", "page: Value error, value must be an integer from 0 to 9223372036854775807, not 'abc'"),
    ("page=", "page: Value error, value must be an integer from 0 to 9223372036854775807, not ''"),
    ("page=1.0", "page: Value error, value must be an integer from 0 to 9223372036854775807, not '1.0'"),
    ("page_size=0", "page_size: Input should be greater than or equal to 1"),
    ("page_size=101", "page_size: Input should be less than or equal to 100"),
    (
        "page=0&page_size=0",
        "page: Input should be greater than or equal to 1;"
        " page_size: Input should be greater than or equal to 1",
    ),
]


@pytest.mark.parametrize(("query", "detail"), BAD_PAGES)
async def test_bad_paging_parameters_are_the_400_they_were(client, filled, query, detail):
    response = await client.get(f"/v1/repositories/alice?{query}")
    assert response.status_code == 400
    assert response.json() == {"detail": detail, "code": "invalid_input"}


async def test_the_last_value_of_a_repeated_parameter_wins_as_before(client, filled):
    body = (
        await client.get("/v1/repositories/alice?page_size=0&page_size=1", headers=filled.auth("alice"))
    ).json()
    assert len(body["results"]) == 1


async def test_bad_credentials_are_refused_before_bad_parameters(client, filled):
    response = await client.get("/v1/repositories/alice?page=0", headers=token_header("not-a-token"))
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == 'Token realm="repohub"'


@pytest.mark.parametrize(
    "path", ["/v1/repositories/alice/private", "/v1/repositories/nobody/app", "/v1/repositories/nobody"]
)
async def test_what_an_anonymous_caller_may_not_see_is_404(client, filled, path):
    response = await client.get(path)
    assert response.status_code == 404 and set(response.json()) == {"detail", "code"}
