"""Each audit entry carries the namespace its write belongs to (``audit_log.namespace_id``), on both
databases: given by the statement, found through the repository or robot it names (also when that
repository is deleted in the same transaction), looked up by id for rows that name neither; a share's
entry is its repository's namespace's, not the grantee's; user-level writes carry none."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update

from repohub.domain.clock import utcnow
from repohub.store.tables import (
    AuditRow,
    RepositoryGrantRow,
    RepositoryRow,
    RepositoryShareRow,
    RobotAccessRow,
    RobotRow,
)
from repohub.store.unit import Store
from tests.world import World

KEEP_2 = {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 2}, "tag_selectors": []}]}


async def _entries(world: World, after: int = 0) -> list[tuple[str, str, int | None]]:
    async with world.app.state.repohub.sessions() as session:
        rows = await session.execute(
            select(AuditRow.action, AuditRow.target, AuditRow.namespace_id)
            .where(AuditRow.id > after)
            .order_by(AuditRow.id)
        )
        return [(action, target, namespace_id) for action, target, namespace_id in rows]


async def _last_id(world: World) -> int:
    async with world.app.state.repohub.sessions() as session:
        found = (await session.execute(select(AuditRow.id).order_by(AuditRow.id.desc()).limit(1))).scalar()
        return int(found or 0)


def _namespaces(entries: Iterable[tuple[str, str, int | None]], action: str) -> list[int | None]:
    return [namespace_id for done, _, namespace_id in entries if done == action]


async def _acme(world: World) -> tuple[int, int, int]:
    """ann owns acme (with acme/app, one tag) and her own namespace; returns acme's, ann's, app's ids."""
    await world.user("ann")
    acme = await world.org("acme", owner="ann")
    await world.repository("acme/app", by="ann")
    await world.tag("acme/app", "v1")
    async with world.service() as service:
        ann = await service.store.namespaces.by_name("ann")
    assert ann is not None
    return acme, ann.id, await world.repository_id("acme/app")


async def test_namespace_and_repository_writes_carry_their_namespace(world: World) -> None:
    acme, ann, _ = await _acme(world)
    entries = await _entries(world)
    assert _namespaces(entries, "insert namespaces") == [ann, acme]
    assert _namespaces(entries, "insert memberships") == [ann, acme]
    assert _namespaces(entries, "insert repositories") == [acme]
    # by the repository it names, resolved inside the INSERT of the entries
    assert _namespaces(entries, "insert tags") == [acme]
    assert set(_namespaces(entries, "update repositories")) == {acme}
    # the user and the token belong to no namespace
    assert _namespaces(entries, "insert users") == [None]
    assert _namespaces(entries, "insert credentials") == [None]


async def test_a_repository_deleted_with_its_tags_and_stars_keeps_their_namespace(world: World) -> None:
    acme, _, _ = await _acme(world)
    async with world.service("ann") as service:
        repository = await service.catalog.repository("acme", "app")
        await service.catalog.set_star(repository, True)
        retention = await service.retentions.create(repository, KEEP_2)
        mark = await _last_id(world)
        await service.retentions.delete(repository, retention)  # by its id alone: looked up
        await service.catalog.delete_repository(repository)
    entries = await _entries(world, mark)
    actions = [action for action, _, _ in entries]
    assert actions == [
        "delete retentions",
        "delete tags",
        "delete stars",
        "delete repositories",
    ], entries
    assert {namespace_id for _, _, namespace_id in entries} == {acme}


