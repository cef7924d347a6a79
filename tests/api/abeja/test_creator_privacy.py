"""Who sees a creator's e-mail and role (ABEJA's ``creator``): the organization's members (site
admins too) and the creator themself; anyone else who may read the repository sees who made it (id,
display name) with ``email`` and ``role`` present but null, so the SDK's shape holds."""

from __future__ import annotations

import pytest

from repohub.domain.entities import Role
from repohub.store.unit import Store
from tests.api.abeja.support import add_tag, basic, user_id
from tests.api.abeja.test_repositories import CREATOR_KEYS, repos_path
from tests.world import token_header


@pytest.fixture
async def shared(app, client, accounts):
    """Org 'acme' (admin alice) with a public repository 'open' made by alice and tagged by carl, who
    has since left the org; callers: alice, bob (no role), vera (viewer), carl, root (site admin)."""
    callers = {}
    for name in ("alice", "bob", "vera", "carl", "root"):
        token = await accounts.user(name, admin=name == "root")
        callers[name] = {"token": token, "auth": basic(await user_id(app, name), token)}
    org = str(await accounts.org("acme", owner="alice"))
    await accounts.member("acme", "vera", Role.VIEWER)
    await accounts.member("acme", "carl", Role.MEMBER)
    made = await client.post(
        "/v1/repositories/acme/",
        json={"repo_name": "open", "is_public": True},
        headers=token_header(callers["alice"]["token"]),
    )
    assert made.status_code == 201, made.text
    repo = (await client.get(repos_path(org), headers=callers["alice"]["auth"])).json()
    repo_id = repo["registry_repositories"][0]["id"]
    await add_tag(app, int(repo_id), "1.0", creator="carl")
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        async with store.transaction():
            await store.namespaces.remove_member(int(org), await user_id(app, "carl"))
    return {"org": org, "repo": repo_id, "callers": callers}


async def _creators(client, shared, caller: str) -> dict[str, list[dict]]:
    """The creators of the repository body, the list body and the tag body, as ``caller`` sees them."""
    auth = shared["callers"][caller]["auth"]
    base = repos_path(shared["org"])
    detail = await client.get(f"{base}/{shared['repo']}", headers=auth)
    listed = await client.get(base, headers=auth)
    tags = await client.get(f"{base}/{shared['repo']}/tags", headers=auth)
    for answer in (detail, listed, tags):
        assert answer.status_code == 200, answer.text
    return {
        "repository": [detail.json()["creator"], *(tag["creator"] for tag in detail.json()["tags"])],
        "list": [repo["creator"] for repo in listed.json()["registry_repositories"]],
        "tags": [tag["creator"] for tag in tags.json()["tags"]],
    }


async def test_an_outsider_sees_no_creators_email_or_role(app, client, shared):
    alice_id, carl_id = str(await user_id(app, "alice")), str(await user_id(app, "carl"))
    seen = await _creators(client, shared, "bob")
    assert [creator["id"] for creator in seen["repository"]] == [alice_id, carl_id]
    for body, creators in seen.items():
        for creator in creators:
            assert set(creator) == CREATOR_KEYS, body  # the fields stay, for the SDK
            assert (creator["email"], creator["role"]) == (None, None), (body, creator)
            assert creator["id"] in (alice_id, carl_id) and "display_name" in creator


@pytest.mark.parametrize("member", ["alice", "vera", "root"])
async def test_members_and_site_admins_see_creators_email_and_role(client, shared, member):
    seen = await _creators(client, shared, member)
    alice, carl = seen["repository"]
    assert (alice["email"], alice["role"]) == ("alice@example.test", "admin")
    # carl left the org: his e-mail still shows to its members, and no role.
    assert (carl["email"], carl["role"]) == ("carl@example.test", None)
    assert seen["list"] == [alice] and seen["tags"] == [carl]


async def test_a_creator_sees_their_own_email_and_nobody_elses(client, shared):
    seen = await _creators(client, shared, "carl")  # carl is no longer a member
    alice, carl = seen["repository"]
    assert (alice["email"], alice["role"]) == (None, None)
    assert (carl["email"], carl["role"]) == ("carl@example.test", None)
    assert seen["list"] == [alice] and seen["tags"] == [carl]
