"""The audit trail: every write statement a unit of work commits, with who, when and from where.

Recorded by session events, so that no write can forget it: each INSERT, UPDATE or DELETE the
service's stores run (and each ORM flush) queues an entry, and the entries are inserted just before
the transaction commits, in the same transaction: a rolled-back write leaves no trace, a committed one
always does. Who and from where come from the ``actor`` the session class was made with (the app
passes its request context: the caller the service bound, the client address, the request id);
outside a request (the CLI) the source is "cli". The recorder is installed on a session class per
sessionmaker (``audited_session_class``, used by ``store.engine.create_sessionmaker``).

Only identifying values are kept (names, ids, roles, kinds, flags): never passwords, token digests,
secrets or descriptions.

Besides the statements, a use case may record what it saw but did not do (``AuditStore.record``):
the event sink's "tag.immutable_overwritten", a protected tag moved in a registry reached behind the
proxy. Such an entry is written in the use case's transaction, so it stands or falls with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql import ClauseElement

from repohub.domain.clock import utcnow
from repohub.store.session import LazySession
from repohub.store.tables import AuditRow

__all__ = ["UNAUDITED", "Actor", "ActorOf", "AuditEntry", "AuditStore", "audited_session_class"]

# Tables whose writes are bookkeeping, not anybody's action (a retention run's tag deletes are audited;
# its log of them is not a second record; webhook deliveries and their attempts are the outbox's own).
_SKIP_TABLES = frozenset(
    {
        "audit_log",
        "registry_events",
        "alembic_version",
        "retention_log",
        "schedules",
        "webhook_deliveries",
        "webhook_jobs",
    }
)
_SAFE_KEYS = frozenset(
    {
        "id",
        "name",
        "username",
        "namespace_id",
        "repository_id",
        "user_id",
        "role",
        "kind",
        "is_public",
        "is_admin",
        "category",
        "tag",
        "digest",
        "revoked_at",
        "expires_at",
        # robot accounts: which one, and what it may do (its patterns are names, not secrets)
        "robot_id",
        "action",
        "pattern",
        "is_disabled",
    }
)
_SUFFIX = re.compile(r"_\d+$")
_PENDING = "repohub_audit"
# Execution options of a write that is bookkeeping on an audited table (a credential's last use).
UNAUDITED = {"repohub_unaudited": True}


def _describe(values: Mapping[str, Any]) -> str:
    kept: dict[str, Any] = {}
    for key, value in values.items():
        plain = _SUFFIX.sub("", key)
        if plain in _SAFE_KEYS and plain not in kept and not isinstance(value, (list, tuple, dict)):
            kept[plain] = value.isoformat() if isinstance(value, datetime) else value
    return " ".join(f"{key}={value}" for key, value in sorted(kept.items()))


class Actor(Protocol):
    """Who writes, and from where (the request context's fields; ``observability.context``)."""

    @property
    def user(self) -> str | None: ...
    @property
    def client(self) -> str: ...
    @property
    def request_id(self) -> str: ...


ActorOf = Callable[[], Actor | None]


def _nobody() -> Actor | None:
    return None


def audited_session_class(actor: ActorOf = _nobody) -> type[Session]:
    """A session class of its own whose writes are recorded, the actor of each being ``actor()``
    when the write runs (None: outside a request, recorded as source "cli"). One class per
    sessionmaker rather than listeners on SQLAlchemy's global ``Session``: two apps in one process
    (tests) each record through their own, and sessions made elsewhere record nothing."""

    class AuditedSession(Session):
        pass

    recorder = _Recorder(actor)
    event.listen(AuditedSession, "do_orm_execute", recorder.on_execute)
    event.listen(AuditedSession, "after_flush", recorder.on_flush)
    event.listen(AuditedSession, "before_commit", _on_commit)
    event.listen(AuditedSession, "after_rollback", _on_rollback)
    return AuditedSession


def _statement_params(state: ORMExecuteState) -> dict[str, Any]:
    statement = state.statement
    if isinstance(statement, ClauseElement):  # an INSERT, UPDATE or DELETE always is (typing)
        return dict(statement.compile().params)
    return {}


def _given_rows(state: ORMExecuteState) -> list[Mapping[str, Any]]:
    """The rows passed with the statement (an executemany's list, or one mapping), if any."""
    given = state.parameters
    return given if isinstance(given, list) else [given] if isinstance(given, Mapping) else []


def _table_of(statement: Any) -> str | None:
    table = getattr(statement, "table", None)
    return getattr(table, "name", None)


class _Recorder:
    def __init__(self, actor: ActorOf) -> None:
        self._actor = actor

    def _queue(self, session: Session, action: str, target: str) -> None:
        request = self._actor()
        entry = {
            "at": utcnow(),
            "actor": request.user if request else None,
            "action": action[:64],
            "target": target[:2000],
            "source": (request.client if request else "cli")[:64],
            "request_id": (request.request_id if request else "")[:128],
        }
        session.info.setdefault(_PENDING, []).append(entry)

    def on_execute(self, state: ORMExecuteState) -> None:
        if not (state.is_insert or state.is_update or state.is_delete):
            return
        if state.execution_options.get("repohub_unaudited"):
            return
        table = _table_of(state.statement)
        if table is None or table in _SKIP_TABLES:
            return
        verb = "insert" if state.is_insert else "update" if state.is_update else "delete"
        params = _statement_params(state)
        for row in _given_rows(state) or [{}]:
            self._queue(state.session, f"{verb} {table}", _describe({**params, **row}))

    def on_flush(self, session: Session, _flush: UOWTransaction) -> None:
        for verb, objects in (
            ("insert", session.new),
            ("update", session.dirty),
            ("delete", session.deleted),
        ):
            for obj in objects:
                table = getattr(getattr(obj, "__table__", None), "name", None)
                if table is None or table in _SKIP_TABLES:
                    continue
                values = {key: getattr(obj, key, None) for key in _SAFE_KEYS if hasattr(obj, key)}
                self._queue(session, f"{verb} {table}", _describe(values))


def _on_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.execute(insert(AuditRow), pending)


def _on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# (actor, action, target, source): an entry a use case records itself (``AuditStore.record``).
AuditEntry = tuple[str | None, str, str, str]


class AuditStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Entries of things seen rather than done, in one statement, in the current transaction.

        ``actor`` is whom the entry names (a registry event's pusher), ``source`` where it was seen;
        the target says what, with identifying values only (module doc)."""
        if not entries:
            return
        now = utcnow()
        rows = [
            {
                "at": now,
                "actor": actor[:64] if actor else None,
                "action": action[:64],
                "target": target[:2000],
                "source": source[:64],
                "request_id": "",
            }
            for actor, action, target, source in entries
        ]
        await self._session.execute(insert(AuditRow), rows)

    async def since(self, moment: datetime | None, *, limit: int = 1000) -> list[dict[str, Any]]:
        query = select(AuditRow).order_by(AuditRow.at, AuditRow.id).limit(limit)
        if moment is not None:
            query = query.where(AuditRow.at >= moment)
        rows = (await self._session.execute(query)).scalars()
        return [
            {
                "at": row.at.isoformat(),
                "actor": row.actor,
                "action": row.action,
                "target": row.target,
                "source": row.source,
                "request_id": row.request_id,
            }
            for row in rows
        ]
