"""The real huaweicloudsdkswr ``SwrClient`` with AK/SK BasicCredentials against a real ``repohub serve``.

Only the endpoint changes from a Huawei Cloud setup. Every SDK method the SWR dialect serves is called
and its returned model checked; tags are written through the store (pushing is another component).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkswr.v2 import (
    CreateNamespaceAuthRequest,
    CreateNamespaceRequest,
    CreateNamespaceRequestBody,
    CreateRepoRequest,
    CreateRepoRequestBody,
    DeleteNamespaceAuthRequest,
    DeleteNamespacesRequest,
    DeleteRepoRequest,
    DeleteRepoTagRequest,
    ListApiVersionsRequest,
    ListInstanceRequest,
    ListNamespacesRequest,
    ListReposDetailsRequest,
    ListRepositoryTagsRequest,
    ShowApiVersionRequest,
    ShowInstanceRequest,
    ShowNamespaceAuthRequest,
    ShowNamespaceRequest,
    ShowRepositoryRequest,
    ShowRepoTagRequest,
    SwrClient,
    UpdateNamespaceAuthRequest,
    UpdateRepoRequest,
    UpdateRepoRequestBody,
    UserAuth,
)

from repohub.auth.aksk import DATE_FORMAT
from repohub.config import Settings
from tests.api.swr.helpers import BASE, add_tag
from tests.server import Server, cli, serve


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


def swr_client(url: str, key: dict[str, str], handler: HttpHandler | None = None) -> SwrClient:
    builder = (
        SwrClient.new_builder()
        .with_credentials(BasicCredentials(key["access_key"], key["secret_key"], key["project_id"]))
        .with_endpoints([url])
    )
    if handler is not None:
        builder = builder.with_http_handler(handler)
    return builder.build()


async def access_key(accounts, name: str) -> dict[str, str]:
    async with accounts.service() as service:
        key = await service.accounts.create_access_key(name)
        return {"access_key": key.access_key, "secret_key": key.secret_key, "project_id": key.project_id}
    raise AssertionError("unreachable")


def refused(call, status: int) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as caught:
        call()
    error = caught.value
    assert error.status_code == status, error
    assert error.error_code.startswith(f"SVCSTG.SWR.{status}")
    assert error.request_id  # from X-Request-Id
    return error


async def test_every_sdk_method(settings, server, accounts, app):
    await accounts.user("alice")
    await accounts.user("bob")
    # Keys as a user gets them: from the CLI.
    alice_key = json.loads(cli(settings, "access-keys", "create", "alice", "--json"))
    alice = swr_client(server.url, alice_key)
    bob = swr_client(server.url, await access_key(accounts, "bob"))

    # -- namespaces ---------------------------------------------------------------------------
    alice.create_namespace(CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace="team")))
    listed = alice.list_namespaces(ListNamespacesRequest()).namespaces
    assert [(n.name, n.creator_name, n.auth) for n in listed] == [("alice", "alice", 7), ("team", "alice", 7)]
    picked = alice.list_namespaces(ListNamespacesRequest(filter="namespace::team|mode::visible")).namespaces
    assert [n.name for n in picked] == ["team"]
    shown = alice.show_namespace(ShowNamespaceRequest(namespace="team"))
    assert (shown.id, shown.name, shown.auth) == (listed[1].id, "team", 7)
    bad_name = refused(
        lambda: alice.create_namespace(
            CreateNamespaceRequest(body=CreateNamespaceRequestBody(namespace="Bad"))
        ),
        400,
    )
    assert "lowercase" in bad_name.error_msg

    # -- namespace access ---------------------------------------------------------------------
    bob_self = bob.show_namespace_auth(ShowNamespaceAuthRequest(namespace="bob")).self_auth
    assert (bob_self.user_name, bob_self.auth) == ("bob", 7)
    grant = [UserAuth(user_id=bob_self.user_id, user_name="bob", auth=3)]
    alice.create_namespace_auth(CreateNamespaceAuthRequest(namespace="team", body=grant))
    access = alice.show_namespace_auth(ShowNamespaceAuthRequest(namespace="team"))
    assert (access.name, access.creator_name, access.self_auth.auth) == ("team", "alice", 7)
    assert [(u.user_name, u.auth) for u in access.others_auths] == [("bob", 3)]
    assert bob.show_namespace(ShowNamespaceRequest(namespace="team")).auth == 3
    lowered = [UserAuth(user_id=bob_self.user_id, user_name="bob", auth=1)]
    alice.update_namespace_auth(UpdateNamespaceAuthRequest(namespace="team", body=lowered))
    assert bob.show_namespace(ShowNamespaceRequest(namespace="team")).auth == 1

    # -- repositories -------------------------------------------------------------------------
    for name, public in (("team/app", False), ("web", True), ("api", False)):
        body = CreateRepoRequestBody(
            repository=name, is_public=public, category="linux", description=f"{name}!"
        )
        alice.create_repo(CreateRepoRequest(namespace="team", body=body))
    repo = alice.show_repository(ShowRepositoryRequest(namespace="team", repository="team/app"))
    assert (repo.name, repo.category, repo.description, repo.is_public) == (
        "team/app",
        "linux",
        "team/app!",
        False,
    )
    assert repo.path == repo.internal_path == "registry.example.test/team/team/app"
    assert repo.creator_name == "alice" and repo.ns_id == shown.id
    alice.update_repo(
        UpdateRepoRequest(
            namespace="team",
            repository="api",
            body=UpdateRepoRequestBody(is_public=True, description="public api"),
        )
    )
    api = alice.show_repository(ShowRepositoryRequest(namespace="team", repository="api"))
    assert (api.is_public, api.description) == (True, "public api")

    await add_tag(app, "team", "team/app", "v1", at=BASE, size=7)
    await add_tag(app, "team", "team/app", "v2", at=BASE + timedelta(minutes=1), size=9)
    await add_tag(app, "team", "team/app", "v3", at=BASE + timedelta(minutes=2), size=11)

    page = alice.list_repos_details(ListReposDetailsRequest(namespace="team", limit="2", offset="0"))
    assert page.content_range == "0-2/3"
    assert [r.name for r in page.body] == ["api", "team/app"]
    app_row = page.body[1]
    assert (app_row.namespace, app_row.num_images, app_row.size, app_row.total_range) == ("team", 3, 27, 3)
    assert app_row.tags == ["v3", "v2", "v1"]
    assert app_row.path == "registry.example.test/team/team/app"
    assert app_row.domain_name == "repohub.test"
    assert app_row.created_at.endswith("Z")
    filtered = alice.list_repos_details(
        ListReposDetailsRequest(filter="namespace::team|name::APP|order_column::tag_count|order_type::desc")
    )
    assert [r.name for r in filtered.body] == ["team/app"]
    assert filtered.content_range is None  # not paged
    rest = alice.list_repos_details(ListReposDetailsRequest(filter="namespace::team|offset::2|limit::2"))
    assert rest.content_range == "2-1/3"
    # bob (read access) sees team's private repositories too; pairs are enforced
    assert {r.name for r in bob.list_repos_details(ListReposDetailsRequest()).body} >= {
        "team/app",
        "web",
        "api",
    }
    assert (
        "limit needs offset"
        in refused(lambda: alice.list_repos_details(ListReposDetailsRequest(limit="2")), 400).error_msg
    )

    # -- tags ---------------------------------------------------------------------------------
    tags = alice.list_repository_tags(
        ListRepositoryTagsRequest(
            namespace="team",
            repository="team/app",
            limit="2",
            offset="0",
            order_column="updated_at",
            order_type="desc",
        )
    )
    assert tags.content_range == "0-2/3"
    assert [t.tag for t in tags.body] == ["v3", "v2"]
    first = tags.body[0]
    assert first.digest.startswith("sha256:") and first.size == 11 and first.schema == 2
    assert first.path == "registry.example.test/team/team/app:v3"
    by_filter = alice.list_repository_tags(
        ListRepositoryTagsRequest(namespace="team", repository="team/app", filter="tag::v1")
    )
    assert [t.tag for t in by_filter.body] == ["v1"]
    one = alice.show_repo_tag(ShowRepoTagRequest(namespace="team", repository="team/app", tag="v2"))
    assert (one.tag, one.size, one.repo_id) == ("v2", 9, repo.id)
    refused(
        lambda: bob.delete_repo_tag(DeleteRepoTagRequest(namespace="team", repository="team/app", tag="v2")),
        403,
    )
    alice.delete_repo_tag(DeleteRepoTagRequest(namespace="team", repository="team/app", tag="v2"))
    refused(
        lambda: alice.show_repo_tag(ShowRepoTagRequest(namespace="team", repository="team/app", tag="v2")),
        404,
    )

    # -- clean-up: access, repositories, namespace --------------------------------------------
    alice.delete_namespace_auth(DeleteNamespaceAuthRequest(namespace="team", body=[bob_self.user_id]))
    refused(lambda: bob.show_repository(ShowRepositoryRequest(namespace="team", repository="team/app")), 404)
    busy = refused(lambda: alice.delete_namespaces(DeleteNamespacesRequest(namespace="team")), 409)
    assert "still has repositories" in busy.error_msg
    for name in ("team/app", "web", "api"):
        alice.delete_repo(DeleteRepoRequest(namespace="team", repository=name))
    alice.delete_namespaces(DeleteNamespacesRequest(namespace="team"))
    refused(lambda: alice.show_namespace(ShowNamespaceRequest(namespace="team")), 404)


async def test_project_id_from_the_iam_call(server, accounts):
    await accounts.user("alice")
    key = await access_key(accounts, "alice")
    credentials = BasicCredentials(key["access_key"], key["secret_key"]).with_iam_endpoint(server.url)
    client = (
        SwrClient.new_builder()
        .with_credentials(credentials)
        .with_region(Region("repohub-local", server.url))
        .build()
    )
    assert credentials.project_id == key["project_id"]
    assert client.list_namespaces(ListNamespacesRequest()).namespaces[0].name == "alice"


def _after_signing(change):
    """An HttpHandler hook runs after the SDK signed the request, just before it is sent."""
    handler = HttpHandler()
    handler.add_request_handler(lambda request, **_: change(request.header_params))
    return handler


async def test_bad_signatures_surface_as_sdk_errors(server, accounts):
    await accounts.user("alice")
    key = await access_key(accounts, "alice")
    request = ListNamespacesRequest()
    assert swr_client(server.url, key).list_namespaces(request).namespaces

    wrong_secret = swr_client(server.url, {**key, "secret_key": key["secret_key"][::-1]})
    assert "signature does not match" in refused(lambda: wrong_secret.list_namespaces(request), 401).error_msg

    def tamper(headers):
        headers["User-Agent"] = "tampered"

    tampered = swr_client(server.url, key, _after_signing(tamper))
    assert "signature does not match" in refused(lambda: tampered.list_namespaces(request), 401).error_msg

    def stale(headers):
        headers["X-Sdk-Date"] = (datetime.now(UTC) - timedelta(minutes=20)).strftime(DATE_FORMAT)

    old = swr_client(server.url, key, _after_signing(stale))
    assert "too old" in refused(lambda: old.list_namespaces(request), 401).error_msg
    revoked = swr_client(server.url, {**key, "access_key": "NOSUCHKEY00000000000"})
    assert "unknown access key" in refused(lambda: revoked.list_namespaces(request), 401).error_msg


async def test_api_versions_through_the_sdk(server, accounts):
    await accounts.user("alice")
    client = swr_client(server.url, await access_key(accounts, "alice"))
    (listed,) = client.list_api_versions(ListApiVersionsRequest()).versions
    assert (listed.id, listed.status, listed.links.rel) == ("v2", "CURRENT", "self")
    assert listed.links.href == f"{server.url}/v2"
    shown = client.show_api_version(ShowApiVersionRequest(api_version="v2")).version
    assert shown.to_dict() == listed.to_dict()
    assert (
        "v9"
        in refused(lambda: client.show_api_version(ShowApiVersionRequest(api_version="v9")), 404).error_msg
    )


async def test_the_instance_through_the_sdk(settings, server, accounts):
    await accounts.user("alice")
    await accounts.user("bob")
    key = json.loads(cli(settings, "access-keys", "create", "alice", "--json"))
    # The id the CLI prints is the one every process sharing the data directory answers.
    assert key["instance_id"] == settings.resolved_swr_instance_id
    alice = swr_client(server.url, key)
    listed = alice.list_instance(ListInstanceRequest())
    assert listed.total == 1
    (instance,) = listed.instances
    assert (instance.id, instance.project_id, instance.status) == (
        key["instance_id"],
        key["project_id"],
        "Running",
    )
    assert instance.access_address == "registry.example.test" and instance.charge_mode == "postPaid"
    shown = alice.show_instance(ShowInstanceRequest(instance_id=key["instance_id"]))
    same = ("id", "name", "spec", "version", "status", "project_id", "access_address", "created_at")
    assert {name: getattr(shown, name) for name in same} == {name: getattr(instance, name) for name in same}
    assert shown.spec == "swr.ee.professional" and shown.created_at.endswith("Z")
    refused(lambda: alice.show_instance(ShowInstanceRequest(instance_id="not-ours")), 404)
    # bob signs correctly, but names alice's project in his credentials: refused before any lookup.
    bob = await access_key(accounts, "bob")
    posing = swr_client(server.url, {**bob, "project_id": key["project_id"]})
    refused(lambda: posing.show_instance(ShowInstanceRequest(instance_id=key["instance_id"])), 401)
    wrong_secret = swr_client(server.url, {**key, "secret_key": key["secret_key"][::-1]})
    refused(lambda: wrong_secret.list_instance(ListInstanceRequest()), 401)
