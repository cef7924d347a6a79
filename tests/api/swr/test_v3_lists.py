"""SWR v3's marker pages (GET /v3/manage/repos, .../tags) and v2's offset bound."""

from datetime import timedelta

import pytest

from repohub.defaults import SWR_MAX_OFFSET
from tests.api.swr.helpers import BASE, add_tag, auth

V3_REPO_FIELDS = {
    "id",
    "name",
    "category",
    "description",
    "size",
    "is_public",
    "num_images",
    "num_download",
    "created_at",
    "updated_at",
    "domain_name",
    "namespace_name",
    "status",
}
V3_TAG_FIELDS = {
    "id",
    "repo_id",
    "tag",
    "image_id",
    "manifest",
    "digest",
    "schema",
    "path",
    "internal_path",
    "size",
    "is_trusted",
    "created",
    "updated",
    "domain_id",
    "tag_type",
}


@pytest.fixture
async def catalogue(accounts, app):
    """alice owns team (six private repositories, web_1 public, in category app_server every other
    one); bob owns bob (public pub, private secret); carol belongs to nothing."""
    tokens = {name: await accounts.user(name) for name in ("alice", "bob", "carol")}
    await accounts.org("team", owner="alice")
    for number in range(6):
        category = "app_server" if number % 2 else "other"
        await accounts.repository(f"team/repo{number}", by="alice", category=category)
    await accounts.repository("team/web_1", by="alice", public=True)
    await accounts.repository("bob/pub", by="bob", public=True, category="linux")
    await accounts.repository("bob/secret", by="bob")
    return tokens


async def walk(client, token, query="", limit=2):
    """Every page of a v3 walk: the rows' paths in order, and the pages' bodies."""
    seen, pages, marker = [], [], None
    while True:
        paging = f"limit={limit}" + (f"&marker={marker}" if marker is not None else "")
        separator = "&" if query else "?"
        response = await client.get(f"/v3/manage/repos{query}{separator}{paging}", headers=auth(token))
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body)
        seen += [f"{row['namespace_name']}/{row['name']}" for row in body["repos"]]
        if "nextMarker" not in body:
            return seen, pages
        assert body["nextMarker"] == body["repos"][-1]["id"]
        marker = body["nextMarker"]


async def v2_names(client, token, query=""):
    response = await client.get(f"/v2/manage/repos{query}", headers=auth(token))
    assert response.status_code == 200, response.text
    return sorted(f"{row['namespace']}/{row['name']}" for row in response.json())


async def test_a_walk_sees_what_the_v2_list_shows_once_each_in_id_order(client, catalogue, accounts):
    for user in ("alice", "bob", "carol"):
        seen, pages = await walk(client, catalogue[user])
        assert len(seen) == len(set(seen)), seen
        assert sorted(seen) == await v2_names(client, catalogue[user]), user
        ids = [row["id"] for page in pages for row in page["repos"]]
        assert ids == sorted(ids)
        assert all(len(page["repos"]) == 2 for page in pages[:-1])
    first = (await client.get("/v3/manage/repos?namespace=bob", headers=auth(catalogue["bob"]))).json()
    assert set(first) == {"repos"}  # one page: no nextMarker
    assert set(first["repos"][0]) == V3_REPO_FIELDS
    assert first["repos"][0]["id"] == await accounts.repository_id("bob/pub")


async def test_an_outsider_never_walks_into_a_private_repository(client, catalogue):
    seen, _ = await walk(client, catalogue["carol"], limit=1)
    assert sorted(seen) == ["bob/pub", "team/web_1"]
    for query in ("?namespace=team", "?namespace=bob&is_public=false", "?name=secret"):
        seen, _ = await walk(client, catalogue["carol"], query)
        assert all(path in ("bob/pub", "team/web_1") for path in seen), (query, seen)


async def test_filters_narrow_the_walk_as_v2s_do(client, catalogue):
    alice = catalogue["alice"]
    assert sorted((await walk(client, alice, "?namespace=team"))[0]) == await v2_names(
        client, alice, "?namespace=team"
    )
    assert (await walk(client, alice, "?name=WEB_"))[0] == ["team/web_1"]  # case-insensitive, '_' literal
    assert (await walk(client, alice, "?name=o_"))[0] == []  # not "o" and any character: repo0
    assert sorted((await walk(client, alice, "?category=app_server"))[0]) == await v2_names(
        client, alice, "?category=app_server"
    )
    assert sorted((await walk(client, alice, "?is_public=true"))[0]) == ["bob/pub", "team/web_1"]
    private = (await walk(client, alice, "?is_public=false&namespace=team"))[0]
    assert sorted(private) == [f"team/repo{number}" for number in range(6)]


async def test_a_walk_sees_each_repository_once_while_others_come_and_go(client, catalogue, accounts):
    alice = catalogue["alice"]
    first = (await client.get("/v3/manage/repos?limit=3", headers=auth(alice))).json()
    seen = [row["name"] for row in first["repos"]]
    async with accounts.service("alice") as service:  # one seen, one not yet seen: both go
        for name in (seen[0], "repo5"):
            await service.catalog.delete_repository(await service.catalog.repository("team", name))
    await accounts.repository("team/late", by="alice")
    marker = first["nextMarker"]
    while marker is not None:
        body = (await client.get(f"/v3/manage/repos?limit=3&marker={marker}", headers=auth(alice))).json()
        seen += [row["name"] for row in body["repos"]]
        marker = body.get("nextMarker")
    assert len(seen) == len(set(seen))
    assert "repo5" not in seen and "late" in seen
    assert set(seen) >= {"repo1", "repo2", "repo3", "repo4", "web_1", "pub"}


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "limit=-1",
        "marker=-1",
        "marker=abc",
        "marker=1.5",
        "marker=99999999999999999999",
        "is_public=yes",
        "category=nonsense",
        "name=" + "x" * 300,
    ],
)
async def test_bad_paging_or_filters_are_a_400_in_swrs_format(client, catalogue, query):
    response = await client.get(f"/v3/manage/repos?{query}", headers=auth(catalogue["alice"]))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "SVCSTG.SWR.4000001"
    assert body["error_msg"]


