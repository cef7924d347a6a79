"""Per-tag pull facts from the registry's events, and repohub's own registry writes not re-applied.

The intake (``domain/registry/events.py``) driven directly, on SQLite and on PostgreSQL: which pulls
count on which tag, that a tag's last pull only moves forward, that many pulls are one batched
statement, and that repohub's own delete and put-back leave a kept tag as it was.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event as sqlalchemy_event

from repohub.domain.entities import Repository, Role, Tag
from repohub.domain.gateway import INTERNAL_SUBJECT
from repohub.domain.registry.events import EnvelopeResult, RegistryEvent
from repohub.store.tables import RepositoryRow
from tests.world import EPOCH, OCI_MANIFEST, World

D1, D2, D3 = ("sha256:" + digit * 64 for digit in "123")
T0 = datetime(2025, 3, 1, 10, tzinfo=UTC)


def pull(
    repository: str = "acme/app", *, tag: str | None = None, digest: str = D1, **fields: Any
) -> RegistryEvent:
    """A manifest pull as Distribution 2.8 reports it: by tag, ``target.tag`` is set; by digest, not."""
    fields.setdefault("method", "GET")
    fields.setdefault("actor", "bob")
    fields.setdefault("timestamp", T0)
    return RegistryEvent(
        id=str(uuid.uuid4()),
        action="pull",
        repository=repository,
        media_type=OCI_MANIFEST,
        digest=digest,
        tag=tag,
        **fields,
    )


def push(
    tag: str, digest: str, *, actor: str, at: datetime = T0, repository: str = "acme/app"
) -> RegistryEvent:
    return RegistryEvent(
        id=str(uuid.uuid4()),
        action="push",
        repository=repository,
        timestamp=at,
        media_type=OCI_MANIFEST,
        digest=digest,
        tag=tag,
        size=418,
        method="PUT",
        actor=actor,
    )


def delete(
    *, digest: str | None = None, tag: str | None = None, actor: str = INTERNAL_SUBJECT
) -> RegistryEvent:
    return RegistryEvent(
        id=str(uuid.uuid4()),
        action="delete",
        repository="acme/app",
        timestamp=T0,
        digest=digest,
        tag=tag,
        method="DELETE",
        actor=actor,
    )


@pytest.fixture
async def world(world: World) -> World:
    """``acme/app`` with tags a and b on D1 and c on D2, pushed by alice at EPOCH; bob pulls."""
    await world.account("alice")
    await world.account("bob")
    await world.org("acme", owner="alice", members={"bob": Role.VIEWER})
    await world.repository("acme/app", by="alice")
    for name, digest in (("a", D1), ("b", D1), ("c", D2)):
        await world.tag("acme/app", name, digest=digest, creator="alice", media_type=OCI_MANIFEST)
    return world


async def apply(world: World, *events: RegistryEvent) -> EnvelopeResult:
    async with world.service() as service:
        return await service.registry.apply_events(list(events))


async def tags_of(world: World, path: str = "acme/app") -> dict[str, Tag]:
    repository_id = await world.repository_id(path)
    async with world.service() as service:
        names = [tag.name for tag in (await service.store.registry.tags_of(repository_id)).values()]
        found = {name: await service.store.tags.get(repository_id, name) for name in names}
    return {name: tag for name, tag in found.items() if tag is not None}


async def repository(world: World, path: str = "acme/app") -> Repository:
    repository_id = await world.repository_id(path)
    async with world.service() as service:
        found = await service.store.repositories.get(repository_id)
    assert found is not None
    return found


def pulls(tags: dict[str, Tag]) -> dict[str, int]:
    return {name: tag.pull_count for name, tag in sorted(tags.items())}


@contextmanager
def statements(world: World) -> Iterator[list[tuple[str, int]]]:
    """Every statement the app's engine sends while the block runs, with its number of parameter rows."""
    seen: list[tuple[str, int]] = []
    engine = world.app.state.repohub.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        seen.append((" ".join(statement.split()), len(parameters) if many else 1))

    sqlalchemy_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", record)


# -- which pulls count, on which tag ------------------------------------------------------------------


async def test_a_pull_by_tag_counts_only_that_tag_though_others_share_its_digest(world):
    await apply(world, pull(tag="a"), pull(tag="a", timestamp=T0 + timedelta(minutes=1)))
    tags = await tags_of(world)
    assert pulls(tags) == {"a": 2, "b": 0, "c": 0}
    assert tags["a"].pulled_at == T0 + timedelta(minutes=1)
    assert tags["b"].pulled_at is None
    assert (await repository(world)).download_count == 2


