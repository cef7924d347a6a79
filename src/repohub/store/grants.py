"""Repository grants (a user's role on one repository) and shares (a repository shared with another
namespace until a deadline): their rows, and the pages of shared repositories SWR lists.

Each write of grants is one statement whatever the number of users (a list of rows executed at
once): each row is then its own audit entry with its repository, user and role (``store.audit``),
which an ``IN (...)`` list would not be.

Which rows a caller may see or change is the policy's (``domain.access``); the pages here apply the
one fact SWR's lists are about, which side of a share the caller is on (``SharedBy``), over the
caller's memberships: repositories of its namespaces that are shared (every shared one for a site
admin), or repositories shared with one of its namespaces and not expired at ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased
from sqlalchemy.util.typing import TupleAny

from repohub.domain.access_records import RepositoryGrant, Share, ShareChanges, SharedBy, SharedQuery
from repohub.domain.clock import utcnow
from repohub.domain.entities import Page, RepositorySummary, Role
from repohub.domain.queries import RepoOrder, Visibility
from repohub.store.accounts import _USER_COLUMNS, user_from_row
from repohub.store.session import LazySession
from repohub.store.tables import (
    MembershipRow,
    NamespaceRow,
    RepositoryGrantRow,
    RepositoryRow,
    RepositoryShareRow,
    TagRow,
    UserRow,
)

__all__ = ["GrantStore", "ShareStore"]


_GRANTS = cast(Table, RepositoryGrantRow.__table__)  # Core: statements executed with a list of rows
# A list of rows for one statement: SQLAlchemy reserves the columns' own names for the SET clause,
# so the parameters are named as it names its own ("user_id_1"), which the audit trail reads as the
# column's (``store.audit``).
_CHANGE = (
    update(_GRANTS)
    .where(
        _GRANTS.c.repository_id == bindparam("repository_id_1"), _GRANTS.c.user_id == bindparam("user_id_1")
    )
    .values(role=bindparam("role_1"))
)
_REMOVE = delete(_GRANTS).where(
    _GRANTS.c.repository_id == bindparam("repository_id_1"), _GRANTS.c.user_id == bindparam("user_id_1")
)


def _numbered(repository_id: int, user_id: int, role: Role | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"repository_id_1": repository_id, "user_id_1": user_id}
    if role is not None:
        row["role_1"] = role.value
    return row


class GrantStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def of_repository(self, repository_id: int) -> list[RepositoryGrant]:
        """The repository's grants with their users, by username."""
        result = await self._session.execute(
            select(*_USER_COLUMNS, RepositoryGrantRow.role)
            .join(RepositoryGrantRow, RepositoryGrantRow.user_id == UserRow.id)
            .where(RepositoryGrantRow.repository_id == repository_id)
            .order_by(UserRow.username)
        )
        return [
            RepositoryGrant(repository_id=repository_id, user=user_from_row(row), role=Role(row["role"]))
            for row in result.mappings()
        ]

    async def roles(self, repository_id: int, user_ids: Sequence[int]) -> dict[int, Role]:
        """The roles of those of ``user_ids`` with a grant on the repository."""
        if not user_ids:
            return {}
        result = await self._session.execute(
            select(RepositoryGrantRow.user_id, RepositoryGrantRow.role).where(
                RepositoryGrantRow.repository_id == repository_id,
                RepositoryGrantRow.user_id.in_(sorted(set(user_ids))),
            )
        )
        return {user_id: Role(role) for user_id, role in result}

    async def add(self, repository_id: int, roles: Mapping[int, Role]) -> None:
        """New grants (user id → role); a user who has one already is a uniqueness violation."""
        now = utcnow()
        rows = [
            {"repository_id": repository_id, "user_id": user_id, "role": role.value}
            for user_id, role in roles.items()
        ]
        if rows:
            await self._session.execute(insert(_GRANTS).values(created_at=now, updated_at=now), rows)

    async def change(self, repository_id: int, roles: Mapping[int, Role]) -> None:
        """New roles for existing grants (user id → role); users without one are left alone."""
        rows = [_numbered(repository_id, user_id, role) for user_id, role in roles.items()]
        if rows:
            await self._session.execute(_CHANGE.values(updated_at=utcnow()), rows)

    async def remove(self, repository_id: int, user_ids: Sequence[int]) -> None:
        rows = [_numbered(repository_id, user_id) for user_id in sorted(set(user_ids))]
        if rows:
            await self._session.execute(_REMOVE, rows)


