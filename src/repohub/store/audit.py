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

Each entry carries the namespace the write belongs to (``audit_log.namespace_id``, what SWR's audit
log shows a namespace admin), where one does, at no extra round trip for almost every write: a
statement naming ``namespace_id`` gives it (a namespace's own rows: its ``id``), one naming a
repository (``repository_id``; a repository's own rows: ``id``) or a robot (``robot_id``; a robot's
rows: ``id``) has it looked up inside the commit's one INSERT of the entries, by a subquery per
entry. Two kinds of write pay a lookup of their own, a primary-key read before the statement (not
measured; they are rare, deliberate operations): a DELETE of a repository or a robot (at commit the
row is gone; the answer also serves the writes of the same transaction that named it, its tags and
stars), and a write of a row that names neither, only its own id (a retention policy, a rule, a
hook, a repository grant or share changed by id). A repository share's ``namespace_id`` is the
namespace it is shared *with*: its entry belongs to the repository's namespace. Writes of no
namespace (users, credentials) carry none: a site admin's audit log alone shows them.

Besides the statements, a use case may record what it saw but did not do (``AuditStore.record``):
the event sink's "tag.immutable_overwritten", a protected tag moved in a registry reached behind the
proxy. Such an entry is written in the use case's transaction, so it stands or falls with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import BigInteger, Insert, and_, bindparam, event, func, insert, or_, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql import ClauseElement

from repohub.domain.clock import utcnow
from repohub.store.session import LazySession
from repohub.store.tables import (
    AuditRow,
    ImmutableRuleRow,
    NamespaceRow,
    RepositoryGrantRow,
    RepositoryRow,
    RepositoryShareRow,
    RetentionRow,
    RobotRow,
    WebhookRow,
)

__all__ = [
    "UNAUDITED",
    "Actor",
    "ActorOf",
    "AuditEntry",
    "AuditRecord",
    "AuditStore",
    "audited_session_class",
    "learn_namespaces",
]

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
        # credentials: how one was issued ("long-term", ...) and when it was disabled
        "origin",
        "disabled_at",
        # repository shares, robots and their grants
        "permit",
        "is_disabled",
        "robot_id",
        "action",
        "pattern",
    }
)
_SUFFIX = re.compile(r"_\d+$")
_PENDING = "repohub_audit"
_KNOWN = "repohub_audit_namespaces"  # (parent table, id) → namespace id, learnt in the transaction
# Execution options of a write that is bookkeeping on an audited table (a credential's last use).
UNAUDITED = {"repohub_unaudited": True}

# -- the namespace of an entry (module doc) ---------------------------------------------------------
# A table whose ``namespace_id`` is not the namespace its rows belong to (a share's is the grantee).
_NOT_OWNER = frozenset({"repository_shares"})
# A table whose own ``id`` says where its rows belong: the namespace itself, or a parent.
_OWN_ID = {"namespaces": "namespace_id", "repositories": "repository_id", "robots": "robot_id"}
_PLACING = frozenset({"id", "namespace_id", "repository_id", "robot_id"})


def _through_repository(table: Any) -> Any:
    return (
        select(RepositoryRow.namespace_id)
        .join(table, table.repository_id == RepositoryRow.id)
        .where(table.id == bindparam("id"))
    )


# The namespace of a row by its id, read before the statement: the parents' DELETEs, and the writes
# of rows that name neither a namespace nor a repository.
_LOOKUPS: dict[str, Any] = {
    "repositories": select(RepositoryRow.namespace_id).where(RepositoryRow.id == bindparam("id")),
    "robots": select(RobotRow.namespace_id).where(RobotRow.id == bindparam("id")),
    "immutable_rules": select(ImmutableRuleRow.namespace_id).where(ImmutableRuleRow.id == bindparam("id")),
    "webhooks": select(WebhookRow.namespace_id).where(WebhookRow.id == bindparam("id")),
    "retentions": _through_repository(RetentionRow),
    "repository_grants": _through_repository(RepositoryGrantRow),
    "repository_shares": _through_repository(RepositoryShareRow),
}
_PARENTS = frozenset(_OWN_ID) - {"namespaces"}
_REFS = ("repository_ref", "robot_ref")