async def test_a_pull_by_digest_counts_every_tag_on_that_digest(world):
    await apply(world, pull(digest=D1))
    tags = await tags_of(world)
    assert pulls(tags) == {"a": 1, "b": 1, "c": 0}
    assert tags["a"].pulled_at == tags["b"].pulled_at == T0
    assert (await repository(world)).download_count == 1  # one pull of the repository


async def test_head_checks_and_repohubs_own_reads_count_nothing(world):
    result = await apply(
        world,
        pull(tag="a", method="HEAD"),
        pull(digest=D1, method="HEAD"),
        pull(tag="a", actor=INTERNAL_SUBJECT),
        pull(digest=D2, actor=INTERNAL_SUBJECT),
    )
    assert result.applied == 4
    tags = await tags_of(world)
    assert pulls(tags) == {"a": 0, "b": 0, "c": 0}
    assert all(tag.pulled_at is None for tag in tags.values())
    assert (await repository(world)).download_count == 0


async def test_a_tags_last_pull_never_moves_back(world):
    late, early = T0 + timedelta(days=2), T0 + timedelta(days=1)
    await apply(world, pull(tag="a", timestamp=late), pull(tag="a", timestamp=early))  # one envelope
    await apply(world, pull(tag="a", timestamp=early))  # a later envelope with an older event
    await apply(world, pull(digest=D1, timestamp=early))
    tags = await tags_of(world)
    assert tags["a"].pulled_at == late and tags["a"].pull_count == 4
    assert tags["b"].pulled_at == early and tags["b"].pull_count == 1


async def test_a_redelivered_envelope_counts_once(world):
    envelope = [pull(tag="a"), pull(digest=D2)]
    assert (await apply(world, *envelope)).applied == 2
    again = await apply(world, *envelope)
    assert (again.applied, again.duplicates) == (0, 2)
    assert pulls(await tags_of(world)) == {"a": 1, "b": 0, "c": 1}


async def test_pulls_leave_the_tags_push_time_and_creator_alone(world):
    before = await tags_of(world)
    await apply(world, pull(tag="a"), pull(digest=D1))
    after = await tags_of(world)
    for name in ("a", "b"):
        assert (after[name].updated_at, after[name].created_at) == (EPOCH, EPOCH)
        assert after[name].creator == before[name].creator and after[name].creator is not None


async def test_a_pull_of_a_missing_tag_or_digest_counts_the_repository_only(world):
    await apply(world, pull(tag="nope"), pull(digest=D3))
    assert pulls(await tags_of(world)) == {"a": 0, "b": 0, "c": 0}
    assert (await repository(world)).download_count == 2


async def test_many_pulls_in_one_envelope_are_one_tag_update_of_every_tag(world):
    for index in range(5):
        await world.repository(f"acme/r{index}", by="alice")
        await world.tag(f"acme/r{index}", "v1", digest=D1)
        await world.tag(f"acme/r{index}", "v2", digest=D2)
    envelope = [
        *(pull(f"acme/r{index}", tag="v1") for index in range(5) for _ in range(3)),
        *(pull(f"acme/r{index}", digest=D2) for index in range(5)),  # by digest: v2 of each
        pull(tag="a"),
        pull(digest=D1),
    ]
    with statements(world) as seen:
        result = await apply(world, *envelope)
    assert result.applied == len(envelope)
    tag_updates = [(sql, rows) for sql, rows in seen if sql.upper().startswith("UPDATE TAGS")]
    digest_reads = [sql for sql, _ in seen if sql.upper().startswith("SELECT T.REPOSITORY_ID, T.DIGEST")]
    repository_updates = [sql for sql, _ in seen if sql.upper().startswith("UPDATE REPOSITORIES")]
    if world.app.state.repohub.engine.dialect.name == "postgresql":
        # One set-based statement, which resolves the pulls by digest itself: no read before it.
        assert [rows for _, rows in tag_updates] == [1], tag_updates
        assert digest_reads == []
    else:
        # Twelve tags pulled (v1 and v2 of five repositories, a and b): one statement over twelve rows.
        assert [rows for _, rows in tag_updates] == [12], tag_updates
        assert len(digest_reads) == 1, digest_reads  # every pull by digest named in one read
    assert len(repository_updates) == 1, repository_updates  # the pull-only batch, as before
    for index in range(5):
        assert pulls(await tags_of(world, f"acme/r{index}")) == {"v1": 3, "v2": 1}
    assert pulls(await tags_of(world)) == {"a": 2, "b": 1, "c": 0}
    assert await world.count(RepositoryRow) == 6


async def test_pulls_beside_a_push_in_one_envelope_count_on_the_tags(world):
    envelope = [push("d", D3, actor="alice"), pull(tag="d"), pull(tag="a"), pull(digest=D1)]
    await apply(world, *envelope)
    assert pulls(await tags_of(world)) == {"a": 2, "b": 1, "c": 0, "d": 1}


