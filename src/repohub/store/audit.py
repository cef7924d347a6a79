"""The audit trail: every write statement a unit of work commits, with who, when and from where.

Recorded by session events, so that no write can forget it: each INSERT, UPDATE or DELETE the
service's stores run (and each ORM flush) queues an entry, and the entries are inserted just before
the transaction commits, in the same transaction: a rolled-back write leaves no trace, a committed one
always does. Who and from where come from the request context (the caller the service bound, the
client address, the request id); outside a request (the CLI) the source is "cli".

Only identifying values are kept (names, ids, roles, kinds, flags): never passwords, token digests,
secrets or descriptions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import UpdateBase

from repohub.observability import context
from repohub.store.session import LazySession
from repohub.store.tables import AuditRow, utcnow

# Tables whose writes are bookkeeping, not anybody's action.
_SKIP_TABLES = frozenset({"audit_log", "registry_events", "alembic_version"})
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


def _queue(session: Session, action: str, target: str) -> None:
    request = context.current()
    entry = {
        "at": utcnow(),
        "actor": request.user if request else None,
        "action": action[:64],
        "target": target[:2000],
        "source": (request.client if request else "cli")[:64],
        "request_id": (request.request_id if request else "")[:128],
    }
    session.info.setdefault(_PENDING, []).append(entry)


def _table_of(statement: Any) -> str | None:
    table = getattr(statement, "table", None)
    return getattr(table, "name", None)


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    # is_insert/is_update/is_delete mean the statement is DML; the isinstance says so to mypy too
    # (an Executable has no compile()).
    if not (state.is_insert or state.is_update or state.is_delete) or not isinstance(
        state.statement, UpdateBase
    ):
        return
    if state.execution_options.get("repohub_unaudited"):
        return
    table = _table_of(state.statement)
    if table is None or table in _SKIP_TABLES:
        return
    verb = "insert" if state.is_insert else "update" if state.is_update else "delete"
    params: dict[str, Any] = {}
    compiled = state.statement.compile()
    params.update(compiled.params)
    given = state.parameters
    rows: Iterable[Mapping[str, Any]] = (
        given if isinstance(given, list) else [given] if isinstance(given, Mapping) else []
    )
    batch = list(rows)
    if batch:
        for row in batch:
            _queue(state.session, f"{verb} {table}", _describe({**params, **row}))
    else:
        _queue(state.session, f"{verb} {table}", _describe(params))


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _flush: UOWTransaction) -> None:
    for verb, objects in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
        for obj in objects:
            table = getattr(getattr(obj, "__table__", None), "name", None)
            if table is None or table in _SKIP_TABLES:
                continue
            values = {key: getattr(obj, key, None) for key in _SAFE_KEYS if hasattr(obj, key)}
            _queue(session, f"{verb} {table}", _describe(values))


@event.listens_for(Session, "before_commit")
def _on_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.execute(insert(AuditRow), pending)


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


class AuditStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

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