def _describe(values: Mapping[str, Any]) -> str:
    kept: dict[str, Any] = {}
    for key, value in values.items():
        plain = _SUFFIX.sub("", key)
        if plain in _SAFE_KEYS and plain not in kept and not isinstance(value, (list, tuple, dict)):
            kept[plain] = value.isoformat() if isinstance(value, datetime) else value
    return " ".join(f"{key}={value}" for key, value in sorted(kept.items()))


def _ids(values: Mapping[str, Any]) -> dict[str, int]:
    """The first integer given for each of the keys that place a row (a statement's parameters carry
    suffixes: ``id_1``); lists (``IN``) place nothing."""
    found: dict[str, int] = {}
    for key, value in values.items():
        plain = _SUFFIX.sub("", key)
        placing = plain in _PLACING and plain not in found
        if placing and isinstance(value, int) and not isinstance(value, bool):
            found[plain] = value
    return found


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a write belongs: its namespace, or the repository or robot that has one; its own id."""

    namespace_id: int | None
    repository_ref: int | None
    robot_ref: int | None
    own_id: int | None

    @property
    def placed(self) -> bool:
        return self.namespace_id is not None or self.repository_ref is not None or self.robot_ref is not None


def _place(table: str, values: Mapping[str, Any]) -> _Place:
    ids = _ids(values)
    own = _OWN_ID.get(table)
    if own is not None and own not in ids and "id" in ids:
        ids[own] = ids["id"]
    if table in _NOT_OWNER:
        ids.pop("namespace_id", None)
    return _Place(ids.get("namespace_id"), ids.get("repository_id"), ids.get("robot_id"), ids.get("id"))


def _known(session: Session) -> dict[tuple[str, int], int | None]:
    known: dict[tuple[str, int], int | None] = session.info.setdefault(_KNOWN, {})
    return known


def _looked_up(session: Session, verb: str, table: str, place: _Place) -> int | None:
    """The namespace of a write its values do not settle by the commit (module doc), read now, before
    the statement runs; None when none is needed or there is none."""
    own_id = place.own_id
    if own_id is None or table not in _LOOKUPS:
        return None
    parent_gone = verb == "delete" and table in _PARENTS
    if parent_gone and place.namespace_id is not None:
        _known(session)[(table, own_id)] = place.namespace_id
        return place.namespace_id
    if not parent_gone and place.placed:
        return None
    found = session.execute(_LOOKUPS[table], {"id": own_id}).scalar()
    namespace_id = int(found) if found is not None else None
    if table in _PARENTS:
        _known(session)[(table, own_id)] = namespace_id
    return namespace_id


def learn_namespaces(session: LazySession, repositories: Mapping[int, int]) -> None:
    """The namespaces of repositories (by id) a store read inside the transaction: the entries of
    its writes that name them need no lookup at the commit."""
    made = session.made
    if made is None or not repositories:
        return
    known: dict[tuple[str, int], int | None] = made.info.setdefault(_KNOWN, {})
    for repository_id, namespace_id in repositories.items():
        known[("repositories", repository_id)] = namespace_id


def _settled(entry: dict[str, Any], known: Mapping[tuple[str, int], int | None]) -> bool:
    """Fill in the entry's namespace from what the transaction learnt; whether it needs no subquery."""
    for ref, table in zip(_REFS, ("repositories", "robots"), strict=True):
        parent = entry[ref]
        if entry["namespace_id"] is None and parent is not None and (table, parent) in known:
            entry["namespace_id"] = known[(table, parent)]
    if entry["namespace_id"] is not None:
        entry["repository_ref"] = entry["robot_ref"] = None
    return entry["repository_ref"] is None and entry["robot_ref"] is None


