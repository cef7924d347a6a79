"""Robot accounts (``robots``) and their patterns (``robot_access``).

A robot is read with its namespace's name and all its patterns in one statement (a row per pattern);
the secret is never stored, only its digest (``lookup``), which the verification looks up. Every
write goes through the session in the caller's transaction, so the audit trail records it
(``store.audit``); no write here names the digest, which the trail would leave out anyway.
"""

from __future__ import annotations

import builtins  # RobotStore has a list() method: inside it, `list[...]` would name that
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Select, Table, delete, insert, select, update
from sqlalchemy.util.typing import TupleAny

from repohub.domain.clock import utcnow
from repohub.domain.entities import Robot
from repohub.store.session import LazySession
from repohub.store.tables import NamespaceRow, RobotAccessRow, RobotRow

__all__ = ["RobotAccess", "RobotStore"]

PUSH = "push"
# Core, not the ORM class: the audit trail compiles each statement, and an ORM bulk INSERT does not
# compile without its rows.
_ACCESS = cast(Table, RobotAccessRow.__table__)


class RobotAccess(NamedTuple):
    """One grant as stored: ``action`` (pull | push), the glob, and the same as a LIKE pattern."""

    action: str
    pattern: str
    like_pattern: str


def _robots(*conditions: ColumnElement[bool]) -> Select[*TupleAny]:
    """Robots with their namespace's name, a row per pattern (none: one row without), by namespace
    and name; ``_grouped`` makes them entities."""
    return (
        select(
            RobotRow.id,
            RobotRow.namespace_id,
            NamespaceRow.name,
            RobotRow.name,
            RobotRow.description,
            RobotRow.is_disabled,
            RobotRow.expires_at,
            RobotRow.created_at,
            RobotAccessRow.action,
            RobotAccessRow.pattern,
        )
        .join(NamespaceRow, NamespaceRow.id == RobotRow.namespace_id)
        .outerjoin(RobotAccessRow, RobotAccessRow.robot_id == RobotRow.id)
        .where(*conditions)
        .order_by(NamespaceRow.name, RobotRow.name, RobotAccessRow.action, RobotAccessRow.pattern)
    )


def _grouped(rows: Iterable[Any]) -> list[Robot]:
    """``_robots``' rows as robots, in their order."""
    found: dict[int, tuple[Any, list[str], list[str]]] = {}
    for row in rows:
        _, pull, push = found.setdefault(row[0], (row, [], []))
        if row[9] is not None:
            (push if row[8] == PUSH else pull).append(row[9])
    return [
        Robot(
            id=row[0],
            namespace_id=row[1],
            namespace=row[2],
            name=row[3],
            pull=tuple(pull),
            push=tuple(push),
            description=row[4],
            is_disabled=bool(row[5]),
            expires_at=row[6],
            created_at=row[7],
        )
        for row, pull, push in found.values()
    ]


class RobotStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def add(
        self,
        *,
        namespace_id: int,
        name: str,
        lookup: str,
        access: Sequence[RobotAccess],
        description: str = "",
        expires_at: datetime | None = None,
        creator_id: int | None = None,
    ) -> int:
        """A robot and its patterns, in the caller's transaction; its id."""
        now = utcnow()
        result = await self._session.execute(
            insert(RobotRow)
            .values(
                namespace_id=namespace_id,
                name=name,
                lookup=lookup,
                description=description,
                is_disabled=False,
                expires_at=expires_at,
                creator_id=creator_id,
                created_at=now,
                updated_at=now,
            )
            .returning(RobotRow.id)
        )
        robot_id = int(result.scalar_one())
        rows = [{"robot_id": robot_id, **item._asdict()} for item in access]
        await self._session.execute(insert(_ACCESS), rows)  # an executemany: an audit entry per row
        return robot_id

    async def by_name(self, namespace_id: int, name: str) -> Robot | None:
        if "\x00" in name:  # no stored name holds NUL, and PostgreSQL refuses to compare with one
            return None
        query = _robots(RobotRow.namespace_id == namespace_id, RobotRow.name == name)
        found = _grouped((await self._session.execute(query)).all())
        return found[0] if found else None

    async def live(self, lookup: str, *, now: datetime) -> Robot | None:
        """The robot whose secret has this digest, with its patterns, in one statement; None if there
        is none, or it is disabled or expired."""
        query = _robots(RobotRow.lookup == lookup, RobotRow.is_disabled.is_(False))
        found = _grouped((await self._session.execute(query)).all())
        if not found:
            return None
        robot = found[0]
        return robot if robot.expires_at is None or robot.expires_at > now else None

    async def list(self, namespace_id: int | None = None) -> builtins.list[Robot]:
        """Every robot (or a namespace's), disabled and expired ones included, by namespace and name."""
        conditions = [RobotRow.namespace_id == namespace_id] if namespace_id is not None else []
        return _grouped((await self._session.execute(_robots(*conditions))).all())

    async def lookup_of(self, robot_id: int) -> str | None:
        """The digest of the robot's secret (to forget it where it is remembered)."""
        result = await self._session.execute(select(RobotRow.lookup).where(RobotRow.id == robot_id))
        return result.scalar_one_or_none()

    async def set_disabled(self, robot: Robot, disabled: bool) -> bool:
        """Whether the robot was still there. The namespace is in the statement so that the trail's
        entry names it."""
        result = await self._session.execute(
            update(RobotRow)
            .where(RobotRow.id == robot.id, RobotRow.namespace_id == robot.namespace_id)
            .values(is_disabled=disabled, updated_at=utcnow())
        )
        return bool(result.rowcount)

    async def set_lookup(self, robot: Robot, lookup: str) -> bool:
        """A new secret's digest in place of the old one (which then names nothing)."""
        result = await self._session.execute(
            update(RobotRow)
            .where(RobotRow.id == robot.id, RobotRow.namespace_id == robot.namespace_id)
            .values(lookup=lookup, updated_at=utcnow())
        )
        return bool(result.rowcount)

    async def delete(self, robot: Robot) -> bool:
        """Delete the robot; its patterns go with it (the foreign key's cascade)."""
        result = await self._session.execute(
            delete(RobotRow).where(RobotRow.id == robot.id, RobotRow.namespace_id == robot.namespace_id)
        )
        return bool(result.rowcount)
