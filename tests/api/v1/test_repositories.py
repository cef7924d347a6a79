"""Every v1 endpoint over HTTP: shapes as in the seed, permissions, both slash forms, stars, tags."""

import io
import re

import pytest
from PIL import Image

from repohub.store.tables import RepositoryRow, StarRow, TagRow
from tests.api.v1.conftest import TIME

CREATED_FIELDS = {
    # the seed's create response
    "repo_name", "namespace", "repo_path", "is_automated", "description", "creation_time",
    "updated_time", "is_public", "logo",
    # repohub's reliable pair, and the body field it accepts
    "created_at", "updated_at", "full_description",
}  # fmt: skip
LISTED_FIELDS = {
    "repo_name", "namespace", "repo_path", "is_automated", "description", "creation_at", "updated_at",
    "is_public", "logo", "repo_starred_count", "full_description", "download", "upload", "pulled_at",
    "pushed_at", "created_at",
}  # fmt: skip
UPDATED_FIELDS = {
    "repo_name", "namespace", "repo_path", "description", "is_public", "logo", "created_at", "updated_at",
}  # fmt: skip
DETAIL_FIELDS = {
    "namespace", "repo_name", "repo_path", "logo_file", "description", "full_description",
    "repo_starred_count", "created_at", "updated_at", "is_public", "logo", "is_automated", "download",
    "upload", "pulled_at", "pushed_at", "is_repo_starred",
}  # fmt: skip


def assert_times(body: dict, *names: str) -> None:
    for name in names:
        assert re.fullmatch(TIME, body[name]), (name, body[name])


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "code"}, body
    assert body["code"] == code and isinstance(body["detail"], str) and body["detail"]


# -- login ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/generate-api-token/", "/v1/generate-api-token"])
@pytest.mark.parametrize("as_json", [False, True])
async def test_generate_api_token_with_form_or_json(client, v1, path, as_json):
    credentials = {"username": "alice", "password": "password-1"}
    response = await (client.post(path, json=credentials) if as_json else client.post(path, data=credentials))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "username"} and body["username"] == "alice"
    assert body["token"] != v1.tokens["alice"]  # a fresh token per login
    created = await client.post(
        "/v1/repositories/alice/",
        json={"repo_name": "via-login"},
        headers={"Authorization": f"Token {body['token']}"},
    )
    assert created.status_code == 201, created.text


async def test_generate_api_token_with_a_real_password_hash(client, accounts):
    await accounts.user("carol", password="carol-secret")  # the full create_user path
    response = await client.post(
        "/v1/generate-api-token/", data={"username": "carol", "password": "carol-secret"}
    )
    assert response.status_code == 200 and response.json()["username"] == "carol"


# -- create ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/repositories/alice/", "/v1/repositories/alice"])
async def test_create_answers_the_seed_fields(client, v1, path):
    response = await client.post(
        path,
        json={"repo_name": "repo", "description": "A docker image repository", "namespace": "alice",
              "is_public": True, "full_description": "# Readme"},
        headers=v1.auth("alice"),
    )  # fmt: skip
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == CREATED_FIELDS
    assert body["repo_name"] == "repo" and body["namespace"] == "alice" and body["repo_path"] == "alice/repo"
    assert body["is_public"] is True and body["is_automated"] is False
    assert body["description"] == "A docker image repository" and body["full_description"] == "# Readme"
    assert body["logo"] == "default-icon.jpg"
    assert_times(body, "creation_time", "updated_time", "created_at", "updated_at")
    assert body["creation_time"] == body["created_at"] and body["updated_time"] == body["updated_at"]
    assert '"is_automated":false' in response.text.replace(" ", "")  # JSON booleans, not Python's
    assert await v1.repo_rows() == [("repo", "A docker image repository", True, 0)]


async def test_create_defaults_to_private_with_empty_descriptions(client, v1):
    response = await client.post(
        "/v1/repositories/alice/", json={"repo_name": "bare"}, headers=v1.auth("alice")
    )
    assert response.status_code == 201, response.text
    assert response.json()["is_public"] is False and response.json()["description"] == ""


