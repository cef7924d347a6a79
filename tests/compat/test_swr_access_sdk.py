"""SWR's per-repository permissions and shared repositories through the real huaweicloudsdkswr
``SwrClient`` (AK/SK) against a real ``repohub serve``, on SQLite and PostgreSQL: the four
``*_user_repository_auth`` calls, the five access-domain calls and both lists of shared repositories,
their refusals in SWR's format, and what a grant or a share lets its user see in every dialect's
lists, until the share's deadline. Pulls through the registry are the registry tests'.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from huaweicloudsdkswr.v2 import (
    CreateRepoDomainsRequest,
    CreateRepoDomainsRequestBody,
    CreateUserRepositoryAuthRequest,
    DeleteRepoDomainsRequest,
    DeleteUserRepositoryAuthRequest,
    ListRepoDomainsRequest,
    ListReposDetailsRequest,
    ListSharedRepoDetailsRequest,
    ListSharedReposDetailsRequest,
    ShowAccessDomainRequest,
    ShowRepositoryRequest,
    ShowUserRepositoryAuthRequest,
    SwrClient,
    UpdateRepoDomainsRequest,
    UpdateRepoDomainsRequestBody,
    UpdateUserRepositoryAuthRequest,
    UserAuth,
)

from repohub.config import Settings
from repohub.domain.access_records import ShareChanges
from repohub.domain.clock import utcnow
from repohub.domain.entities import Role
from tests.api.abeja.support import bearer
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.server import Server, serve
from tests.world import World, token_header


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


async def _team(accounts: World) -> dict[str, Any]:
    """alice admins team (private team/app, team/lib, team/zed); bob and carol are plain users;
    dave is a member of ops, carol's organisation."""
    for name in ("alice", "bob", "carol", "dave"):
        await accounts.user(name)
    await accounts.org("team", owner="alice")
    await accounts.org("ops", owner="carol", members={"dave": Role.MEMBER})
    for name in ("team/app", "lib", "zed"):
        await accounts.repository(f"team/{name}", by="alice")
    return {name: await accounts.user_id(name) for name in ("alice", "bob", "carol", "dave")}


async def _clients(server: Server, accounts: World, *names: str) -> dict[str, SwrClient]:
    return {name: swr_client(server.url, await access_key(accounts, name)) for name in names}


def _auth(user_id: int, name: str, auth: int) -> UserAuth:
    return UserAuth(user_id=str(user_id), user_name=name, auth=auth)


def _on(repository: str = "team/app", **fields: Any) -> dict[str, Any]:
    return {"namespace": "team", "repository": repository, **fields}


async def _namespace_id(accounts: World, name: str) -> int:
    async with accounts.service() as service:
        found = await service.store.namespaces.by_name(name)
        assert found is not None
        return found.id
    raise AssertionError("unreachable")


def _listed(client: SwrClient) -> list[str]:
    """The repositories ``GET /v2/manage/repos`` shows the caller, as namespace/name."""
    rows = client.list_repos_details(ListReposDetailsRequest()).body or []
    return sorted(f"{row.namespace}/{row.name}" for row in rows)