# -- repohub's own registry writes --------------------------------------------------------------------


async def test_repohubs_delete_and_put_back_leave_the_kept_tag_as_it_was(world):
    """What ``registry/client.delete_tag`` of ``b`` makes the registry send: the digest's delete (and,
    from Distribution 2.8.2, one delete by tag for each tag on it), then a push of each kept tag."""
    await apply(world, pull(tag="a", timestamp=T0), pull(tag="a", timestamp=T0))
    before, repository_before = await tags_of(world), await repository(world)
    later = T0 + timedelta(hours=1)
    result = await apply(
        world,
        delete(digest=D1),
        delete(tag="a"),
        delete(tag="b"),
        push("a", D1, actor=INTERNAL_SUBJECT, at=later),
    )
    assert result.applied == 4  # claimed: a redelivery is a duplicate
    after, repository_after = await tags_of(world), await repository(world)
    assert set(after) == {"a", "b", "c"}  # the catalogue deletes b itself, after the registry
    kept, was = after["a"], before["a"]
    assert (kept.created_at, kept.updated_at) == (was.created_at, was.updated_at) == (EPOCH, EPOCH)
    assert kept.creator is not None and kept.creator == was.creator
    assert (kept.pull_count, kept.pulled_at) == (2, T0)
    assert repository_after.upload_count == repository_before.upload_count
    assert repository_after.pushed_at == repository_before.pushed_at
    assert repository_after.tag_count == 3


async def test_a_users_delete_events_still_remove_tags(world):
    await apply(world, delete(digest=D1, actor="alice"))
    assert set(await tags_of(world)) == {"c"}
    await apply(world, delete(tag="c", actor="alice"))
    assert await tags_of(world) == {}


async def test_repohubs_push_of_a_new_tag_or_to_another_digest_is_applied(world):
    """A retag: repohub puts a manifest under a tag that is new, or that was on another digest."""
    await apply(world, pull(tag="c"))
    later = T0 + timedelta(hours=2)
    await apply(
        world,
        push("fresh", D1, actor=INTERNAL_SUBJECT, at=later),
        push("c", D1, actor=INTERNAL_SUBJECT, at=later),
    )
    tags = await tags_of(world)
    assert (tags["fresh"].digest, tags["fresh"].created_at, tags["fresh"].updated_at) == (D1, later, later)
    assert tags["fresh"].pull_count == 0
    moved = tags["c"]
    assert (moved.digest, moved.updated_at, moved.created_at) == (D1, later, EPOCH)
    assert moved.pull_count == 1 and moved.creator is not None and moved.creator.username == "alice"
    assert (await repository(world)).upload_count == 0  # repohub's pushes are no uploads


async def test_a_users_repush_of_the_same_digest_refreshes_the_push_time_only(world):
    await apply(world, pull(tag="a"))
    later = T0 + timedelta(hours=3)
    await apply(world, push("a", D1, actor="bob", at=later))
    tag = (await tags_of(world))["a"]
    assert (tag.digest, tag.updated_at, tag.created_at) == (D1, later, EPOCH)
    assert tag.pull_count == 1 and tag.creator is not None and tag.creator.username == "alice"
    assert (await repository(world)).upload_count == 1


async def test_concurrent_envelopes_pulling_the_same_tags_in_different_orders_all_count(world):
    """Each envelope pulls the same tags, by name and by digest, in its own order; they run at once.
    A lock order that followed the events' order deadlocks on PostgreSQL (a DBAPI error, not a
    Conflict, so it is not retried); the intake locks by repository path, then tag name."""
    paths = [f"acme/r{index}" for index in range(4)]
    for path in paths:
        await world.repository(path, by="alice")
        for name, digest in (("a", D1), ("b", D1), ("c", D2)):
            await world.tag(path, name, digest=digest)
    wanted = [(path, tag, digest) for path in paths for tag, digest in (("a", D1), ("c", D2), (None, D1))]
    orders = (wanted, wanted[::-1], wanted[1::2] + wanted[::2], wanted[::-2] + wanted[-2::-2]) * 2
    for _ in range(5):  # every event a new id: each envelope counts
        envelopes = [[pull(path, tag=tag, digest=digest) for path, tag, digest in order] for order in orders]
        results = await asyncio.gather(
            *(apply(world, *events) for events in envelopes), return_exceptions=True
        )
        assert [r for r in results if isinstance(r, BaseException)] == []
    rounds = 5 * len(orders)
    for path in paths:  # a: by name and by D1; b: by D1; c: by name
        assert pulls(await tags_of(world, path)) == {"a": 2 * rounds, "b": rounds, "c": rounds}
