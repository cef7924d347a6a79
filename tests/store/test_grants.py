"""Repository grants and shares in the store (``store.grants``), on SQLite and PostgreSQL: each write
one statement whatever the number of users, each row its own audit entry, and the pages of shared
repositories from either side of a share, their deadline compared with the ``now`` given."""

from __future__ import annotations

from datetime import timedelta

import pytest

from repohub.domain.access_records import ShareChanges, SharedBy, SharedQuery
from repohub.domain.clock import utcnow
from repohub.domain.entities import Role
from repohub.domain.errors import Conflict
from repohub.domain.queries import RepoOrder, Visibility
from repohub.store.tables import AuditRow, RepositoryGrantRow
from tests.world import World


async def _world(accounts: World) -> dict[str, int]:
    """alice owns team (team/app, team/lib, team/zed); bob and carol are plain users, carol owns ops."""
    for name in ("alice", "bob", "carol"):
        await accounts.account(name)
    await accounts.org("team", owner="alice")
    await accounts.org("ops", owner="carol")
    for name in ("app", "lib", "zed"):
        await accounts.repository(f"team/{name}", by="alice")
    return {
        "app": await accounts.repository_id("team/app"),
        "lib": await accounts.repository_id("team/lib"),
        "zed": await accounts.repository_id("team/zed"),
        "bob": await accounts.user_id("bob"),
        "carol": await accounts.user_id("carol"),
        "alice": await accounts.user_id("alice"),
    }


async def test_grants_are_added_changed_and_removed_each_row_audited(accounts):
    ids = await _world(accounts)
    audited = await accounts.count(AuditRow)
    async with accounts.service() as service:
        store = service.store
        async with store.transaction():
            await store.grants.add(ids["app"], {ids["bob"]: Role.VIEWER, ids["carol"]: Role.ADMIN})
        listed = await store.grants.of_repository(ids["app"])
        assert [(grant.user.username, grant.role) for grant in listed] == [
            ("bob", Role.VIEWER),
            ("carol", Role.ADMIN),
        ]
        assert await store.grants.of_repository(ids["lib"]) == []
        with pytest.raises(Conflict):
            async with store.transaction():
                await store.grants.add(ids["app"], {ids["bob"]: Role.MEMBER})
        async with store.transaction():
            current = await store.grants.roles(ids["app"], [ids["bob"], ids["alice"]])
            assert set(current) == {ids["bob"]}
            await store.grants.change(ids["app"], {ids["bob"]: Role.MEMBER, ids["alice"]: Role.ADMIN})
        assert await store.grants.roles(ids["app"], [ids["bob"], ids["carol"], ids["alice"]]) == {
            ids["bob"]: Role.MEMBER,
            ids["carol"]: Role.ADMIN,
        }
        async with store.transaction():
            await store.grants.remove(ids["app"], [ids["bob"], ids["carol"]])
    assert await accounts.count(RepositoryGrantRow) == 0
    # Two inserts, two updates (alice's changed nothing), two deletes: one entry each, naming the user.
    async with accounts.service() as service:
        entries = (await service.store.audit.since(None))[audited:]
    targets = [(entry["action"], entry["target"]) for entry in entries]
    assert [action for action, _ in targets] == ["insert repository_grants"] * 2 + [
        "update repository_grants"
    ] * 2 + ["delete repository_grants"] * 2
    assert f"user_id={ids['bob']}" in targets[2][1] and "role=member" in targets[2][1]
    assert {target.split("user_id=")[1].split()[0] for _, target in targets[4:]} == {
        str(ids["bob"]),
        str(ids["carol"]),
    }