async def test_the_four_repository_auth_calls_through_the_sdk(server, accounts):
    ids = await _team(accounts)
    clients = await _clients(server, accounts, "alice", "bob", "carol")
    alice, bob, carol = clients["alice"], clients["bob"], clients["carol"]

    created = alice.create_user_repository_auth(
        CreateUserRepositoryAuthRequest(**_on(), body=[_auth(ids["bob"], "bob", 1)])
    )
    assert created.status_code == 201
    shown = alice.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on()))
    app_id = await accounts.repository_id("team/team/app")
    assert (shown.id, shown.name) == (app_id, "team/app")
    assert (shown.self_auth.user_name, shown.self_auth.auth) == ("alice", 7)
    assert [(u.user_id, u.user_name, u.auth) for u in shown.others_auths] == [(str(ids["bob"]), "bob", 1)]
    # bob sees his own role, read through the grant; SWR's "$" for "/" works as %2F does.
    mine = bob.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on("team$app")))
    assert (mine.self_auth.user_name, mine.self_auth.auth, mine.others_auths) == ("bob", 1, [])

    updated = alice.update_user_repository_auth(
        UpdateUserRepositoryAuthRequest(**_on(), body=[_auth(ids["bob"], "bob", 7)])
    )
    assert updated.status_code == 201
    assert bob.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on())).self_auth.auth == 7
    # Granted admin, bob administers the repository's access: he gives carol a viewer's role.
    bob.create_user_repository_auth(
        CreateUserRepositoryAuthRequest(**_on(), body=[_auth(ids["carol"], "carol", 1)])
    )
    others = alice.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on())).others_auths
    assert [(u.user_name, u.auth) for u in others] == [("bob", 7), ("carol", 1)]
    # carol, a viewer, may not; bob's grant is on team/app alone.
    refused(
        lambda: carol.delete_user_repository_auth(
            DeleteUserRepositoryAuthRequest(**_on(), body=[str(ids["bob"])])
        ),
        403,
    )
    refused(lambda: bob.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on("lib"))), 404)

    deleted = alice.delete_user_repository_auth(
        DeleteUserRepositoryAuthRequest(**_on(), body=[str(ids["bob"]), str(ids["carol"])])
    )
    assert deleted.status_code == 204
    assert alice.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on())).others_auths == []
    # Without his grant, team/app is a missing repository to bob.
    refused(lambda: bob.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on())), 404)


async def test_bad_repository_auth_requests_are_refused_in_swr_format(server, accounts):
    ids = await _team(accounts)
    clients = await _clients(server, accounts, "alice", "bob")
    alice, bob = clients["alice"], clients["bob"]

    def create(*entries: UserAuth, client: SwrClient = alice, repository: str = "team/app") -> Any:
        return client.create_user_repository_auth(
            CreateUserRepositoryAuthRequest(**_on(repository), body=list(entries))
        )

    unknown = refused(lambda: create(UserAuth(user_id="999999", auth=1)), 404)
    assert "999999" in unknown.error_msg
    refused(lambda: create(UserAuth(user_name="nobody", auth=1)), 404)
    bad_auth = refused(lambda: create(_auth(ids["bob"], "bob", 5)), 400)
    assert "auth" in bad_auth.error_msg
    refused(lambda: create(_auth(ids["bob"], "carol", 1)), 400)  # id and name disagree
    refused(lambda: create(_auth(ids["bob"], "bob", 1), _auth(ids["bob"], "bob", 3)), 400)  # twice
    refused(lambda: create(), 400)
    refused(lambda: create(_auth(ids["carol"], "carol", 1), repository="nothing"), 404)
    # bob, who has no role on team/app, cannot tell it from a missing repository.
    refused(lambda: create(_auth(ids["carol"], "carol", 1), client=bob), 404)
    create(_auth(ids["bob"], "bob", 3))
    refused(lambda: create(_auth(ids["bob"], "bob", 1)), 409)  # has a grant already
    # bob, a member through his grant, reads the list but may not change it.
    refused(lambda: create(_auth(ids["carol"], "carol", 1), client=bob), 403)
    refused(
        lambda: alice.update_user_repository_auth(
            UpdateUserRepositoryAuthRequest(**_on(), body=[_auth(ids["carol"], "carol", 3)])
        ),
        404,
    )
    for body in ([str(ids["carol"])], ["not-a-number"], []):
        status = 404 if body and body[0].isdigit() else 400
        refused(
            lambda body=body: alice.delete_user_repository_auth(
                DeleteUserRepositoryAuthRequest(**_on(), body=body)
            ),
            status,
        )
    shown = alice.show_user_repository_auth(ShowUserRepositoryAuthRequest(**_on()))
    assert [(u.user_name, u.auth) for u in shown.others_auths] == [("bob", 3)]