async def test_limits_at_their_bounds_are_taken(client, catalogue):
    for query in ("limit=1", "limit=1000", "marker=0", "marker=9223372036854775807", "is_public=TRUE"):
        response = await client.get(f"/v3/manage/repos?{query}", headers=auth(catalogue["alice"]))
        assert response.status_code == 200, (query, response.text)
    far = await client.get("/v3/manage/repos?marker=9223372036854775807", headers=auth(catalogue["alice"]))
    assert far.json() == {"repos": []}


async def test_the_walk_needs_a_caller(client, catalogue):
    response = await client.get("/v3/manage/repos")
    assert response.status_code == 401
    assert response.json()["error_code"].startswith("SVCSTG.SWR.401")


# -- tags --------------------------------------------------------------------------------------------
@pytest.fixture
async def tagged(app, catalogue):
    for number in range(5):
        await add_tag(app, "team", "repo0", f"v{number}", at=BASE + timedelta(minutes=number), size=number)
    return catalogue


async def walk_tags(client, token, path="team/repo0", limit=2, extra=""):
    seen, marker = [], None
    while True:
        query = f"?limit={limit}" + (f"&marker={marker}" if marker is not None else "") + extra
        namespace, repository = path.split("/", 1)
        response = await client.get(
            f"/v3/manage/namespaces/{namespace}/repos/{repository}/tags{query}", headers=auth(token)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["tags"]
        assert body["has_more"] is ("nextMarker" in body)
        if not body["has_more"]:
            return seen
        assert body["nextMarker"] == str(body["tags"][-1]["id"])
        marker = body["nextMarker"]


async def test_a_tag_walk_sees_every_tag_once_by_id(client, tagged):
    rows = await walk_tags(client, tagged["alice"])
    assert [row["tag"] for row in rows] == [f"v{number}" for number in range(5)]
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    assert set(rows[0]) == V3_TAG_FIELDS
    assert rows[0]["path"].endswith("/team/repo0:v0")
    assert rows[0]["manifest"] == ""
    with_manifest = await walk_tags(client, tagged["alice"], extra="&with_manifest=true")
    assert with_manifest[0]["manifest"] == '{"schemaVersion": 2}'
    assert [row["tag"] for row in await walk_tags(client, tagged["alice"], extra="&tag=v3")] == ["v3"]
    assert await walk_tags(client, tagged["alice"], "team/repo1") == []


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=1001", "marker=x", "marker=-2", "with_manifest=maybe", "order_column=updated_at"],
)
async def test_bad_tag_paging_is_a_400_in_swrs_format(client, tagged, query):
    response = await client.get(
        f"/v3/manage/namespaces/team/repos/repo0/tags?{query}", headers=auth(tagged["alice"])
    )
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "SVCSTG.SWR.4000001"


@pytest.mark.parametrize(
    ("user", "path"),
    [
        ("carol", "bob/secret"),  # hidden
        ("carol", "nobody/repo"),  # no such namespace
        ("alice", "team/missing"),  # no such repository
        ("carol", "team/web_1"),  # public: readable
        ("bob", "team/repo0"),  # another's private one
    ],
)
async def test_the_tag_walk_finds_the_repository_as_the_v2_tag_list_does(client, tagged, user, path):
    namespace, repository = path.split("/")
    tail = f"/namespaces/{namespace}/repos/{repository}/tags"
    v2 = await client.get(f"/v2/manage{tail}", headers=auth(tagged[user]))
    v3 = await client.get(f"/v3/manage{tail}", headers=auth(tagged[user]))
    assert v3.status_code == v2.status_code
    if v2.status_code != 200:
        assert v3.json() == v2.json()


# -- v2's offset bound -------------------------------------------------------------------------------
async def test_v2_offset_paging_works_up_to_its_bound(client, tagged):
    alice = auth(tagged["alice"])
    for path in ("/v2/manage/repos", "/v2/manage/namespaces/team/repos/repo0/tags"):
        response = await client.get(f"{path}?offset=1&limit=2", headers=alice)
        assert response.status_code == 200 and len(response.json()) == 2
        at_bound = await client.get(f"{path}?offset={SWR_MAX_OFFSET}&limit=2", headers=alice)
        assert at_bound.status_code == 200, at_bound.text
        assert at_bound.json() == []


@pytest.mark.parametrize(
    ("path", "v3"),
    [
        ("/v2/manage/repos", "GET /v3/manage/repos"),
        ("/v2/manage/namespaces/team/repos/repo0/tags", "GET /v3/manage/namespaces/{namespace}/repos/"),
    ],
)
async def test_an_offset_past_the_bound_is_a_400_pointing_to_v3(client, tagged, path, v3):
    alice = auth(tagged["alice"])
    for query in (f"offset={SWR_MAX_OFFSET + 1}&limit=10", f"filter=offset::{SWR_MAX_OFFSET + 1}|limit::10"):
        response = await client.get(f"{path}?{query}", headers=alice)
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["error_code"] == "SVCSTG.SWR.4000001"
        assert v3 in body["error_msg"] and "marker" in body["error_msg"]
        assert str(SWR_MAX_OFFSET) in body["error_msg"]
