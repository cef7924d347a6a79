"""SWR's ``show_domain_overview`` and ``list_quotas`` through the real huaweicloudsdkswr ``SwrClient``
(AK/SK) against a real ``repohub serve``: totals over the namespaces the caller sees (a site admin:
every one), each namespace's repository quota and use, a foreign project id answered as a missing
one, and the ``?namespace=`` filter the SDK does not send."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from huaweicloudsdkswr.v2 import (
    CreateRepoRequest,
    CreateRepoRequestBody,
    ListQuotasRequest,
    ShowDomainOverviewRequest,
)

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.api.swr.helpers import add_tag
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.server import Server, cli, serve
from tests.world import World


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


async def _world(accounts: World) -> None:
    for name in ("alice", "bob"):
        await accounts.user(name)
    await accounts.user("root", admin=True)
    await accounts.org("acme", owner="alice", members={"bob": Role.VIEWER})
    await accounts.repository("acme/app", by="alice", public=True)
    await accounts.repository("acme/lib", by="alice")
    await accounts.repository("bob/own", by="bob")
    await add_tag(accounts.app, "acme", "app", "v1", size=1000)
    await add_tag(accounts.app, "acme", "app", "v2", size=500)
    await add_tag(accounts.app, "bob", "own", "v1", size=7)


async def test_the_overview_counts_the_namespaces_the_caller_sees(server, settings, accounts):
    await _world(accounts)
    alice = swr_client(server.url, await access_key(accounts, "alice"))
    root = swr_client(server.url, await access_key(accounts, "root"))

    mine = alice.show_domain_overview(ShowDomainOverviewRequest())
    assert (mine.domain_id, mine.domain_name) == ("repohub.test", "repohub.test")
    assert (mine.namspace_num, mine.repo_num, mine.image_num) == (2, 2, 2)  # alice, acme
    assert (mine.store_space, mine.downflow_size) == (1500.0, 0.0)

    every = root.show_domain_overview(ShowDomainOverviewRequest())
    assert (every.namspace_num, every.repo_num, every.image_num, every.store_space) == (4, 3, 3, 1507.0)

    # A create through the SDK shows at once: the counts are kept in the create's transaction.
    body = CreateRepoRequestBody(repository="web", is_public=False, category="linux")
    alice.create_repo(CreateRepoRequest(namespace="acme", body=body))
    assert alice.show_domain_overview(ShowDomainOverviewRequest()).repo_num == 3


async def test_list_quotas_answers_each_namespace_limit_and_use(server, settings, accounts):
    await _world(accounts)
    cli(settings, "quotas", "set", "acme", "--repositories", "3")
    alice_key = await access_key(accounts, "alice")
    alice = swr_client(server.url, alice_key)

    quotas = alice.list_quotas(ListQuotasRequest()).quotas
    assert [(q.quota_key, q.quota_limit, q.used, q.unit) for q in quotas] == [
        ("namespace", -1, 2, ""),
        ("repository", 3, 2, ""),  # acme
        ("repository", -1, 0, ""),  # alice
    ]
    body = CreateRepoRequestBody(repository="web", is_public=False, category="linux")
    alice.create_repo(CreateRepoRequest(namespace="acme", body=body))
    assert alice.list_quotas(ListQuotasRequest()).quotas[1].used == 3

    # At its quota: the SDK's create is refused with SWR's body, and nothing changes.
    extra = CreateRepoRequestBody(repository="more", is_public=False, category="linux")
    error = refused(lambda: alice.create_repo(CreateRepoRequest(namespace="acme", body=extra)), 403)
    assert error.error_code == "SVCSTG.SWR.4030002"
    assert "quota" in error.error_msg
    assert alice.show_domain_overview(ShowDomainOverviewRequest()).repo_num == 3


async def test_list_quotas_of_a_foreign_project_is_not_found_and_the_filter_narrows(
    server, settings, accounts
):
    await _world(accounts)
    alice_key, bob_key = await access_key(accounts, "alice"), await access_key(accounts, "bob")
    # The SDK signs its project id (another one's is a 401 there); a token names any in the path.
    bob_in_alices_project = swr_client(server.url, {**bob_key, "project_id": alice_key["project_id"]})
    refused(lambda: bob_in_alices_project.list_quotas(ListQuotasRequest()), 401)

    bob = swr_client(server.url, bob_key)
    assert [(q.quota_key, q.used) for q in bob.list_quotas(ListQuotasRequest()).quotas] == [
        ("namespace", 2),
        ("repository", 2),  # acme, as a viewer
        ("repository", 1),  # bob
    ]
    project = bob_key["project_id"]
    headers = {"X-Auth-Token": accounts.tokens["bob"]}
    async with httpx.AsyncClient(base_url=server.url) as http:
        narrowed = await http.get(
            f"/v2/manage/projects/{project}/quotas", params={"namespace": "acme"}, headers=headers
        )
        assert narrowed.status_code == 200, narrowed.text
        assert narrowed.json() == {
            "quotas": [
                {"quota_key": "repository", "quota_limit": -1, "used": 2, "unit": "", "namespace": "acme"}
            ]
        }
        foreign = await http.get(f"/v2/manage/projects/{alice_key['project_id']}/quotas", headers=headers)
        assert foreign.status_code == 404, foreign.text
        assert foreign.json()["error_code"] == "SVCSTG.SWR.4040001"
        hidden = await http.get(
            f"/v2/manage/projects/{project}/quotas", params={"namespace": "root"}, headers=headers
        )
        assert hidden.json() == {"quotas": []}
        anonymous = await http.get("/v2/manage/overview")
        assert anonymous.status_code == 401
        assert anonymous.json()["error_code"].startswith("SVCSTG.SWR.401")
