"""SWR's six retention calls through the real huaweicloudsdkswr ``SwrClient`` (AK/SK) against a real
``repohub serve``, with the SDK's own request and response models.

The log is written as a run leaves it (``RetentionStore.record``): running rules is another part.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huaweicloudsdkswr.v2 import (
    CreateRetentionRequest,
    CreateRetentionRequestBody,
    DeleteRetentionRequest,
    ListRetentionHistoriesRequest,
    ListRetentionsRequest,
    Rule,
    ShowRetentionRequest,
    SwrClient,
    TagSelector,
    UpdateRetentionRequest,
    UpdateRetentionRequestBody,
)

from repohub.config import Settings
from repohub.domain.entities import DueRetention, Role
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.server import Server, serve
from tests.world import World


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


async def _clients(server: Server, accounts: World) -> tuple[SwrClient, SwrClient]:
    """alice, admin of team (repository team/app, in SWR's terms), and bob, its member."""
    await accounts.user("alice")
    await accounts.user("bob")
    await accounts.org("team", owner="alice", members={"bob": Role.MEMBER})
    await accounts.repository("team/team/app", by="alice")  # a name with "/": %2F in paths
    alice = swr_client(server.url, await access_key(accounts, "alice"))
    bob = swr_client(server.url, await access_key(accounts, "bob"))
    return alice, bob


def _where(**fields: object) -> dict[str, object]:
    return {"namespace": "team", "repository": "team/app", **fields}


def _wire(rule: Rule) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    return rule.template, rule.params, [(s.kind, s.pattern) for s in rule.tag_selectors]


def _none_listed(client: SwrClient) -> bool:
    """The SDK reads an empty JSON list as no ``body`` at all: what was sent is checked instead."""
    listed = client.list_retentions(ListRetentionsRequest(**_where()))
    return bool(listed.body is None and listed.raw_content == b"[]")


async def test_the_six_retention_calls_through_the_sdk(server, accounts):
    alice, bob = await _clients(server, accounts)
    exceptions = [
        TagSelector(kind="regexp", pattern=r"^release-\d+$"),
        TagSelector(kind="label", pattern="latest"),
    ]
    # The SDK's documents show N as a string; an integer is taken as well.
    body = CreateRetentionRequestBody(
        algorithm="or", rules=[Rule(template="date_rule", params={"days": "30"}, tag_selectors=exceptions)]
    )
    created = alice.create_retention(CreateRetentionRequest(**_where(), body=body))
    assert created.status_code == 201 and isinstance(created.id, int)

    [listed] = bob.list_retentions(ListRetentionsRequest(**_where())).body
    assert (listed.id, listed.algorithm, listed.scope) == (created.id, "or", "")
    assert [_wire(rule) for rule in listed.rules] == [
        ("date_rule", {"days": "30"}, [("regexp", r"^release-\d+$"), ("label", "latest")])
    ]
    shown = bob.show_retention(ShowRetentionRequest(**_where(retention_id=created.id)))
    assert (shown.id, shown.algorithm, [_wire(rule) for rule in shown.rules]) == (
        listed.id,
        "or",
        [_wire(rule) for rule in listed.rules],
    )

    # tag_selectors left as None: the SDK leaves the field out of the body.
    keep_3 = UpdateRetentionRequestBody(algorithm="or", rules=[Rule(template="tag_rule", params={"num": 3})])
    updated = alice.update_retention(UpdateRetentionRequest(**_where(retention_id=created.id), body=keep_3))
    assert updated.status_code == 201
    after = alice.show_retention(ShowRetentionRequest(**_where(retention_id=created.id)))
    assert [_wire(rule) for rule in after.rules] == [("tag_rule", {"num": "3"}, [])]

    refused(lambda: bob.delete_retention(DeleteRetentionRequest(**_where(retention_id=created.id))), 403)
    refused(
        lambda: bob.update_retention(UpdateRetentionRequest(**_where(retention_id=created.id), body=keep_3)),
        403,
    )
    deleted = alice.delete_retention(DeleteRetentionRequest(**_where(retention_id=created.id)))
    assert deleted.status_code == 204
    assert _none_listed(alice)
    refused(lambda: alice.show_retention(ShowRetentionRequest(**_where(retention_id=created.id))), 404)


@pytest.mark.parametrize(
    ("rule", "wrong"),
    [
        (Rule(template="age_rule", params={"num": "3"}), "template"),
        (Rule(template="tag_rule", params={"num": "0"}), "params.num"),
        (Rule(template="tag_rule", params={"num": "1.5"}), "params.num"),
        (Rule(template="tag_rule", params={"days": 3}), "params"),
        (
            Rule(
                template="tag_rule",
                params={"num": 3},
                tag_selectors=[TagSelector(kind="regexp", pattern="(a+)+$")],
            ),
            "pattern",
        ),
        (
            Rule(
                template="tag_rule",
                params={"num": 3},
                tag_selectors=[TagSelector(kind="regexp", pattern="[")],
            ),
            "pattern",
        ),
        (
            Rule(
                template="tag_rule",
                params={"num": 3},
                tag_selectors=[TagSelector(kind="label", pattern="a b")],
            ),
            "label",
        ),
    ],
    ids=["template", "zero", "fraction", "wrong key", "catastrophic regexp", "invalid regexp", "label"],
)
async def test_a_bad_rule_is_an_sdk_400(server, accounts, rule, wrong):
    alice, _bob = await _clients(server, accounts)
    body = CreateRetentionRequestBody(algorithm="or", rules=[rule])
    error = refused(lambda: alice.create_retention(CreateRetentionRequest(**_where(), body=body)), 400)
    assert wrong in error.error_msg
    assert _none_listed(alice)


async def _log(app, tags: list[str]) -> None:
    """Entries as a run leaves them, one run per tag (so the newest is the last given)."""
    world = World(app)
    async with world.service() as service:
        store = service.store
        [stored] = await store.retentions.of_repository(await world.repository_id("team/team/app"))
        due = DueRetention(stored, "team", "team/app", len(tags))
        for tag in tags:
            async with store.transaction():
                await store.retentions.record(stored.id, due, [(tag, "tag_rule")])


async def test_histories_page_with_offset_limit_and_filter(server, accounts, app):
    alice, bob = await _clients(server, accounts)
    keep_1 = CreateRetentionRequestBody(
        algorithm="or", rules=[Rule(template="tag_rule", params={"num": "1"})]
    )
    policy = alice.create_retention(CreateRetentionRequest(**_where(), body=keep_1)).id
    empty = bob.list_retention_histories(ListRetentionHistoriesRequest(**_where()))
    assert (empty.retention_log, empty.total, empty.content_range) == ([], 0, None)

    await _log(app, [f"v{i}" for i in range(1, 6)])
    whole = bob.list_retention_histories(ListRetentionHistoriesRequest(**_where()))
    assert (whole.total, whole.content_range) == (5, None)
    assert [entry.tag for entry in whole.retention_log] == ["v5", "v4", "v3", "v2", "v1"]
    newest = whole.retention_log[0]
    assert (newest.retention_id, newest.namespace, newest.repo, newest.rule_type) == (
        policy,
        "team",
        "team/app",
        "tag_rule",
    )
    assert isinstance(newest.id, int) and newest.created_at.endswith("Z")

    paged = bob.list_retention_histories(ListRetentionHistoriesRequest(**_where(offset="1", limit="2")))
    assert ([e.tag for e in paged.retention_log], paged.total, paged.content_range) == (
        ["v4", "v3"],
        5,
        "1-2/5",
    )
    filtered = bob.list_retention_histories(
        ListRetentionHistoriesRequest(**_where(filter="limit::2|offset::4"))
    )
    assert ([e.tag for e in filtered.retention_log], filtered.content_range) == (["v1"], "4-1/5")
    error = refused(
        lambda: bob.list_retention_histories(ListRetentionHistoriesRequest(**_where(limit="2"))), 400
    )
    assert "limit needs offset" in error.error_msg
