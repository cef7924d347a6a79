"""Robot accounts in the store, on both databases: a pattern's LIKE form matches what ``fnmatch``
matches, and a robot is read back, live or not, with all its patterns in one statement."""

from __future__ import annotations

import random
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, text

from repohub.auth.secrets import token_digest
from repohub.domain.clock import utcnow
from repohub.domain.robots import glob_to_like
from repohub.store.robots import RobotAccess
from repohub.store.tables import RobotAccessRow
from tests.world import World

# Names and patterns over the characters that matter: LIKE's wildcards and escape among the literals.
NAME_CHARS = "ab_./-%\\"
PATTERN_CHARS = NAME_CHARS + "*?"
PAIRS = 400


def _pairs(seed: int) -> list[tuple[str, str]]:
    """Random (name, pattern) pairs; half the patterns are made from their name (a character turned
    into a wildcard here and there), so that matches are not rare."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(PAIRS):
        name = "".join(rng.choice(NAME_CHARS) for _ in range(rng.randint(0, 7)))
        if rng.random() < 0.5:
            pattern = "".join(rng.choice("*?") if rng.random() < 0.3 else char for char in name)
            if rng.random() < 0.3:
                pattern += "*"
        else:
            pattern = "".join(rng.choice(PATTERN_CHARS) for _ in range(rng.randint(0, 5)))
        pairs.append((name, pattern))
    return pairs


async def test_a_globs_like_pattern_matches_what_fnmatch_matches(app: FastAPI) -> None:
    engine = app.state.repohub.engine
    matched = missed = 0
    # As the lists' SQL applies it (store.pg_pages): LIKE with "\" as the escape.
    statement = text("SELECT :name LIKE :pattern ESCAPE '\\'")
    async with engine.connect() as connection:
        for name, glob in _pairs(seed=18):
            like = glob_to_like(glob)
            in_sql = bool((await connection.execute(statement, {"name": name, "pattern": like})).scalar())
            expected = fnmatchcase(name, glob)
            assert in_sql == expected, (name, glob, like)
            matched, missed = matched + expected, missed + (not expected)
    assert matched > PAIRS // 5 and missed > PAIRS // 5  # both outcomes were tried, often


async def _robot(world: World, **fields: Any) -> int:
    await world.account("ann")
    await world.org("acme", owner="ann")
    async with world.service() as service:
        namespace = await service.store.namespaces.by_name("acme")
        assert namespace is not None
        access = [
            RobotAccess("pull", "base/*", glob_to_like("base/*")),
            RobotAccess("push", "ci/app", glob_to_like("ci/app")),
            RobotAccess("pull", "tools", glob_to_like("tools")),
        ]
        async with service.store.transaction():
            return await service.store.robots.add(
                namespace_id=namespace.id, name="ci", lookup=token_digest("rbt_one"), access=access, **fields
            )


async def test_a_live_robot_is_read_with_its_patterns_in_one_statement(app: FastAPI, world: World) -> None:
    robot_id = await _robot(world, description="builds")
    statements: list[str] = []

    def counted(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        statements.append(sql)

    engine = app.state.repohub.engine.sync_engine
    async with world.service() as service:
        await service.store.namespaces.by_name("acme")  # the session's BEGIN, outside the count
        event.listen(engine, "before_cursor_execute", counted)
        try:
            robot = await service.store.robots.live(token_digest("rbt_one"), now=utcnow())
        finally:
            event.remove(engine, "before_cursor_execute", counted)
    assert len(statements) == 1, statements
    assert robot is not None and robot.id == robot_id and robot.username == "robot$acme+ci"
    assert robot.pull == ("base/*", "tools") and robot.push == ("ci/app",)
    assert robot.description == "builds" and not robot.is_disabled and robot.expires_at is None
    async with world.service() as service:
        assert await service.store.robots.live(token_digest("rbt_other"), now=utcnow()) is None


async def test_a_disabled_or_expired_robot_is_not_live_but_still_listed(world: World) -> None:
    expires_at = utcnow() + timedelta(hours=1)
    await _robot(world, expires_at=expires_at)
    digest = token_digest("rbt_one")
    async with world.service() as service:
        store = service.store
        assert await store.robots.live(digest, now=utcnow()) is not None
        assert await store.robots.live(digest, now=expires_at) is None  # expired at its time
        namespace = await store.namespaces.by_name("acme")
        assert namespace is not None
        robot = await store.robots.by_name(namespace.id, "ci")
        assert robot is not None
        async with store.transaction():
            assert await store.robots.set_disabled(robot, True)
        assert await store.robots.live(digest, now=utcnow()) is None
        (listed,) = await store.robots.list()
        assert listed.is_disabled and listed.expires_at == expires_at


async def test_rotation_voids_the_old_digest_and_deletion_takes_the_patterns(world: World) -> None:
    await _robot(world)
    async with world.service() as service:
        store = service.store
        namespace = await store.namespaces.by_name("acme")
        assert namespace is not None
        robot = await store.robots.by_name(namespace.id, "ci")
        assert robot is not None and await store.robots.lookup_of(robot.id) == token_digest("rbt_one")
        async with store.transaction():
            assert await store.robots.set_lookup(robot, token_digest("rbt_two"))
        assert await store.robots.live(token_digest("rbt_one"), now=utcnow()) is None
        assert (await store.robots.live(token_digest("rbt_two"), now=utcnow())) == robot
        assert [item.name for item in await store.robots.list(namespace.id)] == ["ci"]
        assert await store.robots.list(namespace.id + 1000) == []
        async with store.transaction():
            assert await store.robots.delete(robot)
        assert await store.robots.by_name(namespace.id, "ci") is None
    assert await world.count(RobotAccessRow) == 0
