"""The real abeja-sdk (``abeja.registry.APIClient``) against a real ``repohub serve``, both databases.

The SDK reads ``ABEJA_API_URL`` once, into ``Connection.BASE_URL``, when it is imported; in-process
tests point that class attribute at the server, and one test runs a fresh interpreter with only
the environment variables a user would set, to prove that path too.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from asyncio.subprocess import PIPE
from collections.abc import Iterator

import httpx
import pytest
from abeja.common.connection import Connection
from abeja.exceptions import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from abeja.registry import APIClient

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.api.abeja.support import MANIFEST_V2, add_tag, user_id
from tests.server import Server, cli, serve


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


@pytest.fixture
async def alice(app, accounts, server, monkeypatch) -> dict[str, str]:
    """User alice, admin of org 'acme'; the SDK's env credentials and base URL point at her."""
    token = await accounts.user("alice")
    org_id = await accounts.org("acme", owner="alice")
    uid = str(await user_id(app, "alice"))
    monkeypatch.setattr(Connection, "BASE_URL", server.url)
    monkeypatch.delenv("PLATFORM_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("ABEJA_PLATFORM_USER_ID", uid)
    monkeypatch.setenv("ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN", token)
    return {"org": str(org_id), "user_id": uid, "token": token}


async def test_every_registry_call(app, alice):
    client = APIClient()
    org = alice["org"]
    created = client.create_repository(org, "sample", "this is sample repository")
    assert created["name"] == "sample" and created["description"] == "this is sample repository"
    assert created["organization_id"] == org and created["tags"] == []
    assert created["creator"]["id"] == alice["user_id"] and created["creator"]["role"] == "admin"
    assert created["creator"]["is_registered"] is True
    for name in ("other", "third"):
        client.create_repository(org, name)

    first = client.get_repositories(org, limit=2, offset=0)
    assert [r["name"] for r in first["registry_repositories"]] == ["other", "sample"]
    assert first["has_next"] is True and first["organization_name"] == "acme"
    last = client.get_repositories(org, limit=2, offset=2)
    assert [r["name"] for r in last["registry_repositories"]] == ["third"] and last["has_next"] is False
    everything = client.get_repositories(org)
    assert everything["limit"] == 10 and len(everything["registry_repositories"]) == 3

    repo_id = created["id"]
    await add_tag(app, int(repo_id), "0.0.3", creator="alice", size=2757009, minute=3)
    await add_tag(app, int(repo_id), "0.0.4", creator="alice", size=2757010, minute=4)
    got = client.get_repository(org, repo_id)
    assert got["id"] == repo_id and [t["name"] for t in got["tags"]] == ["0.0.4", "0.0.3"]

    tags = client.get_repository_tags(org, repo_id, limit=1, offset=0)
    assert tags["registry_repository_id"] == repo_id and tags["has_next"] is True
    (tag,) = tags["tags"]
    assert tag["name"] == "0.0.4" and tag["size"] == 2757010 and isinstance(tag["id"], int)
    assert tag["media_type"] == MANIFEST_V2 and tag["digest"].startswith("sha256:")
    assert tag["creator"]["role"] == "admin"
    rest = client.get_repository_tags(org, repo_id, limit=1, offset=1)
    assert [t["name"] for t in rest["tags"]] == ["0.0.3"] and rest["has_next"] is False
    assert client.get_repository_tags(org, repo_id)["limit"] == 10

    deleted = client.delete_repository(org, repo_id)
    assert deleted["id"] == repo_id and deleted["name"] == "sample" and len(deleted["tags"]) == 2
    with pytest.raises(NotFound):
        client.get_repository(org, repo_id)
    assert [r["name"] for r in client.get_repositories(org)["registry_repositories"]] == ["other", "third"]


async def test_bearer_token_from_a_credential_dict(alice):
    client = APIClient(credential={"auth_token": alice["token"]})
    made = client.create_repository(alice["org"], "viatoken")
    assert client.get_repository(alice["org"], made["id"])["name"] == "viatoken"


async def test_exception_classes(app, accounts, alice):
    client = APIClient()
    org = alice["org"]
    client.create_repository(org, "taken")
    started = time.monotonic()

    with pytest.raises(Unauthorized) as unauthorized:
        APIClient(
            credential={"user_id": alice["user_id"], "personal_access_token": "wrong"}
        ).get_repositories(org)
    assert unauthorized.value.status_code == 401 and unauthorized.value.error == "unauthorized"
    with pytest.raises(Unauthorized):
        APIClient(credential={"auth_token": "wrong"}).get_repository(org, "1")

    with pytest.raises(NotFound) as not_found:
        client.get_repository(org, "999999")
    assert not_found.value.error == "not_found" and "999999" in not_found.value.error_description
    with pytest.raises(NotFound):
        client.get_repositories("424242")
    with pytest.raises(NotFound):
        client.delete_repository("not-a-number", "1")

    with pytest.raises(Conflict) as conflict:
        client.create_repository(org, "taken")
    assert conflict.value.status_code == 409 and conflict.value.error == "conflict"

    with pytest.raises(BadRequest) as bad_name:
        client.create_repository(org, "Not Valid")
    assert bad_name.value.error == "bad_request" and bad_name.value.error_detail == {"field": "name"}
    for limit in (0, -1, 101):
        with pytest.raises(BadRequest):
            client.get_repositories(org, limit=limit)
    with pytest.raises(BadRequest):
        client.get_repository_tags(org, "1", offset=-1)

    token = await accounts.user("bob")
    await accounts.member("acme", "bob", Role.VIEWER)
    viewer = APIClient(credential={"user_id": str(await user_id(app, "bob")), "personal_access_token": token})
    with pytest.raises(Forbidden):
        viewer.create_repository(org, "nope")
    # No call above was retried: every client mistake is a 4xx, answered at once.
    assert time.monotonic() - started < 10


async def test_paging_edges_visibility_and_other_dialects_over_the_wire(app, accounts, server, alice):
    """Through the real server: the end of a page, beyond the end, another organization's private
    repository, and a repository made and removed through v1."""
    client = APIClient()
    org = alice["org"]
    for name in ("p1", "p2"):
        client.create_repository(org, name)
    exact = client.get_repositories(org, limit=2, offset=0)
    assert [r["name"] for r in exact["registry_repositories"]] == ["p1", "p2"] and exact["has_next"] is False
    beyond = client.get_repositories(org, limit=10, offset=50)
    assert beyond["registry_repositories"] == [] and beyond["has_next"] is False and beyond["offset"] == 50

    v1 = httpx.AsyncClient(
        base_url=server.url, headers={"Authorization": f"Token {alice['token']}"}, timeout=10
    )
    async with v1:
        made = await v1.post("/v1/repositories/acme/", json={"repo_name": "crossed", "description": "via v1"})
        assert made.status_code == 201, made.text
        public = await v1.post("/v1/repositories/acme/", json={"repo_name": "shown", "is_public": True})
        assert public.status_code == 201, public.text
        listed = {r["name"]: r for r in client.get_repositories(org)["registry_repositories"]}
        assert listed["crossed"]["description"] == "via v1"
        crossed_id = listed["crossed"]["id"]
        assert client.get_repository(org, crossed_id)["name"] == "crossed"

        token = await accounts.user("eve")
        await accounts.org("elsewhere", owner="eve")
        outsider = APIClient(
            credential={"user_id": str(await user_id(app, "eve")), "personal_access_token": token}
        )
        with pytest.raises(NotFound):  # private, and eve is no member of acme: it does not exist for her
            outsider.get_repository(org, crossed_id)
        seen = [r["name"] for r in outsider.get_repositories(org)["registry_repositories"]]
        assert seen == ["shown"]  # public repositories are anyone's to read
        # ...but the creator's e-mail and role are the org's: null for eve, present for alice.
        shown_id = listed["shown"]["id"]
        for creator in (
            outsider.get_repositories(org)["registry_repositories"][0]["creator"],
            outsider.get_repository(org, shown_id)["creator"],
        ):
            assert creator["id"] == alice["user_id"] and "display_name" in creator
            assert (creator["email"], creator["role"]) == (None, None)
        own = client.get_repository(org, shown_id)["creator"]
        assert (own["email"], own["role"]) == ("alice@example.test", "admin")

        assert client.delete_repository(org, crossed_id)["name"] == "crossed"
        assert (await v1.get("/v1/repositories/acme/crossed")).status_code == 404


# What a user runs: an unmodified script, configured only by the SDK's environment variables.
_SCRIPT = (
    "import json, sys\n"
    "from abeja.registry import APIClient\n"
    "client = APIClient()\n"
    "made = client.create_repository(sys.argv[1], sys.argv[2], 'set by env')\n"
    "print(json.dumps({'made': made, 'listed': client.get_repositories(sys.argv[1])}))\n"
)


async def _run_sdk_script(server: Server, *, user_id: str, token: str, org: str, repo: str) -> dict:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "ABEJA_API_URL": server.url,
        "ABEJA_PLATFORM_USER_ID": user_id,
        "ABEJA_PLATFORM_PERSONAL_ACCESS_TOKEN": token,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SCRIPT, org, repo, env=env, stdout=PIPE, stderr=PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return json.loads(stdout)


async def test_abeja_api_url_from_the_environment(server, alice):
    """What a user does: set three variables and run an unmodified script."""
    ran = await _run_sdk_script(
        server, user_id=alice["user_id"], token=alice["token"], org=alice["org"], repo="from-env"
    )
    assert [(r["name"], r["description"]) for r in ran["listed"]["registry_repositories"]] == [
        ("from-env", "set by env")
    ]


async def test_cli_json_output_feeds_the_sdk(settings, server, clean):
    """Onboarding as a script does it: the CLI's --json gives the organization id, user id and
    token, and those alone configure the SDK (no id is looked up any other way)."""

    def onboard() -> tuple[dict[str, str], dict[str, str]]:
        cli(settings, "users", "create", "carol", "--password", "carol-password-1")
        org = json.loads(cli(settings, "orgs", "create", "lab", "--owner", "carol", "--json"))
        issued = json.loads(cli(settings, "tokens", "create", "carol", "--json"))
        return org, issued

    org, issued = await asyncio.to_thread(onboard)  # CLI processes; the session's loop stays free
    ran = await _run_sdk_script(
        server, user_id=issued["user_id"], token=issued["token"], org=org["id"], repo="piped"
    )
    made, listed = ran["made"], ran["listed"]
    assert made["name"] == "piped" and made["organization_id"] == org["id"]
    assert made["creator"]["id"] == issued["user_id"] and made["creator"]["role"] == "admin"
    # The list envelope's organization_id is a number, as in ABEJA's sample; a string elsewhere.
    assert str(listed["organization_id"]) == org["id"] and listed["organization_name"] == "lab"
    assert [(r["id"], r["name"]) for r in listed["registry_repositories"]] == [(made["id"], "piped")]