async def test_a_viewer_grant_shows_that_repository_and_only_it_in_every_list(server, accounts):
    ids = await _team(accounts)
    clients = await _clients(server, accounts, "alice", "bob")
    alice, bob = clients["alice"], clients["bob"]
    await accounts.tag("team/team/app", "v1")
    assert _listed(bob) == []
    alice.create_user_repository_auth(
        CreateUserRepositoryAuthRequest(**_on(), body=[_auth(ids["bob"], "bob", 1)])
    )

    assert _listed(bob) == ["team/team/app"]
    shown = bob.show_repository(ShowRepositoryRequest(**_on()))
    assert shown.name == "team/app"
    async with httpx.AsyncClient(base_url=server.url) as http:
        v1 = await http.get("/v1/repositories/team", headers=token_header(accounts.tokens["bob"]))
        assert v1.status_code == 200
        assert [row["repo_name"] for row in v1.json()["results"]] == ["team/app"]
        assert v1.json()["count"] == 1
        tags = await http.get(
            "/v1/repositories/team/team/app/tags", headers=token_header(accounts.tokens["bob"])
        )
        assert [tag["tag"] for tag in tags.json()] == ["v1"]
        team_id = await _namespace_id(accounts, "team")
        abeja = await http.get(
            f"/organizations/{team_id}/registry/repositories", headers=bearer(accounts.tokens["bob"])
        )
        assert abeja.status_code == 200
        assert [row["name"] for row in abeja.json()["registry_repositories"]] == ["team/app"]
        # A viewer may not change it.
        refused(
            lambda: bob.delete_user_repository_auth(DeleteUserRepositoryAuthRequest(**_on(), body=["1"])), 403
        )


def _share(
    client: SwrClient,
    access_domain: str,
    deadline: str = "forever",
    repository: str = "team/app",
    **fields: Any,
) -> Any:
    body = CreateRepoDomainsRequestBody(
        access_domain=access_domain, permit="read", deadline=deadline, **fields
    )
    return client.create_repo_domains(CreateRepoDomainsRequest(**_on(repository), body=body))