@pytest.mark.parametrize("who", ["boss", "dev", "root"])
async def test_members_admins_and_site_admins_create_in_an_org(client, v1, who):
    await v1.create("acme", f"by-{who}", as_user=who)


# acme holds nothing public: for the stranger it does not exist (test_hidden_namespaces).
@pytest.mark.parametrize(("who", "status", "code"), [("guest", 403, "permission_denied"),
                                                     ("stranger", 404, "not_found")])  # fmt: skip
async def test_viewers_and_outsiders_may_not_create(client, v1, who, status, code):
    response = await client.post("/v1/repositories/acme/", json={"repo_name": "x"}, headers=v1.auth(who))
    assert_error(response, status, code)
    assert await v1.repo_rows() == []


async def test_duplicate_create_is_a_conflict(client, v1):
    await v1.create("alice", "dup", as_user="alice")
    response = await client.post(
        "/v1/repositories/alice/", json={"repo_name": "dup"}, headers=v1.auth("alice")
    )
    assert_error(response, 409, "conflict")
    assert len(await v1.repo_rows()) == 1


async def test_multi_level_names_work_on_every_endpoint(client, v1):
    await v1.create("alice", "team/app", public=True, as_user="alice")
    await v1.add_tags("alice", "team/app", ["v1"])
    auth = v1.auth("alice")
    assert (await client.get("/v1/repositories/alice/team/app")).json()["repo_path"] == "alice/team/app"
    assert (await client.get("/v1/repositories/alice/team/app/tags")).json()[0]["tag"] == "v1"
    put = await client.put("/v1/repositories/alice/team/app", json={"description": "d"}, headers=auth)
    assert put.status_code == 200 and put.json()["description"] == "d"
    star = await client.put("/v1/repositories/alice/team/app/star", headers=auth)
    assert star.json() == {"repo_starred_count": 1, "is_repo_starred": True}
    listed = (await client.get("/v1/repositories/alice/")).json()
    assert [item["repo_name"] for item in listed["results"]] == ["team/app"]
    assert (await client.delete("/v1/repositories/alice/team/app/", headers=auth)).status_code == 204
    assert await v1.repo_rows() == []


# -- list -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/repositories/acme/", "/v1/repositories/acme"])
async def test_list_answers_the_seed_fields(client, v1, path):
    await v1.create("acme", "repo1", public=True, as_user="dev")
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    (item,) = body["results"]
    assert set(item) == LISTED_FIELDS
    assert item["repo_path"] == "acme/repo1" and item["is_public"] is True and item["is_automated"] is False
    assert (item["repo_starred_count"], item["download"], item["upload"]) == (0, 0, 0)
    assert item["pulled_at"] is None and item["pushed_at"] is None and item["full_description"] == ""
    assert_times(item, "creation_at", "updated_at", "created_at")
    assert item["creation_at"] == item["created_at"]


@pytest.mark.parametrize(
    ("who", "visible"),
    [(None, ["pub"]), ("stranger", ["pub"]), ("guest", ["priv", "pub"]), ("dev", ["priv", "pub"]),
     ("root", ["priv", "pub"])],
)  # fmt: skip
async def test_list_shows_private_repositories_to_members_only(client, v1, who, visible):
    await v1.create("acme", "pub", public=True, as_user="dev")
    await v1.create("acme", "priv", as_user="dev")
    response = await client.get("/v1/repositories/acme/", headers=v1.auth(who) if who else {})
    body = response.json()
    assert [item["repo_name"] for item in body["results"]] == visible and body["count"] == len(visible)


async def test_list_of_an_unknown_namespace_is_404(client, v1):
    assert_error(await client.get("/v1/repositories/nobody/"), 404, "not_found")


