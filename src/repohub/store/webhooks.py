"""SQL behind webhooks: the hooks of namespaces, and the facts an outbox write reads.

The hot statement is :meth:`WebhookStore.subscribers`, run by every event envelope that changes
something: the enabled hooks of a few namespaces (by name), each with its creator's site-admin flag
and membership role in the hook's namespace, in one statement over ``ix_webhooks_namespace_id``. A
namespace without hooks costs one index probe.

Secrets (``secret``, ``auth_header``) are stored as the domain hands them over: sealed
(``auth.secrets.SecretBox``); this module never sees them in clear.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, tuple_, update

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

__all__ = ["HookQuery", "WebhookStore"]

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
