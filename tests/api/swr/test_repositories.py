"""Repositories and tags through SWR: CRUD, %2F names, tag paging/sort, permissions."""

from datetime import timedelta

from repohub.domain.entities import Role
from tests.api.swr.helpers import BASE, add_tag, auth

NS = "/v2/manage/namespaces"


async def make(client, token, namespace, name, **body):
    response = await client.post(
        f"{NS}/{namespace}/repos", json={"repository": name, "is_public": False, **body}, headers=auth(token)
    )
    assert response.status_code == 201, response.text


async def test_create_show_update_delete(client, accounts):
    alice = await accounts.user("alice")
    await make(client, alice, "alice", "web", category="linux", description="site")
    shown = await client.get(f"{NS}/alice/repos/web", headers=auth(alice))
    assert shown.status_code == 200
    body = shown.json()
    assert body["name"] == "web"
    assert (body["category"], body["description"], body["is_public"]) == ("linux", "site", False)
    assert body["creator_name"] == "alice"
    assert body["path"] == body["internal_path"] == "registry.example.test/alice/web"
    assert isinstance(body["id"], int) and isinstance(body["ns_id"], int)
    assert body["created"].endswith("Z")
    updated = await client.patch(
        f"{NS}/alice/repos/web", json={"is_public": True, "description": "new"}, headers=auth(alice)
    )
    assert updated.status_code == 201, updated.text
    after = (await client.get(f"{NS}/alice/repos/web", headers=auth(alice))).json()
    assert (after["is_public"], after["description"], after["category"]) == (True, "new", "linux")
    # the same repository through v1
    v1 = (await client.get("/v1/repositories/alice/web")).json()
    assert v1["description"] == "new"
    deleted = await client.delete(f"{NS}/alice/repos/web", headers=auth(alice))
    assert deleted.status_code == 204
    assert (await client.get(f"{NS}/alice/repos/web", headers=auth(alice))).status_code == 404


async def test_names_with_slashes_travel_as_percent_2f(client, accounts, app):
    alice = await accounts.user("alice")
    await make(client, alice, "alice", "a/b")
    await make(client, alice, "alice", "a/tags")  # would collide with a's tag list if %2F were decoded
    await make(client, alice, "alice", "a")
    await add_tag(app, "alice", "a/b", "v1")
    assert (await client.get(f"{NS}/alice/repos/a%2Fb", headers=auth(alice))).json()["name"] == "a/b"
    assert (await client.get(f"{NS}/alice/repos/a%2ftags", headers=auth(alice))).json()["name"] == "a/tags"
    assert (await client.get(f"{NS}/alice/repos/a/tags", headers=auth(alice))).json() == []  # a's tags
    tags = await client.get(f"{NS}/alice/repos/a%2Fb/tags", headers=auth(alice))
    assert [t["Tag"] for t in tags.json()] == ["v1"]
    tag = await client.get(f"{NS}/alice/repos/a%2Fb/tags/v1", headers=auth(alice))
    assert tag.json()["path"] == "registry.example.test/alice/a/b:v1"
    assert (await client.delete(f"{NS}/alice/repos/a%2Ftags", headers=auth(alice))).status_code == 204
    assert (await client.get(f"{NS}/alice/repos/a", headers=auth(alice))).status_code == 200
    unencoded = await client.get(f"{NS}/alice/repos/a/b", headers=auth(alice))
    assert unencoded.status_code == 404
    assert unencoded.json()["error_code"] == "SVCSTG.SWR.4040001"


async def test_create_mistakes(client, accounts):
    alice = await accounts.user("alice")
    cases = [
        ({"repository": "Web", "is_public": False}, 400, "Docker reference grammar"),
        ({"repository": "web", "is_public": "yes"}, 400, "is_public"),
        ({"repository": "web"}, 400, "is_public"),
        ({"repository": "web", "is_public": False, "category": "games"}, 400, "category must be one of"),
        ({"repository": "web", "is_public": False, "logo": "x"}, 400, "logo"),
    ]
    for body, status, message in cases:
        response = await client.post(f"{NS}/alice/repos", json=body, headers=auth(alice))
        assert response.status_code == status, (body, response.text)
        assert message in response.json()["error_msg"], body
    await make(client, alice, "alice", "web")
    again = await client.post(
        f"{NS}/alice/repos", json={"repository": "web", "is_public": False}, headers=auth(alice)
    )
    assert again.status_code == 409
    missing = await client.post(
        f"{NS}/ghost/repos", json={"repository": "web", "is_public": False}, headers=auth(alice)
    )
    assert missing.status_code == 404
    bad_update = await client.patch(f"{NS}/alice/repos/web", json={"description": "x"}, headers=auth(alice))
    assert bad_update.status_code == 400


