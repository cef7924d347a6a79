"""Lone reads spread over PostgreSQL streaming replicas, the primary as the fallback (issue 19).

:class:`ReplicaReader` is a ``readers.Reader``: one ``PgReader`` per replica plus the primary's.
A lone read (``readers.Reads``: never one inside a write's transaction) goes to the next healthy
replica in turn, else to the primary. A replica is healthy when its last check answered and its
lag was within ``replica_max_lag``; a read that fails on it for a reason of the connection (down,
shut down mid-query, no free connection) or of recovery (a query cancelled by a replay conflict)
marks it down and runs again on the primary in the same request, so the client never sees it.

The health loop (:meth:`ReplicaReader.watch_forever`, a task of the app's lifespan) checks every
replica about once a second. Lag is 0 when the replica has replayed all the WAL it received (an idle
primary sends nothing, so a replica of an idle primary is never "behind"), else the age of the last
transaction it replayed.

Read-your-writes: a caller whose transaction committed a write reads from the primary for
``replica_max_lag`` plus a margin after it (:class:`Freshness`, keyed on the request's caller, the
audit trail's actor). The window lives in this process's memory: a caller is followed only by the
``repohub serve`` process that took the write (see the README's "Read replicas"). Work outside a
request (retention, webhook delivery, the CLI) always reads the primary: it decides what to change.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from repohub.store.audit import ActorOf
from repohub.store.faults import is_unavailable
from repohub.store.pg_reader import PgReader
from repohub.store.tables import AuditRow

__all__ = [
    "PRIMARY",
    "Freshness",
    "Replica",
    "ReplicaReader",
    "ReplicaState",
    "ReplicaStatus",
    "replica_name",
]

log = logging.getLogger("repohub.replicas")

PRIMARY = "primary"  # the name reads served by the primary are counted under
POLL_INTERVAL = 1.0  # seconds between two checks of every replica
# Seconds a caller's reads stay on the primary beyond ``replica_max_lag`` after its write: one poll
# (a replica's lag is known a poll late) and some slack for the commit's own way to the standby.
WINDOW_MARGIN = 2.0

# One statement per check: how far behind the replica is, in seconds. 0 when it has replayed all the
# WAL it received (``>=``: after a restart the receive position starts at its segment's beginning,
# behind the replay); NULL (unknown, so not fit for reads) when no WAL receiver runs (a standby cut
# off from its primary cannot know what it misses, the row's fields are hidden from roles without
# pg_read_all_stats, but not the row) or when it never replayed anything. Not in recovery (a
# promoted standby, or a primary named as a replica): it has every write, lag 0.
LAG_SQL = """SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0::float8
    WHEN NOT EXISTS (SELECT FROM pg_stat_wal_receiver) THEN NULL
    WHEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0::float8
    ELSE extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
END AS lag"""

# A standby cancels a query whose rows the replay must remove (40001, "conflict with recovery"):
# the primary has no such conflict, so the read is run there.
_RECOVERY_CONFLICT = "40001"


class ReplicaState(enum.StrEnum):
    UP = "up"
    DOWN = "down"
    LAGGING = "lagging"


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """What the probes show of one replica (or of the primary, whose state is always ``up``)."""

    name: str
    state: ReplicaState
    lag: float | None  # seconds; None while unknown (down, or never checked)
    served: int  # lone reads it answered since the process started


def replica_name(url: str) -> str:
    """``host:port/database`` of a URL: what logs, probes and metrics name a replica by (never
    its user or password)."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


class Replica:
    __slots__ = ("lag", "name", "reader", "served", "state")

    def __init__(self, name: str, reader: PgReader) -> None:
        self.name = name
        self.reader = reader
        # Down until its first check answers: no read goes to a standby nobody has seen replay.
        self.state = ReplicaState.DOWN
        self.lag: float | None = None
        self.served = 0

    def judge(self, lag: float | None, max_lag: float) -> None:
        """Take a check's answer: up when within ``max_lag``, lagging otherwise (or unknown)."""
        self.lag = lag
        self.state = ReplicaState.UP if lag is not None and lag <= max_lag else ReplicaState.LAGGING

    def fail(self) -> None:
        self.state = ReplicaState.DOWN
        self.lag = None

    def status(self) -> ReplicaStatus:
        return ReplicaStatus(self.name, self.state, self.lag, self.served)


class Freshness:
    """Who wrote lately, until when (monotonic seconds): their reads go to the primary meanwhile."""

    __slots__ = ("_clock", "_until", "window")

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._until: dict[str, float] = {}

    def wrote(self, caller: str) -> None:
        now = self._clock()
        self._until[caller] = now + self.window
        if len(self._until) > 1024:  # forget the expired ones now and then, not on every write
            self._until = {who: until for who, until in self._until.items() if until > now}

    def recent(self, caller: str) -> bool:
        until = self._until.get(caller)
        return until is not None and until > self._clock()


Report = Callable[[Sequence[ReplicaStatus]], None]


