"""Lone reads spread over PostgreSQL streaming replicas, the primary as the fallback (issue 19).

:class:`ReplicaReader` is a ``readers.Reader``: one ``PgReader`` per replica plus the primary's.
A lone read (``readers.Reads``: never one inside a write's transaction) goes to the next healthy
replica in turn, else to the primary. A replica is healthy when its last check answered and its
lag was within ``replica_max_lag``; a read that fails on it for a reason of the connection (down,
shut down mid-query) or of recovery (a query cancelled by a replay conflict) marks it down and runs
again on the primary in the same request, so the client never sees it. A read that found no free
connection in time, or a schema behind the primary's (SQLSTATE class 42), runs again on the primary
too, the replica left up. Reads whose results the process remembers go to the primary always
(:meth:`ReplicaReader.fetch_primary`): a replica not yet at a change would fill the memory stale.

The health loop (:meth:`ReplicaReader.watch_forever`, a task of the app's lifespan) checks every
replica about once a second, on a connection of the check's own. Lag is measured against the
primary: the age of the oldest WAL position the polls saw on the primary that the replica has not
replayed, 0 when it replayed the latest (:class:`WalHistory`).

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
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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
    "WalHistory",
    "is_replica_url",
    "replica_name",
]

log = logging.getLogger("repohub.replicas")

PRIMARY = "primary"  # the name reads served by the primary are counted under
POLL_INTERVAL = 1.0  # seconds between two checks of every replica
# Seconds a caller's reads stay on the primary beyond ``replica_max_lag`` after its write: one poll
# (a replica's lag is known a poll late) and some slack for the commit's own way to the standby.
WINDOW_MARGIN = 2.0

# Each poll reads where the primary's WAL is, and each replica's replay position. The receive position
# is no measure: a WAL receiver stalled on a half-open connection receives nothing and has replayed
# all of it, "lag 0" while the primary moves on. So the lag is the age of the oldest primary position
# the polls saw that the replica has not replayed (``WalHistory``). Not in recovery (a promoted
# standby, or a primary named as a replica): it has every write, lag 0. No WAL receiver: a standby
# cut off from its primary, unknown (not fit for reads). ``- '0/0'``: an LSN as a number of bytes.
PRIMARY_LSN_SQL = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8 AS lsn"
REPLICA_SQL = """SELECT pg_is_in_recovery() AS recovery,
    EXISTS (SELECT FROM pg_stat_wal_receiver) AS receiving,
    (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8 AS replayed"""
# Seconds of primary positions kept: beyond it a replica's lag reads as the oldest kept one's age,
# already far above any sensible ``replica_max_lag``.
HISTORY_SECONDS = 60.0
CLOSE_TIMEOUT = 5.0  # seconds a pool may take to close (queries finishing) before it is terminated

# A standby cancels a query whose rows the replay must remove (40001, "conflict with recovery"):
# the primary has no such conflict, so the read is run there.
_RECOVERY_CONFLICT = "40001"
# Class 42 (undefined column 42703, undefined table 42P01...): a replica not yet at the primary's
# migration. The primary has the schema the code expects, so the read is run there; the replica is
# not marked down (it is fine for every other read, and its next check would take it back anyway).
_SCHEMA_BEHIND = "42"


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


# A replica's host as a URL may give it: a name or IPv4 address, or an IPv6 one (brackets removed).
# An ``@`` in it is the rest of a password whose ``@`` was not percent-encoded.
_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.%]+")


def is_replica_url(url: str) -> bool:
    """Whether SQLAlchemy parses ``url`` as a PostgreSQL database on a plausible host and port (the
    settings' check: what names a replica in probes and metrics must be its host, not a password's
    piece)."""
    try:
        parsed = make_url(url)
        port = parsed.port
    except Exception:  # ValueError, ArgumentError: not a URL at all, or a port that is no number
        return False
    host = parsed.host
    if not parsed.drivername.startswith("postgresql"):
        return False
    if host is not None and not _HOST.fullmatch(host):
        return False
    return port is None or 0 < port < 65536


class Replica:
    """One replica: ``reader`` for the lone reads, ``probe`` (a pool of its own, one connection) for
    the health checks, which so never wait behind reads: a check queued behind a busy pool timed out
    and marked a healthy replica down."""

    __slots__ = ("lag", "name", "probe", "reader", "served", "state")

    def __init__(self, name: str, reader: PgReader, probe: PgReader | None = None) -> None:
        self.name = name
        self.reader = reader
        self.probe = probe if probe is not None else reader
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


class WalHistory:
    """Where the primary's WAL was, as the polls saw it move: (monotonic seconds, LSN), oldest first.

    A replica's lag is the age of the oldest position it has not replayed; 0 when it replayed the
    latest (an idle primary's WAL does not move, so a replica of an idle primary is never behind)."""

    __slots__ = ("_clock", "_horizon", "_seen")

    def __init__(self, horizon: float = HISTORY_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self._horizon = horizon
        self._clock = clock
        self._seen: deque[tuple[float, int]] = deque()

    def saw(self, lsn: int) -> None:
        now = self._clock()
        if not self._seen or lsn > self._seen[-1][1]:  # the first time a position was seen
            self._seen.append((now, lsn))
        while len(self._seen) > 1 and self._seen[0][0] < now - self._horizon:
            self._seen.popleft()

    def lag(self, replayed: int | None) -> float | None:
        """Seconds ``replayed`` is behind; None (unknown) before the primary's position is known."""
        if replayed is None or not self._seen:
            return None
        for moment, lsn in self._seen:
            if lsn > replayed:
                return self._clock() - moment
        return 0.0


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
        primary_probe: PgReader | None = None,
    ) -> None:
        self.primary = primary
        self.primary_probe = primary_probe if primary_probe is not None else primary
        self.wal = WalHistory(max(HISTORY_SECONDS, 4 * max_lag))
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
        if request is None or getattr(request, "background", False):  # retention, deliveries...
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
                fault = _replica_fault(error)
                if fault is None:
                    raise  # the statement's own failure: the primary would fail alike
                # The error's kind only: its text carries the statement and its parameters.
                log.warning("replica %s failed a read (%s): read on the primary", replica.name, _kind(error))
                if fault is _Fault.DOWN:
                    replica.fail()
            else:
                replica.served += 1
                return rows
        return await self.fetch_primary(sql, params)

    async def fetch_primary(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """A read on the primary whatever the replicas' state: for results a process remembers
        (``readers.Reads.fetch_primary``), which a replica not yet at a change would fill stale."""
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
                rows = await replica.probe.fetch(REPLICA_SQL, ())
        except Exception as error:  # any failure: not fit for reads until a check answers
            if replica.state is not ReplicaState.DOWN:
                log.warning("replica %s is down: %s", replica.name, type(error).__name__)
            replica.fail()
            return
        before = replica.state
        replica.judge(self._lag_of(rows[0]), self.max_lag)
        if replica.state is not before:
            log.info("replica %s is %s (lag %s s)", replica.name, replica.state, replica.lag)

    def _lag_of(self, row: Any) -> float | None:
        if not row["recovery"]:
            return 0.0
        if not row["receiving"]:
            return None
        return self.wal.lag(row["replayed"])

    async def note_primary(self) -> None:
        """Record where the primary's WAL is now; left out when the primary does not answer (the
        replicas are then judged against the positions seen before)."""
        try:
            async with asyncio.timeout(self._check_timeout):
                rows = await self.primary_probe.fetch(PRIMARY_LSN_SQL, ())
        except Exception as error:
            log.warning("the primary's WAL position is unknown: %s", type(error).__name__)
            return
        self.wal.saw(int(rows[0]["lsn"]))

    async def check_all(self) -> None:
        await self.note_primary()  # first: a replica is measured against a position read before it
        await asyncio.gather(*(self.check(replica) for replica in self.replicas))

    async def watch_forever(self, report: Report, interval: float = POLL_INTERVAL) -> None:
        """Check every replica each ``interval`` and hand the figures to ``report`` (metrics). A
        failure of an iteration is logged and the loop goes on: without it the replicas' states would
        freeze as they were, up or down, for the process's life."""
        while True:  # until the lifespan cancels it
            try:
                await self.check_all()
                report(self.statuses())
            except Exception:
                log.exception("replica health check failed")
            await asyncio.sleep(interval)

    def statuses(self) -> list[ReplicaStatus]:
        """The primary's figures first, then each replica's (what metrics show)."""
        primary = ReplicaStatus(PRIMARY, ReplicaState.UP, 0.0, self.primary_served)
        return [primary, *self.replica_statuses()]

    def replica_statuses(self) -> list[ReplicaStatus]:
        """Each replica's figures (what the readiness probe shows)."""
        return [replica.status() for replica in self.replicas]

    async def close(self) -> None:
        """Close every pool, each within ``CLOSE_TIMEOUT`` (then terminated): one that fails does
        not keep the others open."""
        readers = {id(reader): reader for reader in self._readers()}.values()
        outcomes = await asyncio.gather(*(_close(reader) for reader in readers), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                log.warning("a read pool failed to close: %s", type(outcome).__name__)

    def _readers(self) -> list[PgReader]:
        found = [self.primary, self.primary_probe]
        for replica in self.replicas:
            found += [replica.reader, replica.probe]
        return found


async def _close(reader: PgReader) -> None:
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await reader.close()
    except TimeoutError:
        reader.terminate()


_WRITERS = "repohub_writers"  # session.info key: the callers who wrote in the open transaction


AUDIT_TABLE = AuditRow.__tablename__


def _table_of(statement: Any) -> str | None:
    return getattr(getattr(statement, "table", None), "name", None)


def _forget(session: Session) -> None:
    session.info.pop(_WRITERS, None)


def _kind(error: BaseException) -> str:
    """The driver's own error class where SQLAlchemy wrapped one (``AdminShutdownError``...)."""
    return type(getattr(error, "orig", None) or error).__name__


class _Fault(enum.Enum):
    DOWN = "down"  # the replica is not fit for reads until a check answers
    BUSY = "busy"  # this read only: no free connection in time, or a schema behind the primary's


def _replica_fault(error: BaseException) -> _Fault | None:
    """A failure of the replica rather than of the statement (None): the read is run on the primary.
    A pool's acquire timeout says the pool is busy, not that the replica is down."""
    if isinstance(error, PoolTimeout):
        return _Fault.BUSY
    if is_unavailable(error):
        return _Fault.DOWN
    sqlstate = getattr(error.orig, "sqlstate", None) if isinstance(error, DBAPIError) else None
    if not isinstance(sqlstate, str):
        return None
    if sqlstate == _RECOVERY_CONFLICT:
        return _Fault.DOWN
    return _Fault.BUSY if sqlstate.startswith(_SCHEMA_BEHIND) else None
