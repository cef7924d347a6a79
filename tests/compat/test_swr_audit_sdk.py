"""SWR's ``list_audit_logs`` through the real huaweicloudsdkswr ``SwrClient`` (AK/SK) against a real
``repohub serve``: the trail's entries in SWR's fields, paged newest first, filtered by operation;
a site admin reads all of it, a namespace admin the entries of the namespaces it administers, anyone
else none of those."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from huaweicloudsdkswr.v2 import (
    CreateInstanceLtCredentialRequest,
    CreateLongTermCredentialRequestBody,
    CreateRepoRequest,
    CreateRepoRequestBody,
    DeleteInstanceLtCredentialRequest,
    DeleteRepoRequest,
    ListAuditLogsRequest,
    SwrClient,
    UpdateInstanceLtCredentialRequest,
    UpdateLongTermCredentialRequestBody,
)
from sqlalchemy import select

from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.store.tables import AuditRow, NamespaceRow
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.server import Server, serve
from tests.world import World


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


def every(client: SwrClient, instance: str, **query: Any) -> tuple[list[Any], int]:
    """Every entry the caller may read, page by page (100 at a time), and the total first answered."""
    entries: list[Any] = []
    total = None
    while True:
        request = ListAuditLogsRequest(instance_id=instance, offset=len(entries), limit=100, **query)
        answer = client.list_audit_logs(request)
        total = answer.total if total is None else total
        entries += answer.audit_logs
        if not answer.audit_logs:
            return entries, total


async def _ids_by_namespace(world: World) -> dict[str | None, set[int]]:
    async with world.app.state.repohub.sessions() as session:
        rows = await session.execute(
            select(AuditRow.id, NamespaceRow.name).outerjoin(
                NamespaceRow, NamespaceRow.id == AuditRow.namespace_id
            )
        )
        found: dict[str | None, set[int]] = {}
        for entry_id, namespace in rows:
            found.setdefault(namespace, set()).add(entry_id)
        return found


async def test_the_audit_log_through_the_sdk(server, settings, accounts):
    for name in ("alice", "bob", "carol"):
        await accounts.user(name)
    await accounts.user("root", admin=True)
    await accounts.org("acme", owner="alice", members={"bob": Role.MEMBER})
    keys = {name: await access_key(accounts, name) for name in ("alice", "bob", "carol", "root")}
    sdk = {name: swr_client(server.url, key) for name, key in keys.items()}
    alice, bob, carol, root = sdk["alice"], sdk["bob"], sdk["carol"], sdk["root"]
    instance = settings.resolved_swr_instance_id

    # writes: repositories in acme (one deleted again) and in bob's namespace; a credential's life
    for name in ("app", "web"):
        body = CreateRepoRequestBody(repository=name, is_public=False, category="linux")
        alice.create_repo(CreateRepoRequest(namespace="acme", body=body))
    bob.create_repo(
        CreateRepoRequest(
            namespace="bob", body=CreateRepoRequestBody(repository="tool", is_public=False, category="other")
        )
    )
    alice.delete_repo(DeleteRepoRequest(namespace="acme", repository="web"))
    made = alice.create_instance_lt_credential(
        CreateInstanceLtCredentialRequest(
            instance_id=instance, body=CreateLongTermCredentialRequestBody(name="ci")
        )
    )
    alice.update_instance_lt_credential(
        UpdateInstanceLtCredentialRequest(
            instance_id=instance,
            credential_id=made.token_id,
            body=UpdateLongTermCredentialRequestBody(enable=False),
        )
    )
    alice.delete_instance_lt_credential(
        DeleteInstanceLtCredentialRequest(instance_id=instance, credential_id=made.token_id)
    )
    by_namespace = await _ids_by_namespace(accounts)
    everything = set().union(*by_namespace.values())

    # a site admin: all of it, newest first, in SWR's fields; credentials' changes with no secret
    entries, total = every(root, instance)
    assert total == len(entries) == len(everything)
    assert {entry.id for entry in entries} == everything
    assert [entry.id for entry in entries] == sorted(everything, reverse=True)
    newest = root.list_audit_logs(ListAuditLogsRequest(instance_id=instance, limit=1)).audit_logs[0]
    assert newest.to_dict().keys() == {
        "id",
        "operation",
        "resource_type",
        "resource",
        "username",
        "op_time",
    }
    assert (newest.operation, newest.resource_type, newest.username) == ("delete", "credential", "alice")
    assert newest.op_time.endswith("Z")
    credential_changes = [(e.operation, e.resource_type) for e in entries if e.resource_type == "credential"]
    assert {("create", "credential"), ("update", "credential"), ("delete", "credential")} <= set(
        credential_changes
    )
    text = " ".join(entry.resource for entry in entries)
    assert made.auth_token not in text and hashlib.sha256(made.auth_token.encode()).hexdigest() not in text
    assert "origin=long-term" in text and "disabled_at=" in text

    # paging and the operation filter
    first = root.list_audit_logs(ListAuditLogsRequest(instance_id=instance, offset=0, limit=2))
    second = root.list_audit_logs(ListAuditLogsRequest(instance_id=instance, offset=2, limit=2))
    assert first.total == second.total == total
    assert [e.id for e in first.audit_logs + second.audit_logs] == [e.id for e in entries[:4]]
    deletes, deleted = every(root, instance, operation="delete")
    assert deleted == len(deletes) > 0 and {e.operation for e in deletes} == {"delete"}
    creates, _ = every(root, instance, operation="create")
    assert {e.operation for e in creates} == {"create"} and len(creates) + len(deletes) < total
    assert every(root, instance, operation="pull") == ([], 0)  # pulls are counted, not audited
    assert (
        "operation"
        in refused(
            lambda: root.list_audit_logs(ListAuditLogsRequest(instance_id=instance, operation="steal")), 400
        ).error_msg
    )
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        refused(lambda bad=bad: root.list_audit_logs(ListAuditLogsRequest(instance_id=instance, **bad)), 400)
    refused(lambda: root.list_audit_logs(ListAuditLogsRequest(instance_id="not-ours")), 404)

    # a namespace admin: the entries of acme and of its own namespace, nothing else
    seen, alice_total = every(alice, instance)
    assert {e.id for e in seen} == by_namespace["acme"] | by_namespace["alice"] and alice_total == len(seen)
    assert ("delete", "repository", "alice") in {(e.operation, e.resource_type, e.username) for e in seen}
    assert "credential" not in {e.resource_type for e in seen}  # the site's, not a namespace's
    acme_deletes, _ = every(alice, instance, operation="delete")
    assert {e.id for e in acme_deletes} <= by_namespace["acme"]
    assert {(e.resource_type, e.username) for e in acme_deletes} >= {("repository", "alice")}
    # a member of acme administers only its own namespace; an outsider likewise
    assert {e.id for e in every(bob, instance)[0]} == by_namespace["bob"]
    assert {e.id for e in every(carol, instance)[0]} == by_namespace["carol"]
    assert not by_namespace["carol"] & by_namespace["acme"]
