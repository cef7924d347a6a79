"""SQL behind schedules every replica shares (``schedules``: one row per job, e.g. ``retention``).

A replica runs a job when its one UPDATE claims the row: the row is due (``next_due_at <= now``) and
nobody holds a live lease. The same UPDATE moves ``next_due_at`` one interval on and takes the lease,
so of replicas waking at the same moment exactly one sees rowcount 1 (PostgreSQL: the row lock makes
the others wait, re-check the WHERE against the committed row and match nothing; SQLite: one writer
at a time). One mechanism for both databases, no advisory locks. ``release`` clears the lease when
the run ends, and ``renew`` extends it while a long run goes on; a holder that died leaves a lease
that lapses at ``lease_until``.

Times are the claiming process's clock (replicas are expected to keep NTP time): a clock that is
ahead by more than the interval would claim early, never twice, since the claim is one row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from repohub.store.session import LazySession
from repohub.store.tables import ScheduleRow

__all__ = ["ScheduleStore"]


class ScheduleStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def ensure(self, name: str, first_due: datetime) -> None:
        """Create the schedule's row, due at ``first_due``, unless it exists (then it is untouched:
        its cadence survives restarts)."""
        upsert = postgresql_insert if self._session.dialect == "postgresql" else sqlite_insert
        await self._session.execute(
            upsert(ScheduleRow)
            .values(name=name, next_due_at=first_due, holder=None, lease_until=None)
            .on_conflict_do_nothing(index_elements=["name"])
        )

    async def claim(
        self, name: str, holder: str, *, now: datetime, interval: timedelta, lease: timedelta
    ) -> bool:
        """True if ``holder`` claimed the due schedule: it runs now; the next run is due an interval on."""
        result = await self._session.execute(
            update(ScheduleRow)
            .where(
                ScheduleRow.name == name,
                ScheduleRow.next_due_at <= now,
                or_(ScheduleRow.lease_until.is_(None), ScheduleRow.lease_until < now),
            )
            .values(next_due_at=now + interval, holder=holder, lease_until=now + lease)
        )
        return bool(result.rowcount == 1)

    async def renew(self, name: str, holder: str, until: datetime) -> bool:
        """Extend ``holder``'s lease to ``until`` while its run goes on; False if it no longer holds it."""
        result = await self._session.execute(
            update(ScheduleRow)
            .where(ScheduleRow.name == name, ScheduleRow.holder == holder)
            .values(lease_until=until)
        )
        return bool(result.rowcount == 1)

    async def release(self, name: str, holder: str) -> None:
        """End ``holder``'s lease (a lease taken over after it lapsed is someone else's: left alone)."""
        await self._session.execute(
            update(ScheduleRow)
            .where(ScheduleRow.name == name, ScheduleRow.holder == holder)
            .values(holder=None, lease_until=None)
        )

    async def get(self, name: str) -> tuple[datetime, str | None, datetime | None] | None:
        """The row's next due time, holder and lease end (for operators and tests)."""
        result = await self._session.execute(
            select(ScheduleRow.next_due_at, ScheduleRow.holder, ScheduleRow.lease_until).where(
                ScheduleRow.name == name
            )
        )
        row = result.first()
        return (row[0], row[1], row[2]) if row is not None else None
