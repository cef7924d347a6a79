"""SWR's four immutable-tag rule calls through the real huaweicloudsdkswr ``SwrClient`` (AK/SK) against
a real ``repohub serve``, with the SDK's own request and response models, the key and instance id as
``repohub access-keys create --json`` prints them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from huaweicloudsdkswr.v2 import (
    CreateImmutableRuleBody,
    CreateImmutableRuleRequest,
    DeleteImmutableRuleRequest,
    ListImmutableRulesRequest,
    ListNamespacesRequest,
    RuleSelector,
    SwrClient,
    UpdateImmutableRuleBody,
    UpdateImmutableRuleRequest,
)

from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.domain.immutability.rules import MAX_RULES_PER_NAMESPACE
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.server import Server, cli, serve
from tests.world import World


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


def selectors(tags: str = "v*", repos: str = "**", *, decoration: str = "matches") -> dict[str, object]:
    return {
        "tag_selectors": [RuleSelector(kind="doublestar", decoration=decoration, pattern=tags)],
        "scope_selectors": {
            "repository": [RuleSelector(kind="doublestar", decoration="repoMatches", pattern=repos)]
        },
    }


async def _clients(server: Server, settings: Settings, accounts: World) -> tuple[SwrClient, SwrClient, str]:
    """alice, admin of acme (repository acme/app), with the CLI's key; bob, its member; the instance."""
    await accounts.user("alice")
    await accounts.user("bob")
    await accounts.org("acme", owner="alice", members={"bob": Role.MEMBER})
    await accounts.repository("acme/app", by="alice")
    key = json.loads(cli(settings, "access-keys", "create", "alice", "--json"))
    return (
        swr_client(server.url, key),
        swr_client(server.url, await access_key(accounts, "bob")),
        key["instance_id"],
    )


async def test_the_four_immutable_rule_calls_through_the_sdk(server, settings, accounts):
    alice, bob, instance = await _clients(server, settings, accounts)
    [acme] = [n.id for n in alice.list_namespaces(ListNamespacesRequest()).namespaces if n.name == "acme"]

    # create: rule v* on every repository of acme (the SDK leaves the defaulted fields out).
    created = alice.create_immutable_rule(
        CreateImmutableRuleRequest(
            instance_id=instance, namespace_name="acme", body=CreateImmutableRuleBody(**selectors())
        )
    )
    assert created.status_code == 201 and isinstance(created.id, int)

    # list, with and without namespace_id, read by a member.
    for request in (
        ListImmutableRulesRequest(instance_id=instance, namespace_id=acme),
        ListImmutableRulesRequest(instance_id=instance),
    ):
        listed = bob.list_immutable_rules(request)
        assert listed.status_code == 200 and listed.total == 1
        [rule] = listed.immutable_rules
        assert (rule.id, rule.namespace_id, rule.namespace_name) == (created.id, acme, "acme")
        assert (rule.priority, rule.disabled, rule.action, rule.template) == (
            0,
            False,
            "immutable",
            "immutable_template",
        )
        [tag] = rule.tag_selectors
        [repository] = rule.scope_selectors["repository"]
        assert (tag.kind, tag.decoration, tag.pattern) == ("doublestar", "matches", "v*")
        assert (repository.kind, repository.decoration, repository.pattern) == (
            "doublestar",
            "repoMatches",
            "**",
        )
    paged = bob.list_immutable_rules(ListImmutableRulesRequest(instance_id=instance, offset=1, limit=1))
    assert (paged.immutable_rules, paged.total) == ([], 1)

    # update: disable it (the whole rule is sent again, as the SDK's body carries it).
    disable = UpdateImmutableRuleBody(
        priority=2, disabled=True, action="immutable", template="immutable_template", **selectors()
    )
    one = {"instance_id": instance, "namespace_name": "acme", "immutable_rule_id": created.id}
    updated = alice.update_immutable_rule(UpdateImmutableRuleRequest(**one, body=disable))
    assert updated.status_code == 200
    [after] = alice.list_immutable_rules(ListImmutableRulesRequest(instance_id=instance)).immutable_rules
    assert (after.id, after.priority, after.disabled) == (created.id, 2, True)

    # A member reads but does not manage.
    refused(lambda: bob.update_immutable_rule(UpdateImmutableRuleRequest(**one, body=disable)), 403)
    refused(lambda: bob.delete_immutable_rule(DeleteImmutableRuleRequest(**one)), 403)

    # delete
    deleted = alice.delete_immutable_rule(DeleteImmutableRuleRequest(**one))
    assert deleted.status_code == 200
    empty = alice.list_immutable_rules(ListImmutableRulesRequest(instance_id=instance, namespace_id=acme))
    assert (empty.immutable_rules, empty.total) == ([], 0)
    refused(lambda: alice.delete_immutable_rule(DeleteImmutableRuleRequest(**one)), 404)


@pytest.mark.parametrize(
    ("body", "wrong"),
    [
        (CreateImmutableRuleBody(**selectors("v[0-9")), "not closed"),
        (CreateImmutableRuleBody(**selectors(decoration="repoMatches")), "decoration"),
        (
            CreateImmutableRuleBody(
                tag_selectors=[RuleSelector(kind="regexp", decoration="matches", pattern="^v")],
                scope_selectors=selectors()["scope_selectors"],
            ),
            "kind",
        ),
        (CreateImmutableRuleBody(action="retain", **selectors()), "action"),
        (CreateImmutableRuleBody(tag_selectors=selectors()["tag_selectors"]), "scope_selectors"),
    ],
    ids=["pattern", "decoration", "kind", "action", "no scope"],
)
async def test_a_bad_rule_is_an_sdk_400(server, settings, accounts, body, wrong):
    alice, _bob, instance = await _clients(server, settings, accounts)
    error = refused(
        lambda: alice.create_immutable_rule(
            CreateImmutableRuleRequest(instance_id=instance, namespace_name="acme", body=body)
        ),
        400,
    )
    assert wrong in error.error_msg
    assert alice.list_immutable_rules(ListImmutableRulesRequest(instance_id=instance)).total == 0


async def test_the_sdk_sees_404_409_and_the_limits_400(server, settings, accounts):
    alice, _bob, instance = await _clients(server, settings, accounts)

    def create(tags: str, namespace: str = "acme") -> int:
        answer = alice.create_immutable_rule(
            CreateImmutableRuleRequest(
                instance_id=instance,
                namespace_name=namespace,
                body=CreateImmutableRuleBody(**selectors(tags)),
            )
        )
        return int(answer.id)

    first = create("v*")
    assert "same" in refused(lambda: create("v*"), 409).error_msg
    refused(lambda: create("v*", namespace="nowhere"), 404)
    other_instance = CreateImmutableRuleRequest(
        instance_id="not-ours", namespace_name="acme", body=CreateImmutableRuleBody(**selectors("x*"))
    )
    refused(lambda: alice.create_immutable_rule(other_instance), 404)
    missing = {"instance_id": instance, "namespace_name": "acme", "immutable_rule_id": first + 1000}
    refused(lambda: alice.delete_immutable_rule(DeleteImmutableRuleRequest(**missing)), 404)
    for number in range(MAX_RULES_PER_NAMESPACE - 1):
        create(f"r{number}-*")
    assert str(MAX_RULES_PER_NAMESPACE) in refused(lambda: create("last-*"), 400).error_msg
