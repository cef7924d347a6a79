"""SWR's six webhook policy calls through the real huaweicloudsdkswr ``SwrClient`` (AK/SK) against a
real ``repohub serve``, with the SDK's own request and response models, the key and instance id as
``repohub access-keys create --json`` prints them. Private targets are not allowed here (the
operator's default), so the targets are a public address no test calls: no event happens in these
tests, so nothing is delivered (the delivery tests are end to end, elsewhere)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from huaweicloudsdkswr.v2 import (
    CreateInstanceWebhookRequest,
    CreateWebhookPolicyRequestBody,
    DeleteInstanceWebhookRequest,
    ListInstanceWebhookJobsRequest,
    ListInstanceWebhooksRequest,
    ListNamespacesRequest,
    RuleSelector,
    ScopeRule,
    ShowInstanceWebhookRequest,
    SwrClient,
    Target,
    UpdateInstanceWebhookRequest,
    UpdateWebhookPolicyRequestBody,
)

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.server import Server, cli, serve
from tests.world import World

PUBLIC = "https://93.184.216.34/ci/hook"  # an address literal: no DNS, never called
SECRET_HEADER = "Authorization:Bearer hook-s3cret-value;X-Team:ci"


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings, extra_env={"REPOHUB_WEBHOOK_ALLOW_PRIVATE": "false"}) as running:
        yield running


@dataclass(frozen=True)
class Clients:
    alice: SwrClient  # admin of acme and of her own namespace
    bob: SwrClient  # member of acme
    carol: SwrClient  # in no namespace of alice's
    instance: str


async def _clients(server: Server, settings: Settings, accounts: World) -> Clients:
    for name in ("alice", "bob", "carol"):
        await accounts.user(name)
    await accounts.org("acme", owner="alice", members={"bob": Role.MEMBER})
    await accounts.repository("acme/app", by="alice")
    key = json.loads(cli(settings, "access-keys", "create", "alice", "--json"))
    return Clients(
        swr_client(server.url, key),
        swr_client(server.url, await access_key(accounts, "bob")),
        swr_client(server.url, await access_key(accounts, "carol")),
        key["instance_id"],
    )


def scope(tags: str = "v*", repositories: str = "app") -> ScopeRule:
    return ScopeRule(
        tag_selectors=[RuleSelector(kind="doublestar", decoration="matches", pattern=tags)],
        scope_selectors={
            "repository": [RuleSelector(kind="doublestar", decoration="repoMatches", pattern=repositories)]
        },
        repo_scope_mode="regular",
    )


def policy(
    name: str = "ci",
    address: str = PUBLIC,
    *,
    events: tuple[str, ...] = ("PUSH_ARTIFACT",),
    auth_header: str | None = SECRET_HEADER,
    enabled: bool = True,
    update: bool = False,
) -> CreateWebhookPolicyRequestBody | UpdateWebhookPolicyRequestBody:
    model = UpdateWebhookPolicyRequestBody if update else CreateWebhookPolicyRequestBody
    return model(
        name=name,
        description=f"{name} hook",
        targets=[Target(type="http", address=address, auth_header=auth_header, address_type="internet")],
        scope_rules=[scope()],
        event_types=list(events),
        enabled=enabled,
    )


def create(client: SwrClient, instance: str, namespace: str = "acme", **fields: object) -> int:
    answer = client.create_instance_webhook(
        CreateInstanceWebhookRequest(instance_id=instance, namespace_name=namespace, body=policy(**fields))
    )
    assert answer.status_code == 201 and isinstance(answer.id, int)
    return int(answer.id)


async def test_the_six_webhook_policy_calls_through_the_sdk(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    alice, instance = sdk.alice, sdk.instance
    namespaces = {n.name: n.id for n in alice.list_namespaces(ListNamespacesRequest()).namespaces}

    # create, in acme and in alice's own namespace
    ci = create(alice, instance)
    deploy = create(alice, instance, "alice", name="deploy", events=("PUSH_ARTIFACT", "DELETE_ARTIFACT"))

    # show
    one = {"instance_id": instance, "namespace_name": "acme", "policy_id": ci}
    shown = alice.show_instance_webhook(ShowInstanceWebhookRequest(**one))
    assert shown.status_code == 200
    assert (shown.id, shown.name, shown.description, shown.enabled) == (ci, "ci", "ci hook", True)
    assert (shown.namespace_id, shown.namespace_name, shown.creator) == (namespaces["acme"], "acme", "alice")
    assert shown.event_types == ["PUSH_ARTIFACT"]
    assert shown.created_at.endswith("Z") and shown.updated_at.endswith("Z")
    [target] = shown.targets
    assert (target.type, target.address, target.address_type, target.skip_cert_verify) == (
        "http",
        PUBLIC,
        "internet",
        False,
    )
    assert target.auth_header is None  # never answered
    [rule] = shown.scope_rules
    [tag], [repository] = rule.tag_selectors, rule.scope_selectors["repository"]
    assert (tag.kind, tag.decoration, tag.pattern) == ("doublestar", "matches", "v*")
    assert (repository.decoration, repository.pattern, rule.repo_scope_mode) == (
        "repoMatches",
        "app",
        "regular",
    )

    # list: filters, order, paging
    def listed(**query: object) -> tuple[list[int], int]:
        answer = alice.list_instance_webhooks(ListInstanceWebhooksRequest(instance_id=instance, **query))
        assert answer.status_code == 200
        return [item.id for item in answer.policies], answer.total

    assert listed() == ([deploy, ci], 2)  # created_at, newest first
    assert listed(order_column="name", order_type="asc") == ([ci, deploy], 2)
    assert listed(order_column="created_at", order_type="asc") == ([ci, deploy], 2)
    assert listed(namespace_id=namespaces["acme"]) == ([ci], 1)
    assert listed(name="DEP") == ([deploy], 1)
    assert listed(offset=1, limit=1) == ([ci], 2)
    [detail] = alice.list_instance_webhooks(
        ListInstanceWebhooksRequest(instance_id=instance, namespace_id=namespaces["alice"])
    ).policies
    assert detail.event_types == ["PUSH_ARTIFACT", "DELETE_ARTIFACT"] and detail.namespace_name == "alice"

    # update: disabled, pull events too, the header list left out (kept)
    body = policy(
        "ci-v2", events=("PULL_ARTIFACT", "PUSH_ARTIFACT"), auth_header=None, enabled=False, update=True
    )
    updated = alice.update_instance_webhook(UpdateInstanceWebhookRequest(**one, body=body))
    assert updated.status_code == 200
    after = alice.show_instance_webhook(ShowInstanceWebhookRequest(**one))
    assert (after.name, after.enabled, after.event_types) == (
        "ci-v2",
        False,
        ["PUSH_ARTIFACT", "PULL_ARTIFACT"],
    )

    # jobs: none yet (nothing happened in acme)
    jobs = alice.list_instance_webhook_jobs(ListInstanceWebhookJobsRequest(**one))
    assert (jobs.status_code, jobs.jobs, jobs.total) == (200, [], 0)
    failed = alice.list_instance_webhook_jobs(
        ListInstanceWebhookJobsRequest(**one, offset=0, limit=10, status="Failed")
    )
    assert (failed.jobs, failed.total) == ([], 0)

    # delete
    deleted = alice.delete_instance_webhook(DeleteInstanceWebhookRequest(**one))
    assert deleted.status_code == 200
    refused(lambda: alice.show_instance_webhook(ShowInstanceWebhookRequest(**one)), 404)
    refused(lambda: alice.delete_instance_webhook(DeleteInstanceWebhookRequest(**one)), 404)
    refused(lambda: alice.list_instance_webhook_jobs(ListInstanceWebhookJobsRequest(**one)), 404)
    assert listed() == ([deploy], 1)


async def test_a_private_target_is_refused_at_creation_and_at_update(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    for address in ("http://127.0.0.1:8080/hook", "http://10.0.0.7/hook", "http://localhost/hook"):
        error = refused(lambda address=address: create(sdk.alice, sdk.instance, address=address), 400)
        assert "private" in error.error_msg
    ci = create(sdk.alice, sdk.instance)
    one = {"instance_id": sdk.instance, "namespace_name": "acme", "policy_id": ci}
    inside = policy(address="http://192.168.1.1/hook", update=True)
    refused(lambda: sdk.alice.update_instance_webhook(UpdateInstanceWebhookRequest(**one, body=inside)), 400)
    assert sdk.alice.show_instance_webhook(ShowInstanceWebhookRequest(**one)).targets[0].address == PUBLIC
    assert sdk.alice.list_instance_webhooks(ListInstanceWebhooksRequest(instance_id=sdk.instance)).total == 1


async def test_the_auth_header_is_in_no_answer_and_no_log(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    ci = create(sdk.alice, sdk.instance)
    one = {"instance_id": sdk.instance, "namespace_name": "acme", "policy_id": ci}
    answers = [
        sdk.alice.show_instance_webhook(ShowInstanceWebhookRequest(**one)),
        sdk.alice.list_instance_webhooks(ListInstanceWebhooksRequest(instance_id=sdk.instance)),
        sdk.alice.update_instance_webhook(UpdateInstanceWebhookRequest(**one, body=policy(update=True))),
        sdk.alice.list_instance_webhook_jobs(ListInstanceWebhookJobsRequest(**one)),
    ]
    # A refused body that carries a header list: the error must not echo it either.
    bad = policy(events=("NO_SUCH_EVENT",))
    error = refused(
        lambda: sdk.alice.create_instance_webhook(
            CreateInstanceWebhookRequest(instance_id=sdk.instance, namespace_name="acme", body=bad)
        ),
        400,
    )
    texts = [json.dumps(answer.to_json_object()) for answer in answers] + [error.error_msg]
    assert all("hook-s3cret-value" not in text for text in texts)
    assert "auth_header" not in texts[0] and "auth_header" not in texts[1]  # left out of the target
    assert "hook-s3cret-value" not in server.log.read_text()


async def test_members_outsiders_and_other_instances_get_refusals_and_empty_lists(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    ci = create(sdk.alice, sdk.instance)
    acme = {"instance_id": sdk.instance, "namespace_name": "acme"}
    one = {**acme, "policy_id": ci}

    # bob, a member of acme: the namespace is disclosed to him, managing its hooks is not his.
    refused(lambda: create(sdk.bob, sdk.instance), 403)
    refused(lambda: sdk.bob.show_instance_webhook(ShowInstanceWebhookRequest(**one)), 404)
    refused(
        lambda: sdk.bob.update_instance_webhook(
            UpdateInstanceWebhookRequest(**one, body=policy(update=True))
        ),
        404,
    )
    refused(lambda: sdk.bob.delete_instance_webhook(DeleteInstanceWebhookRequest(**one)), 404)
    refused(lambda: sdk.bob.list_instance_webhook_jobs(ListInstanceWebhookJobsRequest(**one)), 404)
    # carol, an outsider: acme is not disclosed to her, so it is missing.
    refused(lambda: create(sdk.carol, sdk.instance), 404)
    refused(lambda: sdk.carol.show_instance_webhook(ShowInstanceWebhookRequest(**one)), 404)
    for client in (sdk.bob, sdk.carol):
        listed = client.list_instance_webhooks(ListInstanceWebhooksRequest(instance_id=sdk.instance))
        assert (listed.policies, listed.total) == ([], 0)
    # Another instance id is no instance of repohub's.
    refused(lambda: create(sdk.alice, "not-ours"), 404)
    refused(
        lambda: sdk.alice.list_instance_webhooks(ListInstanceWebhooksRequest(instance_id="not-ours")), 404
    )
    # The policy is untouched.
    assert sdk.alice.show_instance_webhook(ShowInstanceWebhookRequest(**one)).name == "ci"


async def test_bad_requests_through_the_sdk_are_400s(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    refused(lambda: create(sdk.alice, sdk.instance, events=("PUSH_IMAGE",)), 400)
    refused(lambda: create(sdk.alice, sdk.instance, address="ftp://93.184.216.34/"), 400)
    refused(lambda: create(sdk.alice, sdk.instance, name="no spaces allowed"), 400)
    refused(
        lambda: sdk.alice.list_instance_webhooks(
            ListInstanceWebhooksRequest(instance_id=sdk.instance, limit=101)
        ),
        400,
    )
    refused(
        lambda: sdk.alice.list_instance_webhooks(
            ListInstanceWebhooksRequest(instance_id=sdk.instance, order_column="size", order_type="asc")
        ),
        400,
    )
    refused(lambda: create(sdk.alice, sdk.instance, "nowhere"), 404)
    assert sdk.alice.list_instance_webhooks(ListInstanceWebhooksRequest(instance_id=sdk.instance)).total == 0