# The shared repository's namespace, the namespace it is shared with, and the user who shared it.
_OWNER = aliased(NamespaceRow, name="owner_namespace")
_DOMAIN = aliased(NamespaceRow, name="access_domain")
_CREATOR = aliased(UserRow, name="share_creator")
_SHARE_COLUMNS = (
    RepositoryShareRow.id,
    RepositoryShareRow.repository_id,
    _OWNER.name.label("namespace"),
    RepositoryRow.name.label("repository"),
    RepositoryShareRow.namespace_id,
    _DOMAIN.name.label("access_domain"),
    RepositoryShareRow.permit,
    RepositoryShareRow.expires_at,
    RepositoryShareRow.description,
    RepositoryShareRow.creator,
    _CREATOR.id.label("creator_id"),
    RepositoryShareRow.created_at,
    RepositoryShareRow.updated_at,
)
_SUMMARY_COLUMNS = (
    RepositoryRow.id,
    RepositoryRow.namespace_id,
    NamespaceRow.name,
    RepositoryRow.name,
    RepositoryRow.description,
    RepositoryRow.category,
    RepositoryRow.is_public,
    RepositoryRow.size,
    RepositoryRow.tag_count,
    RepositoryRow.download_count,
    RepositoryRow.created_at,
    RepositoryRow.updated_at,
)
_ORDER_COLUMNS = {
    RepoOrder.NAME: RepositoryRow.name,
    RepoOrder.UPDATED_AT: RepositoryRow.updated_at,
    RepoOrder.CREATED_AT: RepositoryRow.created_at,
    RepoOrder.TAG_COUNT: RepositoryRow.tag_count,
    RepoOrder.DOWNLOADS: RepositoryRow.download_count,
}