class ReplicaReader:
    """A ``Reader`` over the primary's ``PgReader`` and one per replica (see the module's doc)."""

    def __init__(
        self,
        primary: PgReader,
        replicas: Sequence[Replica],
        *,
        max_lag: float,
        actor: ActorOf,
        check_timeout: float,
    ) -> None:
        self.primary = primary
        self.replicas = list(replicas)
        self.max_lag = max_lag
        self.freshness = Freshness(max_lag + WINDOW_MARGIN)
        self.primary_served = 0
        self._actor = actor
        self._check_timeout = check_timeout
        self._turn = itertools.cycle(range(len(self.replicas)))

    # -- reads --------------------------------------------------------------------------------
    def choose(self) -> Replica | None:
        """The replica the next lone read goes to: the next healthy one in turn; None (the
        primary) when none is, or when the caller wrote lately or is no request at all."""
        request = self._actor()
        if request is None:
            return None
        caller = request.user
        if caller is not None and self.freshness.recent(caller):
            return None
        for _ in range(len(self.replicas)):
            replica = self.replicas[next(self._turn)]
            if replica.state is ReplicaState.UP:
                return replica
        return None

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        replica = self.choose()
        if replica is not None:
            try:
                rows = await replica.reader.fetch(sql, params)
            except Exception as error:
                if not _replica_fault(error):
                    raise  # the statement's own failure: the primary would fail alike
                # The error's kind only: its text carries the statement and its parameters.
                log.warning("replica %s failed a read (%s): read on the primary", replica.name, _kind(error))
                replica.fail()
            else:
                replica.served += 1
                return rows
        rows = await self.primary.fetch(sql, params)
        self.primary_served += 1
        return rows

    # -- read-your-writes -----------------------------------------------------------------------
    def follow_writes(self, session_class: type[Session]) -> None:
        """Open a caller's window when a transaction of ``session_class`` in which it wrote commits.

        A write is what the audit trail counts as one (an INSERT, UPDATE, DELETE or text statement,
        or a flush), and its caller the audit trail's actor, taken when the write runs: a token's
        last-use stamp, written while its request is still nobody's, opens no window (once a
        minute per token, it would otherwise keep a busy caller's reads off the replicas 7 s in 60)."""
        event.listen(session_class, "do_orm_execute", self._on_execute)
        event.listen(session_class, "after_flush", self._on_flush)
        event.listen(session_class, "after_commit", self._after_commit)
        event.listen(session_class, "after_rollback", _forget)

    def _note(self, session: Session) -> None:
        request = self._actor()
        if request is not None and request.user is not None:
            session.info.setdefault(_WRITERS, set()).add(request.user)

    def _on_execute(self, state: ORMExecuteState) -> None:
        # The audit trail's own entries, inserted as the transaction commits, record writes that
        # were noted (or not) as they ran: the entries are nobody's write of their own.
        if not state.is_select and _table_of(state.statement) != AUDIT_TABLE:
            self._note(state.session)

    def _on_flush(self, session: Session, _flush: UOWTransaction) -> None:
        self._note(session)

    def _after_commit(self, session: Session) -> None:
        for caller in session.info.pop(_WRITERS, ()):
            self.freshness.wrote(caller)

    # -- health ----------------------------------------------------------------------------------
    async def check(self, replica: Replica) -> None:
        """One check of ``replica``: its lag, or down when it does not answer in time."""
        try:
            async with asyncio.timeout(self._check_timeout):
                rows = await replica.reader.fetch(LAG_SQL, ())
        except Exception as error:  # any failure: not fit for reads until a check answers
            if replica.state is not ReplicaState.DOWN:
                log.warning("replica %s is down: %s", replica.name, type(error).__name__)
            replica.fail()
            return
        before = replica.state
        replica.judge(rows[0]["lag"], self.max_lag)
        if replica.state is not before:
            log.info("replica %s is %s (lag %s s)", replica.name, replica.state, replica.lag)

    async def check_all(self) -> None:
        await asyncio.gather(*(self.check(replica) for replica in self.replicas))

    async def watch_forever(self, report: Report, interval: float = POLL_INTERVAL) -> None:
        """Check every replica each ``interval`` and hand the figures to ``report`` (metrics)."""
        while True:  # until the lifespan cancels it
            await self.check_all()
            report(self.statuses())
            await asyncio.sleep(interval)

    def statuses(self) -> list[ReplicaStatus]:
        """The primary's figures first, then each replica's (what metrics show)."""
        primary = ReplicaStatus(PRIMARY, ReplicaState.UP, 0.0, self.primary_served)
        return [primary, *self.replica_statuses()]

    def replica_statuses(self) -> list[ReplicaStatus]:
        """Each replica's figures (what the readiness probe shows)."""
        return [replica.status() for replica in self.replicas]

    async def close(self) -> None:
        await asyncio.gather(self.primary.close(), *(replica.reader.close() for replica in self.replicas))


_WRITERS = "repohub_writers"  # session.info key: the callers who wrote in the open transaction


AUDIT_TABLE = AuditRow.__tablename__


def _table_of(statement: Any) -> str | None:
    return getattr(getattr(statement, "table", None), "name", None)


def _forget(session: Session) -> None:
    session.info.pop(_WRITERS, None)


def _kind(error: BaseException) -> str:
    """The driver's own error class where SQLAlchemy wrapped one (``AdminShutdownError``...)."""
    return type(getattr(error, "orig", None) or error).__name__


def _replica_fault(error: BaseException) -> bool:
    """A failure of the replica rather than of the statement: the read is run on the primary."""
    if is_unavailable(error):
        return True
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) == _RECOVERY_CONFLICT