async def test_a_share_is_added_read_changed_and_deleted(accounts):
    ids = await _world(accounts)
    ops = await accounts.org("spare", owner="carol")
    deadline = utcnow() + timedelta(days=3)
    async with accounts.service() as service:
        store = service.store
        async with store.transaction():
            await store.shares.add(
                repository_id=ids["app"],
                namespace_id=ops,
                permit="read",
                expires_at=deadline,
                description="for spare",
                creator="alice",
            )
        share = await store.shares.get(ids["app"], ops)
        assert share is not None
        assert (share.namespace, share.repository, share.access_domain) == ("team", "app", "spare")
        assert (share.permit, share.expires_at, share.description) == ("read", deadline, "for spare")
        assert (share.creator, share.creator_id) == ("alice", ids["alice"])
        assert [s.access_domain for s in await store.shares.of_repository(ids["app"])] == ["spare"]
        assert await store.shares.get(ids["lib"], ops) is None
        with pytest.raises(Conflict):
            async with store.transaction():
                await store.shares.add(
                    repository_id=ids["app"],
                    namespace_id=ops,
                    permit="read",
                    expires_at=None,
                    description="",
                    creator="alice",
                )
        async with store.transaction():
            forever = ShareChanges(permit="read", expires_at=None)
            assert await store.shares.update(ids["app"], ops, forever)
            assert not await store.shares.update(ids["lib"], ops, forever)
        changed = await store.shares.get(ids["app"], ops)
        assert changed is not None and changed.expires_at is None and changed.description == "for spare"
        async with store.transaction():
            assert await store.shares.delete(ids["app"], ops)
            assert not await store.shares.delete(ids["app"], ops)
        assert await store.shares.of_repository(ids["app"]) == []


async def test_shared_pages_from_either_side_and_the_deadline(accounts):
    ids = await _world(accounts)
    async with accounts.service() as service:
        store = service.store
        ops_namespace = await store.namespaces.by_name("ops")
        assert ops_namespace is not None
        ops = ops_namespace.id
        now = utcnow()
        async with store.transaction():
            for name, expires in (("app", None), ("lib", now + timedelta(hours=1)), ("zed", now)):
                await store.shares.add(
                    repository_id=ids[name],
                    namespace_id=ops,
                    permit="read",
                    expires_at=expires,
                    description="",
                    creator="alice",
                )
        await accounts.tag("team/app", "v1")
        carol = Visibility(member_id=ids["carol"], now=utcnow())
        alice = Visibility(member_id=ids["alice"], now=utcnow())
        bob = Visibility(member_id=ids["bob"], now=utcnow())

        async def names(query: SharedQuery, visibility: Visibility) -> tuple[list[str], int]:
            page = await store.shares.shared_page(query, visibility, now)
            return [item.name for item in page.items], page.total

        theirs = SharedQuery(shared_by=SharedBy.THIRDPARTY)
        mine = SharedQuery(shared_by=SharedBy.SELF)
        # zed's deadline is now: expired.
        assert await names(theirs, carol) == (["app", "lib"], 2)
        assert await names(theirs, alice) == ([], 0)
        assert await names(mine, alice) == (["app", "lib", "zed"], 3)
        assert await names(mine, carol) == ([], 0)
        assert await names(mine, bob) == ([], 0)
        site_admin = Visibility(everything=True, member_id=ids["bob"])
        assert await names(mine, site_admin) == (["app", "lib", "zed"], 3)
        assert await names(theirs, site_admin) == ([], 0)
        # Later, lib has expired too.
        later = await store.shares.shared_page(theirs, carol, now + timedelta(hours=2))
        assert [item.name for item in later.items] == ["app"]
        # Filters, order, offset paging (past the end: the total still counted), keyset paging.
        assert await names(SharedQuery(shared_by=SharedBy.SELF, name_contains="A"), alice) == (["app"], 1)
        assert await names(SharedQuery(shared_by=SharedBy.SELF, name="li"), alice) == ([], 0)
        assert await names(SharedQuery(shared_by=SharedBy.SELF, namespace="ops"), alice) == ([], 0)
        descending = SharedQuery(shared_by=SharedBy.SELF, order=RepoOrder.NAME, descending=True, limit=2)
        assert await names(descending, alice) == (["zed", "lib"], 3)
        assert await names(SharedQuery(shared_by=SharedBy.SELF, offset=5, limit=2), alice) == ([], 3)
        keyset = await store.shares.shared_page(
            SharedQuery(shared_by=SharedBy.SELF, from_id=ids["lib"], limit=1), alice, now
        )
        assert [item.id for item in keyset.items] == [ids["lib"], ids["zed"]]  # one more than asked
        page = await store.shares.shared_page(mine, alice, now)
        assert page.items[0].tag_names == ("v1",) and page.items[1].tag_names == ()