def _share_from_row(row: Any) -> Share:
    return Share(
        id=row.id,
        repository_id=row.repository_id,
        namespace=row.namespace,
        repository=row.repository,
        access_domain_id=row.namespace_id,
        access_domain=row.access_domain,
        permit=row.permit,
        expires_at=row.expires_at,
        description=row.description,
        creator=row.creator,
        creator_id=row.creator_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _summary_of(row: Any, tag_names: tuple[str, ...]) -> RepositorySummary:
    """A row of ``_SUMMARY_COLUMNS`` (in the order of a summary's fields) with its tag names."""
    fields = len(_SUMMARY_COLUMNS)
    return RepositorySummary(*row[:fields], tag_names)  # type: ignore[call-arg]  # as repositories'


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(RepositoryShareRow.expires_at.is_(None), RepositoryShareRow.expires_at > now)


def _shared(query: SharedQuery, visibility: Visibility, now: datetime) -> ColumnElement[bool]:
    """Whether repository ``r`` is on the caller's side ``query.shared_by`` of a share (module doc)."""
    of_repository = RepositoryShareRow.repository_id == RepositoryRow.id
    if query.shared_by is SharedBy.THIRDPARTY:
        return exists().where(
            of_repository,
            _live(now),
            MembershipRow.namespace_id == RepositoryShareRow.namespace_id,
            MembershipRow.user_id == visibility.member_id,
        )
    shared = exists().where(of_repository)
    if visibility.everything:
        return shared
    return shared & exists().where(
        MembershipRow.namespace_id == RepositoryRow.namespace_id,
        MembershipRow.user_id == visibility.member_id,
    )


def _filtered(query: SharedQuery, visibility: Visibility, now: datetime) -> Select[*TupleAny]:
    statement = (
        select(*_SUMMARY_COLUMNS, func.count().over().label("total"))
        .join(NamespaceRow, NamespaceRow.id == RepositoryRow.namespace_id)
        .where(_shared(query, visibility, now))
    )
    if query.namespace is not None:
        statement = statement.where(NamespaceRow.name == query.namespace)
    if query.name is not None:
        statement = statement.where(RepositoryRow.name == query.name)
    if query.name_contains is not None:
        pattern = f"%{_escape_like(query.name_contains.lower())}%"
        statement = statement.where(func.lower(RepositoryRow.name).like(pattern, escape="\\"))
    return statement


class ShareStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    def _shares(self) -> Select[*TupleAny]:
        return (
            select(*_SHARE_COLUMNS)
            .join(RepositoryRow, RepositoryRow.id == RepositoryShareRow.repository_id)
            .join(_OWNER, _OWNER.id == RepositoryRow.namespace_id)
            .join(_DOMAIN, _DOMAIN.id == RepositoryShareRow.namespace_id)
            .outerjoin(_CREATOR, _CREATOR.username == RepositoryShareRow.creator)
        )

    async def add(
        self,
        *,
        repository_id: int,
        namespace_id: int,
        permit: str,
        expires_at: datetime | None,
        description: str,
        creator: str,
    ) -> None:
        """A new share; one with the same namespace already is a uniqueness violation."""
        now = utcnow()
        await self._session.execute(
            insert(RepositoryShareRow).values(
                repository_id=repository_id,
                namespace_id=namespace_id,
                permit=permit,
                expires_at=expires_at,
                description=description,
                creator=creator,
                created_at=now,
                updated_at=now,
            )
        )

    async def of_repository(self, repository_id: int) -> list[Share]:
        """The repository's shares, by the name of the namespace shared with."""
        result = await self._session.execute(
            self._shares().where(RepositoryShareRow.repository_id == repository_id).order_by(_DOMAIN.name)
        )
        return [_share_from_row(row) for row in result]

    async def get(self, repository_id: int, namespace_id: int) -> Share | None:
        result = await self._session.execute(
            self._shares().where(
                RepositoryShareRow.repository_id == repository_id,
                RepositoryShareRow.namespace_id == namespace_id,
            )
        )
        row = result.first()
        return _share_from_row(row) if row is not None else None

    async def update(self, repository_id: int, namespace_id: int, changes: ShareChanges) -> bool:
        """Whether the share was there to change."""
        values: dict[str, Any] = {
            "permit": changes.permit,
            "expires_at": changes.expires_at,
            "updated_at": utcnow(),
        }
        if changes.description is not None:
            values["description"] = changes.description
        result = await self._session.execute(
            update(RepositoryShareRow)
            .where(
                RepositoryShareRow.repository_id == repository_id,
                RepositoryShareRow.namespace_id == namespace_id,
            )
            .values(**values)
        )
        return bool(result.rowcount)

    async def delete(self, repository_id: int, namespace_id: int) -> bool:
        """Whether the share was there to delete."""
        result = await self._session.execute(
            delete(RepositoryShareRow).where(
                RepositoryShareRow.repository_id == repository_id,
                RepositoryShareRow.namespace_id == namespace_id,
            )
        )
        return bool(result.rowcount)

    async def shared_page(
        self, query: SharedQuery, visibility: Visibility, now: datetime
    ) -> Page[RepositorySummary]:
        """A page of shared repositories as summaries with their tag names, and the total (module
        doc). Keyset paged (``query.from_id``) it holds up to ``limit + 1`` rows, by id: one more
        than asked tells the caller where the next page starts."""
        statement = _filtered(query, visibility, now)
        if query.from_id is not None:
            statement = (
                statement.where(RepositoryRow.id >= query.from_id)
                .order_by(RepositoryRow.id)
                .limit(query.limit + 1)
            )
        else:
            column = _ORDER_COLUMNS[query.order]
            if query.descending:
                statement = statement.order_by(column.desc(), RepositoryRow.id.desc())
            else:
                statement = statement.order_by(column, RepositoryRow.id)
            statement = statement.limit(query.limit).offset(query.offset)
        rows = (await self._session.execute(statement)).all()
        if rows:
            total = int(rows[0].total)
        elif query.offset and query.from_id is None:
            total = await self._count(query, visibility, now)
        else:
            total = 0
        names = await self._tag_names([row[0] for row in rows])
        items = [_summary_of(row, names.get(row[0], ())) for row in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def _count(self, query: SharedQuery, visibility: Visibility, now: datetime) -> int:
        counted = _filtered(query, visibility, now).with_only_columns(func.count(RepositoryRow.id))
        return int((await self._session.execute(counted)).scalar_one())

    async def _tag_names(self, repository_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        """Each repository's tag names, newest first (the repository list's order)."""
        if not repository_ids:
            return {}
        result = await self._session.execute(
            select(TagRow.repository_id, TagRow.name)
            .where(TagRow.repository_id.in_(list(repository_ids)))
            .order_by(TagRow.repository_id, TagRow.created_at.desc(), TagRow.id.desc())
        )
        names: dict[int, list[str]] = {}
        for repository_id, name in result:
            names.setdefault(repository_id, []).append(name)
        return {repository_id: tuple(found) for repository_id, found in names.items()}