# -- detail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/repositories/acme/test", "/v1/repositories/acme/test/"])
async def test_detail_answers_the_seed_fields(client, v1, path):
    await v1.create("acme", "test", as_user="dev")
    response = await client.get(path, headers=v1.auth("guest"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == DETAIL_FIELDS
    assert body["repo_path"] == "acme/test" and body["is_public"] is False
    assert body["is_repo_starred"] is False
    assert body["logo_file"].endswith("default-icon.jpg") and body["logo"] == "default-icon.jpg"
    assert body["description"] == "about test" and body["repo_starred_count"] == 0
    assert_times(body, "created_at", "updated_at")


@pytest.mark.parametrize("who", [None, "stranger"])
async def test_private_repository_is_404_for_outsiders_on_every_endpoint(client, v1, who):
    await v1.create("acme", "secret", as_user="dev")
    headers = v1.auth(who) if who else {}
    base = "/v1/repositories/acme/secret"
    for method, path in [("GET", base), ("GET", base + "/tags"), ("PUT", base), ("DELETE", base),
                         ("PUT", base + "/star"), ("DELETE", base + "/star")]:  # fmt: skip
        body = {"description": "x"} if (method, path) == ("PUT", base) else None
        response = await client.request(method, path, json=body, headers=headers)
        assert_error(response, 404, "not_found")
        # Word for word what a repository that does not exist gets: nothing reveals this one.
        missing = await client.request(method, path.replace("secret", "ghost"), json=body, headers=headers)
        assert response.json()["detail"] == missing.json()["detail"].replace("ghost", "secret")
    assert await v1.repo_rows() == [("secret", "about secret", False, 0)]


async def test_unknown_repository_and_namespace_are_404(client, v1):
    assert_error(await client.get("/v1/repositories/alice/nothing"), 404, "not_found")
    assert_error(await client.get("/v1/repositories/nobody/nothing"), 404, "not_found")


# -- update ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/repositories/acme/repo", "/v1/repositories/acme/repo/"])
async def test_update_answers_the_seed_fields(client, v1, path):
    created = await v1.create("acme", "repo", as_user="dev")
    response = await client.put(
        path,
        json={"description": "new", "full_description": "long text", "is_public": True},
        headers=v1.auth("dev"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == UPDATED_FIELDS
    assert (body["description"], body["is_public"], body["repo_path"]) == ("new", True, "acme/repo")
    assert_times(body, "created_at", "updated_at")
    assert body["created_at"] == created["created_at"] and body["updated_at"] >= created["updated_at"]
    detail = (await client.get("/v1/repositories/acme/repo")).json()  # public now
    assert detail["full_description"] == "long text"


async def test_update_with_an_empty_body_changes_nothing(client, v1):
    await v1.create("acme", "repo", as_user="dev")
    response = await client.put("/v1/repositories/acme/repo", json={}, headers=v1.auth("dev"))
    assert response.status_code == 200 and response.json()["description"] == "about repo"


@pytest.mark.parametrize(("who", "status", "code"), [("guest", 403, "permission_denied"),
                                                     ("stranger", 403, "permission_denied"),
                                                     (None, 401, "not_authenticated")])  # fmt: skip
async def test_update_is_refused_to_viewers_outsiders_and_anonymous(client, v1, who, status, code):
    await v1.create("acme", "repo", public=True, as_user="dev")
    headers = v1.auth(who) if who else {}
    response = await client.put("/v1/repositories/acme/repo", json={"description": "x"}, headers=headers)
    assert_error(response, status, code)
    assert await v1.repo_rows() == [("repo", "about repo", True, 0)]


# -- delete ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/repositories/acme/repo", "/v1/repositories/acme/repo/"])
@pytest.mark.parametrize("who", ["boss", "root"])
async def test_namespace_and_site_admins_delete(client, v1, path, who):
    await v1.create("acme", "repo", as_user="dev")
    await v1.add_tags("acme", "repo", ["latest"])
    await client.put("/v1/repositories/acme/repo/star", headers=v1.auth("dev"))
    response = await client.delete(path, headers=v1.auth(who))
    assert response.status_code == 204 and response.content == b""
    assert_error(await client.get("/v1/repositories/acme/repo", headers=v1.auth(who)), 404, "not_found")
    assert_error(await client.delete(path, headers=v1.auth(who)), 404, "not_found")
    assert (await v1.count(RepositoryRow), await v1.count(TagRow), await v1.count(StarRow)) == (0, 0, 0)


@pytest.mark.parametrize(("who", "status", "code"), [("dev", 403, "permission_denied"),
                                                     ("guest", 403, "permission_denied"),
                                                     ("stranger", 403, "permission_denied"),
                                                     (None, 401, "not_authenticated")])  # fmt: skip
async def test_delete_is_refused_below_namespace_admin(client, v1, who, status, code):
    await v1.create("acme", "repo", public=True, as_user="dev")
    headers = v1.auth(who) if who else {}
    assert_error(await client.delete("/v1/repositories/acme/repo", headers=headers), status, code)
    assert await v1.count(RepositoryRow) == 1


# -- tags -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/repositories/acme/repo/tags", "/v1/repositories/acme/repo/tags/"])
async def test_tags_newest_first(client, v1, path):
    await v1.create("acme", "repo", as_user="dev")
    image_ids = await v1.add_tags("acme", "repo", ["test", "stable", "latest"])
    response = await client.get(path, headers=v1.auth("guest"))
    assert response.status_code == 200, response.text
    tags = response.json()
    assert [tag["tag"] for tag in tags] == ["latest", "stable", "test"]
    assert [tag["image_id"] for tag in tags] == image_ids[::-1]
    assert all(re.fullmatch(r"[0-9a-f]{64}", tag["image_id"]) for tag in tags)
    assert {"image_id", "tag", "created_at", "updated_at"} <= set(tags[0])
    assert_times(tags[0], "created_at", "updated_at")


async def test_tags_of_an_untagged_repository_are_empty(client, v1):
    await v1.create("acme", "repo", public=True, as_user="dev")
    response = await client.get("/v1/repositories/acme/repo/tags")
    assert response.status_code == 200 and response.json() == []


# -- stars ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["star", "star/"])
async def test_star_and_unstar(client, v1, suffix):
    await v1.create("acme", "repo", public=True, as_user="dev")
    star = f"/v1/repositories/acme/repo/{suffix}"
    for who in ("dev", "stranger", "stranger"):  # a second star by the same user counts once
        response = await client.put(star, headers=v1.auth(who))
        assert response.status_code == 200, response.text
    assert response.json() == {"repo_starred_count": 2, "is_repo_starred": True}
    detail = await client.get("/v1/repositories/acme/repo", headers=v1.auth("stranger"))
    assert detail.json()["is_repo_starred"] is True and detail.json()["repo_starred_count"] == 2
    other = await client.get("/v1/repositories/acme/repo", headers=v1.auth("guest"))
    assert other.json()["is_repo_starred"] is False
    anonymous = await client.get("/v1/repositories/acme/repo")
    assert anonymous.json()["is_repo_starred"] is False
    listed = (await client.get("/v1/repositories/acme/")).json()["results"][0]
    assert listed["repo_starred_count"] == 2
    response = await client.delete(star, headers=v1.auth("stranger"))
    assert response.json() == {"repo_starred_count": 1, "is_repo_starred": False}
    assert await v1.count(StarRow) == 1


async def test_star_needs_authentication(client, v1):
    await v1.create("acme", "repo", public=True, as_user="dev")
    assert_error(await client.put("/v1/repositories/acme/repo/star"), 401, "not_authenticated")
    assert_error(await client.delete("/v1/repositories/acme/repo/star"), 401, "not_authenticated")
    assert await v1.count(StarRow) == 0


async def test_the_logo_a_detail_names_is_a_cacheable_jpeg(client, v1):
    await v1.create("acme", "test", as_user="dev")
    logo_file = (await client.get("/v1/repositories/acme/test", headers=v1.auth("guest"))).json()["logo_file"]
    image = await client.get(logo_file)  # no credentials: a browser's <img> sends none
    assert image.status_code == 200, image.text
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content.startswith(b"\xff\xd8\xff") and image.content.endswith(b"\xff\xd9")
    Image.open(io.BytesIO(image.content)).verify()  # a JPEG a browser can draw, not just its magic
    assert "max-age" in image.headers["cache-control"] and image.headers["etag"]
    again = await client.get(logo_file, headers={"If-None-Match": image.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert (await client.get("/static/images/other.jpg")).status_code == 404
