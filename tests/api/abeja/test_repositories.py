"""The ABEJA dialect over the wire (httpx on the ASGI app), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from repohub.domain.entities import Role
from tests.api.abeja.support import MANIFEST_V2, add_tag, basic, bearer, repository_id, user_id
from tests.world import token_header

CREATOR_KEYS = {"id", "email", "display_name", "role", "is_registered", "created_at", "updated_at"}
REPOSITORY_KEYS = {
    "id",
    "organization_id",
    "name",
    "description",
    "tags",
    "creator",
    "created_at",
    "updated_at",
}
ENVELOPE_KEYS = {
    "offset",
    "limit",
    "has_next",
    "organization_name",
    "organization_id",
    "created_at",
    "updated_at",
}
TAG_KEYS = {"id", "name", "digest", "media_type", "size", "creator", "created_at", "updated_at"}


@pytest.fixture
async def acme(app, accounts):
    """Org 'acme' (admin alice) with its id and alice's Basic credentials."""
    token = await accounts.user("alice")
    org_id = await accounts.org("acme", owner="alice")
    return {"org": str(org_id), "auth": basic(await user_id(app, "alice"), token), "token": token}


def repos_path(org: str) -> str:
    return f"/organizations/{org}/registry/repositories"


async def test_create_answers_the_repository_as_the_sdk_documents(client, acme):
    created = await client.post(
        repos_path(acme["org"]), json={"name": "sample", "description": "a sample"}, headers=acme["auth"]
    )
    assert created.status_code == 200, created.text
    body = created.json()
    assert set(body) == REPOSITORY_KEYS
    assert body["id"].isdigit() and body["organization_id"] == acme["org"]
    assert (body["name"], body["description"], body["tags"]) == ("sample", "a sample", [])
    creator = body["creator"]
    assert set(creator) == CREATOR_KEYS
    assert creator["role"] == "admin" and creator["is_registered"] is True
    assert creator["email"] == "alice@example.test" and creator["display_name"] is None
    assert body["created_at"].endswith("Z") and creator["id"].isdigit()
    # The SDK leaves description out when not given: ABEJA shows it as null.
    bare = await client.post(repos_path(acme["org"]), json={"name": "bare"}, headers=acme["auth"])
    assert bare.status_code == 200 and bare.json()["description"] is None


async def test_bearer_token_works_like_basic(client, acme):
    created = await client.post(repos_path(acme["org"]), json={"name": "web"}, headers=bearer(acme["token"]))
    assert created.status_code == 200, created.text
    got = await client.get(f"{repos_path(acme['org'])}/{created.json()['id']}", headers=bearer(acme["token"]))
    assert got.json()["name"] == "web"


async def test_get_organization(client, acme):
    got = await client.get(f"/organizations/{acme['org']}", headers=acme["auth"])
    assert got.status_code == 200, got.text
    assert got.json()["id"] == acme["org"] and got.json()["name"] == "acme"
    assert set(got.json()) == {"id", "name", "display_name", "created_at", "updated_at"}


async def test_creator_role_is_the_creators_role_in_the_org(app, client, accounts, acme):
    token = await accounts.user("mia")
    await accounts.member("acme", "mia", Role.MEMBER)
    mia = basic(await user_id(app, "mia"), token)
    created = await client.post(repos_path(acme["org"]), json={"name": "mias"}, headers=mia)
    assert created.json()["creator"]["role"] == "member"
    listed = await client.get(repos_path(acme["org"]), headers=acme["auth"])  # seen by the admin
    assert listed.json()["registry_repositories"][0]["creator"]["role"] == "member"


async def _make(client, acme, *names: str) -> list[str]:
    ids = []
    for name in names:
        made = await client.post(repos_path(acme["org"]), json={"name": name}, headers=acme["auth"])
        assert made.status_code == 200, made.text
        ids.append(made.json()["id"])
    return ids