async def test_the_seven_share_calls_through_the_sdk(server, accounts):
    await _team(accounts)
    clients = await _clients(server, accounts, "alice", "dave", "carol")
    alice, dave = clients["alice"], clients["dave"]
    await accounts.tag("team/team/app", "v1")

    created = _share(alice, "ops", description="for ops")
    assert created.status_code == 201
    [listed] = alice.list_repo_domains(ListRepoDomainsRequest(**_on())).body
    assert (listed.namespace, listed.repository, listed.access_domain) == ("team", "team/app", "ops")
    assert (listed.permit, listed.deadline, listed.description, listed.status) == (
        "read",
        "forever",
        "for ops",
        True,
    )
    assert (listed.creator_name, listed.creator_id) == ("alice", str(await accounts.user_id("alice")))
    shown = alice.show_access_domain(ShowAccessDomainRequest(**_on(), access_domain="ops"))
    assert (shown.exist, shown.access_domain, shown.deadline, shown.status) == (True, "ops", "forever", True)
    assert shown.created and shown.updated

    deadline = (utcnow() + timedelta(days=30)).replace(microsecond=0)
    updated = alice.update_repo_domains(
        UpdateRepoDomainsRequest(
            **_on(),
            access_domain="ops",
            body=UpdateRepoDomainsRequestBody(
                permit="read", deadline=deadline.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            ),
        )
    )
    assert updated.status_code == 201
    after = alice.show_access_domain(ShowAccessDomainRequest(**_on(), access_domain="ops"))
    assert after.deadline == deadline.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    assert after.description == "for ops"  # left out of the update: kept

    # Both sides of the share, v2 (offset paging, Content-Range) and v3 (marker paging).
    _share(alice, "ops", repository="zed")
    theirs = dave.list_shared_repos_details(ListSharedReposDetailsRequest(center="thirdparty"))
    assert [(row.namespace, row.name, row.status, row.tags) for row in theirs.body] == [
        ("team", "team/app", True, ["v1"]),
        ("team", "zed", True, []),
    ]
    mine = alice.list_shared_repos_details(
        ListSharedReposDetailsRequest(
            filter="center::self|offset::1|limit::1|order_column::name|order_type::asc"
        )
    )
    assert [(row.name, row.status) for row in mine.body] == [("zed", False)]
    assert mine.content_range == "1-1/2"
    assert dave.list_shared_repos_details(ListSharedReposDetailsRequest(center="self")).body in (None, [])
    first = dave.list_shared_repo_details(ListSharedRepoDetailsRequest(shared_by="thirdparty", limit=1))
    assert [(repo.namespace_name, repo.name, repo.status) for repo in first.repos] == [
        ("team", "team/app", True)
    ]
    assert first.next_marker == await accounts.repository_id("team/zed")
    second = dave.list_shared_repo_details(
        ListSharedRepoDetailsRequest(shared_by="thirdparty", limit=1, marker=first.next_marker)
    )
    assert [repo.name for repo in second.repos] == ["zed"] and second.next_marker is None
    named = alice.list_shared_repo_details(ListSharedRepoDetailsRequest(shared_by="self", name="team$app"))
    assert [repo.name for repo in named.repos] == ["team/app"]
    expired = dave.list_shared_repo_details(
        ListSharedRepoDetailsRequest(shared_by="thirdparty", status=False)
    )
    assert expired.repos == []

    deleted = alice.delete_repo_domains(DeleteRepoDomainsRequest(**_on(), access_domain="ops"))
    assert deleted.status_code == 204
    refused(lambda: alice.show_access_domain(ShowAccessDomainRequest(**_on(), access_domain="ops")), 404)
    refused(lambda: alice.delete_repo_domains(DeleteRepoDomainsRequest(**_on(), access_domain="ops")), 404)
    assert [
        row.name
        for row in dave.list_shared_repos_details(ListSharedReposDetailsRequest(center="thirdparty")).body
    ] == ["zed"]