def _entries_insert() -> Insert:
    """The INSERT of a commit's entries, each namespace found by its repository or robot when the
    entry names one instead: the lookup rides on the INSERT, no round trip of its own."""
    columns = AuditRow.__table__.c
    values: dict[str, Any] = {
        name: bindparam(name, type_=columns[name].type)
        for name in ("at", "actor", "action", "target", "source", "request_id")
    }
    by_repository = select(RepositoryRow.namespace_id).where(
        RepositoryRow.id == bindparam("repository_ref", type_=BigInteger)
    )
    by_robot = select(RobotRow.namespace_id).where(RobotRow.id == bindparam("robot_ref", type_=BigInteger))
    values["namespace_id"] = func.coalesce(
        bindparam("namespace_id", type_=BigInteger),
        by_repository.scalar_subquery(),
        by_robot.scalar_subquery(),
    )
    return insert(AuditRow).values(values)


_ENTRIES_INSERT = _entries_insert()
# An entry a use case records names its repository as ``repository=<namespace>/<name>``.
_NAMED_REPOSITORY = re.compile(r"(?:^|\s)repository=([^/\s]+)/")
_SEEN_INSERT = insert(AuditRow).values(
    namespace_id=select(NamespaceRow.id)
    .where(NamespaceRow.name == bindparam("of_namespace"))
    .scalar_subquery()
)


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

    def _queue(self, session: Session, action: str, target: str, place: _Place) -> None:
        request = self._actor()
        entry = {
            "at": utcnow(),
            "actor": request.user if request else None,
            "action": action[:64],
            "target": target[:2000],
            "source": (request.client if request else "cli")[:64],
            "request_id": (request.request_id if request else "")[:128],
            "namespace_id": place.namespace_id,
            "repository_ref": place.repository_ref,
            "robot_ref": place.robot_ref,
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
            values = {**params, **row}
            place = _place(table, values)
            looked_up = _looked_up(state.session, verb, table, place)
            if looked_up is not None:
                place = _Place(looked_up, None, None, place.own_id)
            self._queue(state.session, f"{verb} {table}", _describe(values), place)

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
                # No lookup inside a flush: an ORM-written row (a namespace) places itself.
                self._queue(session, f"{verb} {table}", _describe(values), _place(table, values))


def _on_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    known = session.info.pop(_KNOWN, None) or {}
    if not pending:
        return
    if all([_settled(entry, known) for entry in pending]):
        session.execute(insert(AuditRow), [_without_refs(entry) for entry in pending])
    else:
        session.execute(_ENTRIES_INSERT, pending)


def _without_refs(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if key not in _REFS}


def _on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_KNOWN, None)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry of the trail as a list shows it (SWR's audit log)."""

    id: int
    at: datetime
    actor: str | None
    action: str  # "insert repositories", ..., or what a use case saw ("tag.immutable_overwritten")
    target: str
    source: str
    namespace_id: int | None


def _record(row: AuditRow) -> AuditRecord:
    return AuditRecord(row.id, row.at, row.actor, row.action, row.target, row.source, row.namespace_id)


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
                "of_namespace": named.group(1) if (named := _NAMED_REPOSITORY.search(target)) else None,
            }
            for actor, action, target, source in entries
        ]
        # The namespace an entry names (``repository=<namespace>/<name>``) found by the INSERT itself.
        await self._session.execute(_SEEN_INSERT, rows)

    async def page(
        self, *, namespaces: Sequence[tuple[int, datetime]] | None, verb: str | None, offset: int, limit: int
    ) -> tuple[list[AuditRecord], int]:
        """Entries newest first, and how many there are: of these namespaces, each from the time
        given on (None: every entry, those of no namespace included), of statements of this ``verb``
        (insert, update, delete; None: any). The total counts what matches: on a long trail
        unnarrowed, a count of all of it."""
        conditions: list[Any] = []
        if namespaces is not None:
            conditions.append(
                or_(*(and_(AuditRow.namespace_id == id_, AuditRow.at >= since) for id_, since in namespaces))
            )
        if verb is not None:
            conditions.append(AuditRow.action.startswith(f"{verb} "))
        query = select(AuditRow).where(*conditions).order_by(AuditRow.id.desc()).offset(offset).limit(limit)
        rows = (await self._session.execute(query)).scalars().all()
        counted = select(func.count()).select_from(AuditRow).where(*conditions)
        total = (await self._session.execute(counted)).scalar_one()
        return [_record(row) for row in rows], int(total)

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