async def _page(client, acme, **params):
    answer = await client.get(repos_path(acme["org"]), params=params, headers=acme["auth"])
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_list_envelope_and_default_limit(client, acme):
    await _make(client, acme, *(f"r{i:02d}" for i in range(12)))
    page = await _page(client, acme)
    assert set(page) == ENVELOPE_KEYS | {"registry_repositories"}
    assert (page["offset"], page["limit"], page["has_next"]) == (0, 10, True)
    assert page["organization_name"] == "acme"
    assert page["organization_id"] == int(acme["org"])  # a number here, as in ABEJA's sample
    assert [r["name"] for r in page["registry_repositories"]] == [f"r{i:02d}" for i in range(10)]
    assert all("tags" not in r for r in page["registry_repositories"])
    assert set(page["registry_repositories"][0]) == REPOSITORY_KEYS - {"tags"}
    rest = await _page(client, acme, offset=10)
    assert [r["name"] for r in rest["registry_repositories"]] == ["r10", "r11"]
    assert rest["has_next"] is False
    assert (await _page(client, acme, limit=100))["limit"] == 100


async def test_has_next_at_exact_page_ends_and_beyond(client, acme):
    await _make(client, acme, "a", "b", "c", "d")
    assert (await _page(client, acme, limit=2, offset=0))["has_next"] is True
    last = await _page(client, acme, limit=2, offset=2)  # ends exactly at the last item
    assert [r["name"] for r in last["registry_repositories"]] == ["c", "d"] and last["has_next"] is False
    whole = await _page(client, acme, limit=4)
    assert len(whole["registry_repositories"]) == 4 and whole["has_next"] is False
    one_short = await _page(client, acme, limit=3, offset=0)
    assert one_short["has_next"] is True
    beyond = await _page(client, acme, limit=2, offset=9)
    assert beyond["registry_repositories"] == [] and beyond["has_next"] is False and beyond["offset"] == 9


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": -1},
        {"limit": 101},
        {"limit": "ten"},
        {"limit": ""},
        {"offset": -1},
        {"offset": "x"},
        {"offset": 10**30},
        {"limit": 10**30},
    ],
)
async def test_bad_paging_is_a_400_in_abeja_format(client, acme, params):
    await _make(client, acme, "a")
    repo_id = (await _page(client, acme))["registry_repositories"][0]["id"]
    for path in (repos_path(acme["org"]), f"{repos_path(acme['org'])}/{repo_id}/tags"):
        answer = await client.get(path, params=params, headers=acme["auth"])
        assert answer.status_code == 400, (path, params, answer.text)
        assert answer.json()["error"] == "bad_request"
        assert answer.json()["error_description"]


async def test_tags_page_newest_first_with_every_field(app, client, acme):
    (repo_id,) = await _make(client, acme, "app")
    for minute, name in enumerate(["0.1", "0.2", "0.3"]):
        await add_tag(app, int(repo_id), name, creator="alice", size=100 + minute, minute=minute)
    tags_path = f"{repos_path(acme['org'])}/{repo_id}/tags"
    page = (await client.get(tags_path, headers=acme["auth"])).json()
    assert set(page) == ENVELOPE_KEYS | {"registry_repository_id", "tags"}
    assert page["registry_repository_id"] == repo_id and page["organization_id"] == acme["org"]
    assert (page["limit"], page["offset"], page["has_next"]) == (10, 0, False)
    assert [tag["name"] for tag in page["tags"]] == ["0.3", "0.2", "0.1"]
    tag = page["tags"][0]
    assert set(tag) == TAG_KEYS
    assert isinstance(tag["id"], int) and tag["size"] == 102 and tag["media_type"] == MANIFEST_V2
    assert tag["digest"].startswith("sha256:") and tag["creator"]["role"] == "admin"
    first = (await client.get(tags_path, params={"limit": 2}, headers=acme["auth"])).json()
    assert [t["name"] for t in first["tags"]] == ["0.3", "0.2"] and first["has_next"] is True
    exact = (await client.get(tags_path, params={"limit": 2, "offset": 1}, headers=acme["auth"])).json()
    assert [t["name"] for t in exact["tags"]] == ["0.2", "0.1"] and exact["has_next"] is False
    beyond = (await client.get(tags_path, params={"offset": 3}, headers=acme["auth"])).json()
    assert beyond["tags"] == [] and beyond["has_next"] is False
    # The repository carries its tags too, newest first.
    detail = (await client.get(f"{repos_path(acme['org'])}/{repo_id}", headers=acme["auth"])).json()
    assert [t["name"] for t in detail["tags"]] == ["0.3", "0.2", "0.1"]
    assert detail["tags"][0] == tag