async def test_entries_of_the_access_tables_carry_the_owning_namespace(world: World) -> None:
    acme, ann, repository_id = await _acme(world)
    ann_id = await world.user_id("ann")
    mark = await _last_id(world)
    async with world.service() as service:
        store: Store = service.store
        async with store.transaction():
            session = store.session
            await session.execute(
                insert(RepositoryGrantRow).values(repository_id=repository_id, user_id=ann_id, role="viewer")
            )
            # shared with ann's namespace: the entry is acme's, whose repository it is
            await session.execute(
                insert(RepositoryShareRow).values(
                    repository_id=repository_id, namespace_id=ann, permit="read"
                )
            )
            robot_id = (
                await session.execute(
                    insert(RobotRow)
                    .values(namespace_id=acme, name="ci", lookup="digest-of-a-secret")
                    .returning(RobotRow.id)
                )
            ).scalar_one()
            await session.execute(
                insert(RobotAccessRow).values(
                    robot_id=robot_id, action="pull", pattern="app*", like_pattern="app%"
                )
            )
        grant_id = (await store.session.execute(select(RepositoryGrantRow.id))).scalar_one()
        async with store.transaction():
            # by their own ids only: looked up before the statement
            await store.session.execute(
                update(RepositoryGrantRow).where(RepositoryGrantRow.id == grant_id).values(role="member")
            )
            await store.session.execute(
                delete(RobotAccessRow).where(
                    RobotAccessRow.robot_id == robot_id, RobotAccessRow.action == "pull"
                )
            )
            await store.session.execute(
                update(RobotRow).where(RobotRow.id == robot_id).values(is_disabled=True, updated_at=utcnow())
            )
            await store.session.execute(delete(RobotRow).where(RobotRow.id == robot_id))
    entries = await _entries(world, mark)
    assert [(action, namespace_id) for action, _, namespace_id in entries] == [
        ("insert repository_grants", acme),
        ("insert repository_shares", acme),
        ("insert robots", acme),
        ("insert robot_access", acme),
        ("update repository_grants", acme),
        ("delete robot_access", acme),
        ("update robots", acme),
        ("delete robots", acme),
    ]
    text = " ".join(target for _, target, _ in entries)
    assert "digest-of-a-secret" not in text  # a robot's lookup is its secret's digest: never recorded
    assert "is_disabled=True" in text and "pattern=app*" in text


async def test_an_entry_a_use_case_records_takes_the_namespace_it_names(world: World) -> None:
    acme, _, _ = await _acme(world)
    mark = await _last_id(world)
    async with world.service() as service, service.store.transaction():
        await service.store.audit.record(
            [
                ("ann", "tag.immutable_overwritten", "repository=acme/app tag=v1 rule=1", "registry event"),
                ("ann", "tag.immutable_deleted", "repository=gone/app tag=v1 rule=1", "registry event"),
                (None, "something", "no repository named", "cli"),
            ]
        )
    entries = await _entries(world, mark)
    assert [namespace_id for _, _, namespace_id in entries] == [acme, None, None]


async def test_a_rolled_back_write_leaves_no_entry_and_no_namespace_behind(world: World) -> None:
    acme, _, repository_id = await _acme(world)
    mark = await _last_id(world)
    async with world.service() as service:
        store = service.store
        await store.session.execute(delete(RepositoryGrantRow))  # nothing there: an entry queued anyway
        await store.session.execute(delete(RobotRow).where(RobotRow.id == 12345))
        await store.session.rollback()
        async with store.transaction():
            await store.tags.delete(repository_id, ["v1"])
    entries = await _entries(world, mark)
    assert [(action, namespace_id) for action, _, namespace_id in entries] == [
        ("delete tags", acme),
        ("update repositories", acme),
    ]


async def test_tag_writes_after_the_intake_s_ids_read_carry_the_namespace_it_read(world: World) -> None:
    """The event intake reads its repositories' ids (``RegistryStore.repository_ids``) before it writes
    their tags: the namespaces come with them, and the entries are settled without a lookup."""
    acme, _, app = await _acme(world)
    after = await _last_id(world)
    async with world.app.state.repohub.sessions() as session:
        store = Store(session)
        async with store.transaction():
            known = await store.registry.repository_ids([("acme", "app")])
            assert known[("acme", "app")].id == app
            assert session.info["repohub_audit_namespaces"] == {("repositories", app): acme}
            await session.execute(update(RepositoryRow).where(RepositoryRow.id == app).values(tag_count=1))
    assert _namespaces(await _entries(world, after), "update repositories") == [acme]
