"""SQL behind webhooks: the hooks of namespaces, and the facts an outbox write reads.

The hot statement is :meth:`WebhookStore.subscribers`, run by every event envelope that changes
something: the enabled hooks of a few namespaces (by name), each with its creator's site-admin flag
and membership role in the hook's namespace, in one statement over ``ix_webhooks_namespace_id``. A
namespace without hooks costs one index probe.

:meth:`WebhookStore.attempts_of` reads the attempts of a listing of deliveries (``repohub hooks
deliveries``) in one statement whatever its length: the ids are one parameter (an array on
PostgreSQL, JSON for SQLite's ``json_each``), never a bound parameter each (asyncpg allows 32,767).

Secrets (``secret``, ``auth_header``) are stored as the domain hands them over: sealed
(``auth.secrets.SecretBox``); this module never sees them in clear.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, and_, any_, bindparam, delete, func, insert, select, tuple_, update

from repohub.domain.clock import utcnow
from repohub.domain.entities import Page, Role
from repohub.domain.immutability.rules import Selector
from repohub.domain.webhooks.hooks import Hook, HookSpec, Job, Scope, Subscriber, join_events, split_events
from repohub.store.session import LazySession
from repohub.store.tables import (
    MembershipRow,
    NamespaceRow,
    RepositoryRow,
    UserRow,
    WebhookDeliveryRow,
    WebhookJobRow,
    WebhookRow,
)

__all__ = ["AttemptInfo", "HookQuery", "WebhookStore"]

_COLUMNS = (
    WebhookRow.id,
    WebhookRow.namespace_id,
    NamespaceRow.name,
    WebhookRow.format,
    WebhookRow.url,
    WebhookRow.events,
    WebhookRow.name,
    WebhookRow.description,
    WebhookRow.enabled,
    WebhookRow.repository,
    WebhookRow.scope,
    WebhookRow.secret,
    WebhookRow.auth_header,
    WebhookRow.skip_cert_verify,
    WebhookRow.address_type,
    WebhookRow.creator,
    WebhookRow.created_at,
    WebhookRow.updated_at,
)

_ORDERS = {"created_at": WebhookRow.created_at, "updated_at": WebhookRow.updated_at, "name": WebhookRow.name}


@dataclass(frozen=True, slots=True)
class HookQuery:
    """A page of hooks: of the namespaces ``namespace_ids`` (None: every one), ``name`` a fuzzy
    filter (substring, case-insensitive), ordered by ``order`` (created_at, updated_at, name)."""

    namespace_ids: Collection[int] | None = None
    name: str | None = None
    repository: str | None = None  # exactly this Alauda subject repository ("" : namespace-wide)
    order: str = "created_at"
    descending: bool = True
    offset: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class AttemptInfo:
    """One attempt of a delivery as ``repohub hooks deliveries`` shows it: its job's ``status``
    (Succeed, Failed), ``status_text`` (the status code or the error), ``response_code``, how long
    it took and when it was made."""

    status: str
    status_text: str
    response_code: int | None
    duration_ms: int
    at: datetime


def scope_to_json(scope: Scope | None) -> str | None:
    if scope is None:
        return None
    return json.dumps(
        {
            "repository": [scope.repository.decoration, scope.repository.pattern],
            "tag": [scope.tag.decoration, scope.tag.pattern],
            "repo_scope_mode": scope.repo_scope_mode,
        },
        separators=(",", ":"),
    )


def scope_from_json(text: str | None) -> Scope | None:
    if text is None:
        return None
    data = json.loads(text)
    return Scope(
        Selector(*data["repository"]), Selector(*data["tag"]), data.get("repo_scope_mode", "regular")
    )


def _hook(row: Any) -> Hook:
    spec = HookSpec(
        format=row[3],
        url=row[4],
        events=split_events(row[5]),
        name=row[6],
        description=row[7],
        enabled=row[8],
        repository=row[9],
        scope=scope_from_json(row[10]),
        secret=row[11],
        auth_header=row[12],
        skip_cert_verify=row[13],
        address_type=row[14],
    )
    return Hook(row[0], row[1], row[2], spec, row[15], row[16], row[17])


def _values(spec: HookSpec) -> dict[str, Any]:
    return {
        "format": spec.format,
        "url": spec.url,
        "events": join_events(spec.events),
        "name": spec.name,
        "description": spec.description,
        "enabled": spec.enabled,
        "repository": spec.repository,
        "scope": scope_to_json(spec.scope),
        "secret": spec.secret,
        "auth_header": spec.auth_header,
        "skip_cert_verify": spec.skip_cert_verify,
        "address_type": spec.address_type,
    }


_JOB_COLUMNS = (
    WebhookJobRow.id,
    WebhookJobRow.hook_id,
    WebhookDeliveryRow.delivery_id,
    WebhookJobRow.action,
    WebhookJobRow.status,
    WebhookJobRow.status_text,
    WebhookJobRow.response_code,
    WebhookJobRow.duration_ms,
    WebhookDeliveryRow.event,
    WebhookJobRow.created_at,
)


def _job(row: Any) -> Job:
    return Job(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])


def _joined() -> Any:
    return select(*_COLUMNS).join(NamespaceRow, NamespaceRow.id == WebhookRow.namespace_id)


class WebhookStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def add(self, namespace_id: int, spec: HookSpec, *, creator_id: int | None, creator: str) -> int:
        now = utcnow()
        statement = (
            insert(WebhookRow)
            .values(
                namespace_id=namespace_id,
                creator_id=creator_id,
                creator=creator,
                created_at=now,
                updated_at=now,
                **_values(spec),
            )
            .returning(WebhookRow.id)
        )
        return int((await self._session.execute(statement)).scalar_one())

    async def get(self, hook_id: int, *, namespace_id: int | None = None) -> Hook | None:
        statement = _joined().where(WebhookRow.id == hook_id)
        if namespace_id is not None:
            statement = statement.where(WebhookRow.namespace_id == namespace_id)
        row = (await self._session.execute(statement)).first()
        return _hook(row) if row is not None else None

    async def by_ids(self, hook_ids: Collection[int]) -> dict[int, Hook]:
        """These hooks by id, secrets as stored (sealed): what the delivery workers render with."""
        if not hook_ids:
            return {}
        rows = (await self._session.execute(_joined().where(WebhookRow.id.in_(list(hook_ids))))).all()
        return {hook.id: hook for hook in map(_hook, rows)}

    async def update(self, hook_id: int, spec: HookSpec, *, namespace_id: int) -> bool:
        """Replace what the hook says; False when there is no such hook in the namespace."""
        statement = (
            update(WebhookRow)
            .where(WebhookRow.id == hook_id, WebhookRow.namespace_id == namespace_id)
            .values(updated_at=utcnow(), **_values(spec))
        )
        return bool((await self._session.execute(statement)).rowcount)

    async def delete(self, hook_id: int, *, namespace_id: int) -> bool:
        statement = delete(WebhookRow).where(
            WebhookRow.id == hook_id, WebhookRow.namespace_id == namespace_id
        )
        return bool((await self._session.execute(statement)).rowcount)

    async def page(self, query: HookQuery) -> Page[Hook]:
        conditions: list[Any] = []
        if query.namespace_ids is not None:
            conditions.append(WebhookRow.namespace_id.in_(list(query.namespace_ids)))
        if query.name:
            conditions.append(func.lower(WebhookRow.name).contains(query.name.lower(), autoescape=True))
        if query.repository is not None:
            conditions.append(
                WebhookRow.repository.is_(None)
                if query.repository == ""
                else WebhookRow.repository == query.repository
            )
        column = _ORDERS[query.order]
        ordering = (
            (column.desc(), WebhookRow.id.desc()) if query.descending else (column.asc(), WebhookRow.id)
        )
        statement = _joined().where(and_(True, *conditions))
        total = (
            await self._session.execute(
                select(func.count()).select_from(WebhookRow).where(and_(True, *conditions))
            )
        ).scalar_one()
        rows = (
            await self._session.execute(statement.order_by(*ordering).offset(query.offset).limit(query.limit))
        ).all()
        return Page(
            items=[_hook(row) for row in rows], total=int(total), offset=query.offset, limit=query.limit
        )

    async def jobs(self, hook_id: int, offset: int, limit: int, status: str | None = None) -> Page[Job]:
        """The hook's delivery attempts, newest first (``ix_webhook_jobs_hook_id_id``), each with its
        delivery's id and event; ``status`` narrows them to one status."""
        conditions: list[Any] = [WebhookJobRow.hook_id == hook_id]
        if status is not None:
            conditions.append(WebhookJobRow.status == status)
        total = (
            await self._session.execute(select(func.count()).select_from(WebhookJobRow).where(*conditions))
        ).scalar_one()
        statement = (
            select(*_JOB_COLUMNS)
            .join(WebhookDeliveryRow, WebhookDeliveryRow.id == WebhookJobRow.delivery_id)
            .where(*conditions)
            .order_by(WebhookJobRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        rows = (await self._session.execute(statement)).all()
        return Page(items=[_job(row) for row in rows], total=int(total), offset=offset, limit=limit)

    async def attempts_of(self, delivery_ids: Collection[str]) -> dict[str, list[AttemptInfo]]:
        """The attempts of these deliveries (by their ``X-Repohub-Delivery`` id), oldest first, in one
        statement (module doc); a delivery without attempts is left out."""
        if not delivery_ids:
            return {}
        jobs = WebhookJobRow
        statement = (
            select(
                WebhookDeliveryRow.delivery_id,
                jobs.status,
                jobs.status_text,
                jobs.response_code,
                jobs.duration_ms,
                jobs.created_at,
            )
            .join(WebhookDeliveryRow, WebhookDeliveryRow.id == jobs.delivery_id)
            .where(self._among(WebhookDeliveryRow.delivery_id, delivery_ids))
            .order_by(jobs.id)
        )
        found: dict[str, list[AttemptInfo]] = {}
        for row in (await self._session.execute(statement)).all():
            found.setdefault(row[0], []).append(AttemptInfo(*row[1:]))
        return found

    def _among(self, column: Any, values: Collection[str]) -> Any:
        """``column`` is one of ``values``, as one parameter (module doc)."""
        if self._session.dialect == "postgresql":
            return column == any_(bindparam("values", list(values), type_=ARRAY(String())))
        wanted = func.json_each(bindparam("values", json.dumps(list(values)))).table_valued("value")
        return column.in_(select(wanted.c.value))

    async def subscribers(self, namespace_names: Iterable[str]) -> list[Subscriber]:
        """The enabled hooks of these namespaces, with what their creators may read (module doc)."""
        names = sorted(set(namespace_names))
        if not names:
            return []
        statement = (
            _joined()
            .add_columns(UserRow.is_admin, MembershipRow.role)
            .outerjoin(UserRow, UserRow.id == WebhookRow.creator_id)
            .outerjoin(
                MembershipRow,
                and_(
                    MembershipRow.namespace_id == WebhookRow.namespace_id,
                    MembershipRow.user_id == WebhookRow.creator_id,
                ),
            )
            .where(NamespaceRow.name.in_(names), WebhookRow.enabled.is_(True))
            .order_by(WebhookRow.id)
        )
        rows = (await self._session.execute(statement)).all()
        return [
            Subscriber(_hook(row), bool(row[-2]), Role(row[-1]) if row[-1] is not None else None)
            for row in rows
        ]

    async def publicity(self, repositories: Collection[tuple[str, str]]) -> dict[tuple[str, str], bool]:
        """Whether each (namespace, repository) is public; missing ones are left out."""
        if not repositories:
            return {}
        statement = (
            select(NamespaceRow.name, RepositoryRow.name, RepositoryRow.is_public)
            .join(NamespaceRow, NamespaceRow.id == RepositoryRow.namespace_id)
            .where(tuple_(NamespaceRow.name, RepositoryRow.name).in_(list(repositories)))
        )
        rows = (await self._session.execute(statement)).all()
        return {(row[0], row[1]): bool(row[2]) for row in rows}