async def test_delete_answers_the_deleted_repository(app, client, acme):
    (repo_id,) = await _make(client, acme, "gone")
    await add_tag(app, int(repo_id), "latest", creator="alice")
    path = f"{repos_path(acme['org'])}/{repo_id}"
    deleted = await client.delete(path, headers=acme["auth"])
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["id"] == repo_id and [t["name"] for t in deleted.json()["tags"]] == ["latest"]
    again = await client.get(path, headers=acme["auth"])
    assert again.status_code == 404 and again.json()["error"] == "not_found"


async def test_same_repository_as_v1_both_ways(app, client, acme):
    v1 = token_header(acme["token"])
    made = await client.post(
        "/v1/repositories/acme/",
        json={"repo_name": "shared", "description": "from v1", "is_public": False},
        headers=v1,
    )
    assert made.status_code == 201, made.text
    repo_id = await repository_id(app, "acme", "shared")
    await add_tag(app, repo_id, "1.0", creator="alice", minute=1)
    await add_tag(app, repo_id, "2.0", creator="alice", minute=2)
    listed = (await client.get(repos_path(acme["org"]), headers=acme["auth"])).json()
    assert [(r["id"], r["name"], r["description"]) for r in listed["registry_repositories"]] == [
        (str(repo_id), "shared", "from v1")
    ]
    detail = (await client.get(f"{repos_path(acme['org'])}/{repo_id}", headers=acme["auth"])).json()
    v1_tags = (await client.get("/v1/repositories/acme/shared/tags", headers=v1)).json()
    assert [t["name"] for t in detail["tags"]] == [t["tag"] for t in v1_tags] == ["2.0", "1.0"]
    assert [t["digest"] for t in detail["tags"]] == [t["digest"] for t in v1_tags]
    # Created here, seen by v1; deleted here, gone from v1.
    created = await client.post(
        repos_path(acme["org"]), json={"name": "native", "description": "abeja"}, headers=acme["auth"]
    )
    v1_view = await client.get("/v1/repositories/acme/native", headers=v1)
    assert v1_view.status_code == 200 and v1_view.json()["description"] == "abeja"
    assert v1_view.json()["is_public"] is False
    deleted = await client.delete(f"{repos_path(acme['org'])}/{repo_id}", headers=acme["auth"])
    assert deleted.status_code == 200
    assert (await client.get("/v1/repositories/acme/shared", headers=v1)).status_code == 404
    assert created.json()["id"] == str(await repository_id(app, "acme", "native"))


async def test_private_repository_invisible_to_another_orgs_user(app, client, accounts, acme):
    bob_token = await accounts.user("bob")
    await accounts.org("globex", owner="bob")
    bob = basic(await user_id(app, "bob"), bob_token)
    (secret_id,) = await _make(client, acme, "secret")
    public = await client.post(
        "/v1/repositories/acme/",
        json={"repo_name": "open", "is_public": True},
        headers=token_header(acme["token"]),
    )
    assert public.status_code == 201
    base = repos_path(acme["org"])
    for method, path in [
        ("GET", f"{base}/{secret_id}"),
        ("GET", f"{base}/{secret_id}/tags"),
        ("DELETE", f"{base}/{secret_id}"),
    ]:
        answer = await client.request(method, path, headers=bob)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"] == "not_found"
    # Listing someone else's org shows its public repositories only.
    listed = (await client.get(base, headers=bob)).json()
    assert [r["name"] for r in listed["registry_repositories"]] == ["open"] and listed["has_next"] is False
    # A public repository is readable, but deleting it needs the org's admin role.
    open_id = listed["registry_repositories"][0]["id"]
    assert (await client.get(f"{base}/{open_id}", headers=bob)).status_code == 200
    refused = await client.delete(f"{base}/{open_id}", headers=bob)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    # Creating in another org is refused too, with ABEJA's 403.
    denied = await client.post(base, json={"name": "intruder"}, headers=bob)
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    assert (await client.get(f"{base}/{secret_id}", headers=acme["auth"])).status_code == 200