async def test_bad_share_requests_are_refused_in_swr_format(server, accounts):
    ids = await _team(accounts)
    clients = await _clients(server, accounts, "alice", "bob", "dave")
    alice, bob, dave = clients["alice"], clients["bob"], clients["dave"]
    past = (utcnow() - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert "deadline" in refused(lambda: _share(alice, "ops", deadline=past), 400).error_msg
    refused(lambda: _share(alice, "ops", deadline="next week"), 400)
    refused(lambda: _share(alice, "ops", deadline="9999-12-31T23:59:59-01:00"), 400)
    assert "nowhere" in refused(lambda: _share(alice, "nowhere"), 404).error_msg
    assert "own namespace" in refused(lambda: _share(alice, "team"), 400).error_msg
    refused(lambda: _share(alice, "ops", description="x" * 1025), 400)
    body = CreateRepoDomainsRequestBody(access_domain="ops", permit="write", deadline="forever")
    assert (
        "permit"
        in refused(
            lambda: alice.create_repo_domains(CreateRepoDomainsRequest(**_on(), body=body)), 400
        ).error_msg
    )
    # Outsiders cannot tell the repository from a missing one; a viewer may not share it.
    refused(lambda: _share(bob, "ops"), 404)
    alice.create_user_repository_auth(
        CreateUserRepositoryAuthRequest(**_on(), body=[_auth(ids["bob"], "bob", 1)])
    )
    refused(lambda: _share(bob, "ops"), 403)
    _share(alice, "ops")
    refused(lambda: _share(alice, "ops"), 409)
    # dave reads the share through it (a viewer); changing or ending it is the repository's admins'.
    assert dave.show_access_domain(ShowAccessDomainRequest(**_on(), access_domain="ops")).exist is True
    forever = UpdateRepoDomainsRequestBody(permit="read", deadline="forever")
    refused(
        lambda: dave.update_repo_domains(
            UpdateRepoDomainsRequest(**_on(), access_domain="ops", body=forever)
        ),
        403,
    )
    refused(lambda: dave.delete_repo_domains(DeleteRepoDomainsRequest(**_on(), access_domain="ops")), 403)
    refused(
        lambda: alice.update_repo_domains(
            UpdateRepoDomainsRequest(**_on(), access_domain="bob", body=forever)
        ),
        404,
    )
    backwards = UpdateRepoDomainsRequestBody(permit="read", deadline=past)
    refused(
        lambda: alice.update_repo_domains(
            UpdateRepoDomainsRequest(**_on(), access_domain="ops", body=backwards)
        ),
        400,
    )
    refused(lambda: alice.list_shared_repos_details(ListSharedReposDetailsRequest()), 400)
    refused(lambda: alice.list_shared_repos_details(ListSharedReposDetailsRequest(center="both")), 400)
    refused(lambda: alice.list_shared_repo_details(ListSharedRepoDetailsRequest()), 400)
    refused(
        lambda: alice.list_shared_repo_details(ListSharedRepoDetailsRequest(shared_by="self", limit=1001)),
        400,
    )


async def test_a_share_reaches_the_access_domain_until_its_deadline(server, accounts):
    await _team(accounts)
    clients = await _clients(server, accounts, "alice", "dave", "carol", "bob")
    alice, dave, bob = clients["alice"], clients["dave"], clients["bob"]
    _share(alice, "ops")
    assert _listed(dave) == ["team/team/app"]
    assert dave.show_repository(ShowRepositoryRequest(**_on())).name == "team/app"
    assert _listed(bob) == []  # not a member of ops
    team_id = await _namespace_id(accounts, "team")
    abeja_list = f"/organizations/{team_id}/registry/repositories"
    async with httpx.AsyncClient(base_url=server.url) as http:
        v1 = await http.get("/v1/repositories/team", headers=token_header(accounts.tokens["dave"]))
        assert [row["repo_name"] for row in v1.json()["results"]] == ["team/app"]
        abeja = await http.get(abeja_list, headers=bearer(accounts.tokens["dave"]))
        assert [row["name"] for row in abeja.json()["registry_repositories"]] == ["team/app"]

        # The deadline passes (set in the past through the store: no job runs at the deadline).
        async with accounts.service() as service:
            store = service.store
            team = await store.namespaces.by_name("team")
            ops = await store.namespaces.by_name("ops")
            assert team is not None and ops is not None
            app = await store.repositories.by_name(team.id, "team/app")
            assert app is not None
            async with store.transaction():
                await store.shares.update(
                    app.id, ops.id, ShareChanges(permit="read", expires_at=utcnow() - timedelta(seconds=1))
                )
        assert _listed(dave) == []
        refused(lambda: dave.show_repository(ShowRepositoryRequest(**_on())), 404)
        refused(lambda: dave.show_access_domain(ShowAccessDomainRequest(**_on(), access_domain="ops")), 404)
        gone = await http.get("/v1/repositories/team/team/app", headers=token_header(accounts.tokens["dave"]))
        assert gone.status_code == 404
        # team holds nothing dave may read any more: as a missing organization.
        assert (await http.get(abeja_list, headers=bearer(accounts.tokens["dave"]))).status_code == 404
        theirs = dave.list_shared_repos_details(ListSharedReposDetailsRequest(center="thirdparty"))
        assert theirs.body in (None, [])
    # Its admins still see the share, expired.
    [listed] = alice.list_repo_domains(ListRepoDomainsRequest(**_on())).body
    assert (listed.access_domain, listed.status) == ("ops", False)
