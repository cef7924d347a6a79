"""GET /v2/manage/repos: filters, the filter string, paging with Content-Range, ordering, visibility."""

from datetime import timedelta

import pytest

from repohub.domain.entities import Role
from tests.api.swr.helpers import BASE, add_tag, auth
from tests.world import token_header

SEED_FIELDS = {
    "name",
    "category",
    "description",
    "size",
    "is_public",
    "num_images",
    "num_download",
    "created_at",
    "updated_at",
    "logo",
    "url",
    "path",
    "internal_path",
    "domain_name",
    "namespace",
    "tags",
    "status",
    "total_range",
}


async def create(client, token, namespace, name, *, public=False, category="other", description=""):
    response = await client.post(
        f"/v2/manage/namespaces/{namespace}/repos",
        json={"repository": name, "is_public": public, "category": category, "description": description},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text
    assert response.content == b""


@pytest.fixture
async def catalogue(client, accounts, app):
    """alice owns team (web, api, db/postgres, Tools) ; bob owns bobs (public pub, private secret)."""
    alice = await accounts.user("alice")
    bob = await accounts.user("bob")
    await accounts.org("team", owner="alice")
    await create(client, alice, "team", "web", category="app_server", description="the site")
    await create(client, alice, "team", "api", category="app_server")
    await create(client, alice, "team", "db/postgres", category="database")
    await create(client, bob, "bob", "pub", public=True, category="linux")
    await create(client, bob, "bob", "secret")
    await add_tag(app, "team", "web", "v1", at=BASE, size=10)
    await add_tag(app, "team", "web", "v2", at=BASE + timedelta(minutes=1), size=20)
    await add_tag(app, "team", "db/postgres", "15", at=BASE, size=5)
    return {"alice": alice, "bob": bob}


async def names(client, token, query=""):
    response = await client.get(f"/v2/manage/repos{query}", headers=auth(token))
    assert response.status_code == 200, response.text
    return [f"{item['namespace']}/{item['name']}" for item in response.json()]


async def test_every_seed_field_with_values(client, catalogue):
    response = await client.get("/v2/manage/repos?namespace=team&name=web", headers=auth(catalogue["alice"]))
    assert response.status_code == 200
    assert "content-range" not in response.headers  # not paged: no offset/limit given
    [item] = response.json()
    assert set(item) == SEED_FIELDS
    assert item["name"] == "web"
    assert item["namespace"] == "team"
    assert item["category"] == "app_server"
    assert item["description"] == "the site"
    assert item["size"] == 30
    assert item["num_images"] == 2
    assert item["tags"] == ["v2", "v1"]
    assert item["is_public"] is False
    assert item["path"] == item["internal_path"] == "registry.example.test/team/web"
    assert item["domain_name"] == "repohub.test"
    assert item["total_range"] == 1
    assert item["created_at"].endswith("Z")
    assert response.headers["x-request-id"]


async def test_caller_sees_public_and_its_namespaces(client, catalogue):
    assert await names(client, catalogue["alice"]) == ["team/api", "team/db/postgres", "bob/pub", "team/web"]
    assert await names(client, catalogue["bob"]) == ["bob/pub", "bob/secret"]


async def test_filters_by_parameter(client, catalogue):
    alice = catalogue["alice"]
    assert await names(client, alice, "?namespace=bob") == ["bob/pub"]
    assert await names(client, alice, "?name=POST") == ["team/db/postgres"]  # fuzzy, case-insensitive
    assert await names(client, alice, "?category=app_server") == ["team/api", "team/web"]
    assert await names(client, alice, "?name=%25") == []  # LIKE wildcards are literal


async def test_filter_string_wins(client, catalogue):
    alice = catalogue["alice"]
    assert await names(client, alice, "?namespace=bob&filter=namespace::team|category::database") == [
        "team/db/postgres"
    ]
    assert await names(client, alice, "?filter=name::e|order_column::name|order_type::desc") == [
        "team/web",
        "team/db/postgres",
    ]


async def test_paging_and_content_range(client, catalogue):
    alice = catalogue["alice"]
    first = await client.get("/v2/manage/repos?offset=0&limit=3", headers=auth(alice))
    assert first.headers["content-range"] == "0-3/4"
    assert [item["total_range"] for item in first.json()] == [4, 4, 4]
    last = await client.get("/v2/manage/repos?filter=offset::3|limit::3", headers=auth(alice))
    assert last.headers["content-range"] == "3-1/4"
    assert [item["name"] for item in last.json()] == ["web"]
    beyond = await client.get("/v2/manage/repos?offset=9&limit=3", headers=auth(alice))
    assert beyond.json() == []
    assert beyond.headers["content-range"] == "9-0/4"


async def test_ordering(client, catalogue, app):
    alice = catalogue["alice"]
    by_tags = await names(client, alice, "?filter=order_column::tag_count|order_type::desc|namespace::team")
    assert by_tags == ["team/web", "team/db/postgres", "team/api"]
    await add_tag(app, "team", "api", "latest")  # touches api's updated_at last
    newest = await names(client, alice, "?namespace=team&order_column=updated_at&order_type=desc")
    assert newest[0] == "team/api"
    oldest = await names(client, alice, "?namespace=team&filter=order_column::updated_time|order_type::asc")
    assert oldest[-1] == "team/api"


async def test_repository_made_through_v1_appears(client, accounts):
    token = await accounts.user("carol")
    made = await client.post(
        "/v1/repositories/carol/",
        json={"repo_name": "from-v1", "description": "made in v1", "is_public": False},
        headers=token_header(token),
    )
    assert made.status_code == 201
    [item] = (await client.get("/v2/manage/repos", headers=auth(token))).json()
    assert (item["namespace"], item["name"], item["description"]) == ("carol", "from-v1", "made in v1")


async def test_members_see_private_repositories(client, catalogue, accounts):
    await accounts.member("team", "bob", Role.VIEWER)
    assert "team/web" in await names(client, catalogue["bob"])


BAD_QUERIES = (
    ("?limit=10", "limit needs offset"),
    ("?offset=0", "offset needs limit"),
    ("?order_column=name", "order_column needs order_type"),
    ("?limit=1001&offset=0", "limit must be an integer from 1 to 1000"),
    ("?limit=x&offset=0", "limit must be an integer"),
    ("?order_column=size&order_type=asc", "order_column must be one of"),
    ("?order_column=name&order_type=sideways", "order_type must be asc or desc"),
    ("?category=games", "category must be one of"),
    ("?filter=", "filter is empty"),
    ("?filter=colour::red", "unknown filter key 'colour'"),
    ("?filter=name::", "'name' has an empty value"),
    ("?filter=name::a::b", "may not contain '::'"),
    ("?filter=name::a|name::b", "'name' is given more than once"),
    ("?filter=name", "must have the form key::value"),
)


async def test_bad_queries_are_400_in_swr_format(client, accounts):
    token = await accounts.user("alice")
    for query, message in BAD_QUERIES:
        response = await client.get(f"/v2/manage/repos{query}", headers=auth(token))
        assert response.status_code == 400, (query, response.text)
        body = response.json()
        assert body["error_code"] == "SVCSTG.SWR.4000001"
        assert message in body["error_msg"], query


async def test_authentication_is_required(client, accounts):
    await accounts.user("alice")
    anonymous = await client.get("/v2/manage/repos")
    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"].startswith("SVCSTG.SWR.401")
    wrong = await client.get("/v2/manage/repos", headers={"X-Auth-Token": "not-a-token"})
    assert wrong.status_code == 401
    other_scheme = await client.get("/v2/manage/repos", headers={"Authorization": "Token abc"})
    assert other_scheme.status_code == 401
    assert "X-Auth-Token" in other_scheme.json()["error_msg"]