async def test_permissions(client, accounts):
    alice = await accounts.user("alice")
    bob = await accounts.user("bob")
    await make(client, alice, "alice", "private")
    await make(client, alice, "alice", "public", is_public=True)
    assert (await client.get(f"{NS}/alice/repos/private", headers=auth(bob))).status_code == 404
    assert (await client.get(f"{NS}/alice/repos/public", headers=auth(bob))).status_code == 200
    assert (await client.delete(f"{NS}/alice/repos/public", headers=auth(bob))).status_code == 403
    no_create = await client.post(
        f"{NS}/alice/repos", json={"repository": "x", "is_public": True}, headers=auth(bob)
    )
    assert no_create.status_code == 403
    await accounts.member("alice", "bob", Role.MEMBER)
    assert (
        await client.patch(f"{NS}/alice/repos/private", json={"is_public": False}, headers=auth(bob))
    ).status_code == 201
    assert (await client.delete(f"{NS}/alice/repos/private", headers=auth(bob))).status_code == 403


async def test_tags_paging_sort_show_delete(client, accounts, app):
    alice = await accounts.user("alice")
    await make(client, alice, "alice", "app")
    for minute, name in enumerate(["v1", "v2", "v3", "latest"]):
        await add_tag(app, "alice", "app", name, at=BASE + timedelta(minutes=minute), size=minute)
    base = f"{NS}/alice/repos/app/tags"
    everything = await client.get(base, headers=auth(alice))
    assert "content-range" not in everything.headers
    assert [t["Tag"] for t in everything.json()] == ["latest", "v3", "v2", "v1"]  # newest first
    page = await client.get(
        f"{base}?offset=1&limit=2&order_column=updated_at&order_type=asc", headers=auth(alice)
    )
    assert page.headers["content-range"] == "1-2/4"
    assert [t["Tag"] for t in page.json()] == ["v2", "v3"]
    by_filter = await client.get(
        f"{base}?filter=offset::0|limit::10|order_column::name|order_type::asc", headers=auth(alice)
    )
    assert [t["Tag"] for t in by_filter.json()] == ["latest", "v1", "v2", "v3"]
    assert by_filter.headers["content-range"] == "0-4/4"
    one = await client.get(f"{base}?tag=v2", headers=auth(alice))
    assert [t["Tag"] for t in one.json()] == ["v2"]
    item = one.json()[0]
    assert item["digest"].startswith("sha256:") and item["schema"] == 2 and item["size"] == 1
    assert item["manifest"] == '{"schemaVersion": 2}'
    shown = await client.get(f"{base}/v2", headers=auth(alice))
    assert shown.json()["tag"] == shown.json()["Tag"] == "v2"
    for query, message in [
        ("?limit=2", "limit needs offset"),
        ("?filter=name::v1", "unknown filter key 'name'"),
    ]:
        bad = await client.get(base + query, headers=auth(alice))
        assert bad.status_code == 400
        assert message in bad.json()["error_msg"]
    assert (await client.get(f"{base}/nope", headers=auth(alice))).status_code == 404
    assert (await client.delete(f"{base}/v2", headers=auth(alice))).status_code == 204
    assert (await client.get(f"{base}/v2", headers=auth(alice))).status_code == 404
    repo = (await client.get(f"{NS}/alice/repos/app", headers=auth(alice))).json()
    assert repo["num_images"] == 3


async def test_tag_schema_follows_the_manifest_media_type(client, accounts, app):
    alice = await accounts.user("alice")
    await make(client, alice, "alice", "app")
    media_types = {
        "oci": "application/vnd.oci.image.manifest.v1+json",  # says "v1", is a schema 2 manifest
        "index": "application/vnd.oci.image.index.v1+json",
        "docker2": "application/vnd.docker.distribution.manifest.v2+json",
        "docker1": "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
    for name, media_type in media_types.items():
        await add_tag(app, "alice", "app", name, media_type=media_type)
    listed = (await client.get(f"{NS}/alice/repos/app/tags", headers=auth(alice))).json()
    assert {tag["Tag"]: tag["schema"] for tag in listed} == {"oci": 2, "index": 2, "docker2": 2, "docker1": 1}


async def test_error_body_and_request_id(client, accounts):
    alice = await accounts.user("alice")
    response = await client.get(f"{NS}/alice/repos/missing", headers={**auth(alice), "X-Request-Id": "req-1"})
    assert response.status_code == 404
    assert response.json() == {
        "error_code": "SVCSTG.SWR.4040001",
        "error_msg": "repository 'alice/missing' not found",
    }
    assert response.headers["x-request-id"] == "req-1"
    unknown = await client.get("/v2/manage/nothing-here", headers=auth(alice))
    assert unknown.status_code == 404
    assert unknown.json()["error_code"] == "SVCSTG.SWR.4040001"
    wrong_method = await client.put(f"{NS}/alice/repos/missing", headers=auth(alice))
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error_code"] == "SVCSTG.SWR.4050005"
