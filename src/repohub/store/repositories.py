"""Repositories, tags and stars. Reads are Core selects mapped straight to domain objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import aliased
from sqlalchemy.util.typing import TupleAny

from repohub.domain.entities import Creator, Page, Repository, RepositorySummary, Tag
from repohub.domain.queries import RepoOrder, RepoQuery, TagOrder, TagQuery, Visibility
from repohub.store import pg_pages
from repohub.store.readers import Reader, lone_reader
from repohub.store.session import LazySession
from repohub.store.tables import MembershipRow, NamespaceRow, RepositoryRow, StarRow, TagRow, UserRow, utcnow

Item = TypeVar("Item", Repository, RepositorySummary)
SUMMARY_FIELDS = len(RepositorySummary._fields) - 1  # all but tag_names
_creator = aliased(UserRow, name="creator")
_CREATOR_COLUMNS = (
    _creator.id.label("creator_id"),
    _creator.username.label("creator_username"),
    _creator.email.label("creator_email"),
    _creator.display_name.label("creator_display_name"),
    _creator.created_at.label("creator_created_at"),
    _creator.updated_at.label("creator_updated_at"),
)
_REPOSITORY_COLUMNS = (
    RepositoryRow.id,
    RepositoryRow.namespace_id,
    NamespaceRow.name.label("namespace"),
    RepositoryRow.name,
    RepositoryRow.description,
    RepositoryRow.full_description,
    RepositoryRow.category,
    RepositoryRow.is_public,
    RepositoryRow.is_automated,
    RepositoryRow.logo,
    RepositoryRow.size,
    RepositoryRow.tag_count,
    RepositoryRow.download_count,
    RepositoryRow.upload_count,
    RepositoryRow.star_count,
    RepositoryRow.pulled_at,
    RepositoryRow.pushed_at,
    RepositoryRow.created_at,
    RepositoryRow.updated_at,
    *_CREATOR_COLUMNS,
)
_REPO_ORDER: dict[RepoOrder, Any] = {
    RepoOrder.NAME: RepositoryRow.name,
    RepoOrder.UPDATED_AT: RepositoryRow.updated_at,
    RepoOrder.CREATED_AT: RepositoryRow.created_at,
    RepoOrder.TAG_COUNT: RepositoryRow.tag_count,
}
_TAG_ORDER: dict[TagOrder, Any] = {
    TagOrder.NAME: TagRow.name,
    TagOrder.UPDATED_AT: TagRow.updated_at,
    TagOrder.CREATED_AT: TagRow.created_at,
}
# Columns a caller may change through update(); everything else is maintained by the service.
UPDATABLE = frozenset({"description", "full_description", "is_public", "category", "logo"})


def _creator_from_row(row: RowMapping) -> Creator | None:
    if row["creator_id"] is None:
        return None
    return Creator(
        id=row["creator_id"],
        username=row["creator_username"],
        email=row["creator_email"],
        display_name=row["creator_display_name"],
        created_at=row["creator_created_at"],
        updated_at=row["creator_updated_at"],
    )


def _repository_from_row(row: RowMapping, tag_names: tuple[str, ...] = ()) -> Repository:
    return Repository(
        id=row["id"],
        namespace_id=row["namespace_id"],
        namespace=row["namespace"],
        name=row["name"],
        description=row["description"],
        full_description=row["full_description"],
        category=row["category"],
        is_public=row["is_public"],
        is_automated=row["is_automated"],
        logo=row["logo"],
        creator=_creator_from_row(row),
        size=row["size"],
        tag_count=row["tag_count"],
        download_count=row["download_count"],
        upload_count=row["upload_count"],
        star_count=row["star_count"],
        pulled_at=row["pulled_at"],
        pushed_at=row["pushed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        tag_names=tag_names,
    )


def _summary_from_row(row: Any, tag_names: tuple[str, ...] = ()) -> RepositorySummary:
    # pg_pages selects a summary's columns in the order of its fields (a unit test holds them together).
    # mypy cannot count the fields of a sliced row (that unit test does); the splat is the cheapest
    # way to build a thousand of them per page.
    return RepositorySummary(*row[:SUMMARY_FIELDS], tag_names)  # type: ignore[call-arg]


def _tag_from_row(row: RowMapping) -> Tag:
    return Tag(
        id=row["id"],
        repository_id=row["repository_id"],
        name=row["name"],
        digest=row["digest"],
        image_id=row["image_id"],
        media_type=row["media_type"],
        size=row["size"],
        manifest=row["manifest"],
        creator=_creator_from_row(row),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _window_total(
    rows: Sequence[Any], offset: int, fetch: pg_pages.Fetch, count_sql: str, params: Sequence[Any]
) -> int:
    """The total of a page whose rows carry ``count(*) OVER ()``; past the end that count had no row
    to ride on, and ``count_sql`` is asked (an empty first page has none to count)."""
    if rows:
        return int(rows[0]["total"])
    return int((await fetch(count_sql, params))[0][0]) if offset else 0


def _grouped(rows: Iterable[Any]) -> dict[int, tuple[str, ...]]:
    """(repository id, tag name) rows, in order, as each repository's tuple of names."""
    names: dict[int, list[str]] = defaultdict(list)
    for repository_id, name in rows:  # rows unpack as tuples (.tuples() is deprecated in 2.1)
        names[repository_id].append(name)
    return {key: tuple(value) for key, value in names.items()}


def _select_repositories() -> Select[*TupleAny]:
    return (
        select(*_REPOSITORY_COLUMNS)
        .join(NamespaceRow, NamespaceRow.id == RepositoryRow.namespace_id)
        .outerjoin(_creator, _creator.id == RepositoryRow.creator_id)
    )


def _visible(visibility: Visibility) -> ColumnElement[bool] | None:
    if visibility.everything:
        return None
    if visibility.member_id is None:
        return RepositoryRow.is_public.is_(True)
    # Correlated EXISTS on the membership key: costs one index probe per candidate row, where
    # ``namespace_id IN (the user's memberships)`` hashed every membership of the user per query.
    member = (
        select(MembershipRow.namespace_id)
        .where(
            MembershipRow.namespace_id == RepositoryRow.namespace_id,
            MembershipRow.user_id == visibility.member_id,
        )
        .exists()
    )
    return or_(RepositoryRow.is_public.is_(True), member)


# A repository's tag names, newest first, as one PostgreSQL array (the order tag_names() gives).
_TAG_NAMES_ARRAY = (
    select(func.array_agg(aggregate_order_by(TagRow.name, TagRow.created_at.desc(), TagRow.id.desc())))
    .where(TagRow.repository_id == RepositoryRow.id)
    .scalar_subquery()
    .label("tag_names")
)


# A star by its primary key, for a lone read (v1's repository detail asks on every request).
_IS_STARRED_SQL = "SELECT 1 FROM stars WHERE repository_id = $1 AND user_id = $2"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class RepositoryStore:
    def __init__(self, session: LazySession, reader: Reader | None = None) -> None:
        self._session = session
        self._reader = reader

    async def add(
        self,
        *,
        namespace_id: int,
        name: str,
        description: str,
        full_description: str,
        category: str,
        is_public: bool,
        creator_id: int | None,
    ) -> int:
        now = utcnow()
        result = await self._session.execute(
            insert(RepositoryRow)
            .values(
                namespace_id=namespace_id,
                name=name,
                description=description,
                full_description=full_description,
                category=category,
                is_public=is_public,
                creator_id=creator_id,
                created_at=now,
                updated_at=now,
            )
            .returning(RepositoryRow.id)
        )
        return int(result.scalar_one())

    async def get(self, repository_id: int) -> Repository | None:
        reader = lone_reader(self._session, self._reader)
        if reader is not None:  # SQL text on the reader: no session, no BEGIN/ROLLBACK (pg_pages)
            rows = await reader.fetch(pg_pages.REPOSITORY_BY_ID_SQL, [repository_id])
            return _repository_from_row(rows[0]) if rows else None
        result = await self._session.execute(_select_repositories().where(RepositoryRow.id == repository_id))
        row = result.mappings().first()
        return _repository_from_row(row) if row else None

    async def by_name(self, namespace_id: int, name: str) -> Repository | None:
        if "\x00" in name:  # no stored name holds NUL, and PostgreSQL refuses to compare with one
            return None
        reader = lone_reader(self._session, self._reader)
        if reader is not None:
            rows = await reader.fetch(pg_pages.REPOSITORY_BY_NAME_SQL, [namespace_id, name])
            return _repository_from_row(rows[0]) if rows else None
        result = await self._session.execute(
            _select_repositories().where(
                RepositoryRow.namespace_id == namespace_id, RepositoryRow.name == name
            )
        )
        row = result.mappings().first()
        return _repository_from_row(row) if row else None

    async def exists_in(self, namespace_id: int) -> bool:
        result = await self._session.execute(
            select(RepositoryRow.id).where(RepositoryRow.namespace_id == namespace_id).limit(1)
        )
        return result.first() is not None

    async def public_exists_in(self, namespace_id: int) -> bool:
        result = await self._session.execute(
            select(RepositoryRow.id)
            .where(RepositoryRow.namespace_id == namespace_id, RepositoryRow.is_public.is_(True))
            .limit(1)
        )
        return result.first() is not None

    async def page(
        self, query: RepoQuery, visibility: Visibility, *, with_tag_names: bool = False
    ) -> Page[Repository]:
        """One page and the total under the same filter (window count: no second scan when rows exist)."""
        postgresql = self._session.dialect == "postgresql"
        reader = lone_reader(self._session, self._reader)
        if postgresql or reader is not None:
            return await self._sql_page(
                query,
                visibility,
                with_tag_names,
                postgresql=postgresql,
                reader=reader,
                row_of=_repository_from_row,
            )
        # SQLite inside a transaction: the session's own connection, through SQLAlchemy Core.
        conditions: list[ColumnElement[bool]] = []
        if query.namespace is not None:
            conditions.append(NamespaceRow.name == query.namespace)
        if query.name_contains:
            pattern = f"%{_escape_like(query.name_contains.lower())}%"
            conditions.append(func.lower(RepositoryRow.name).like(pattern, escape="\\"))
        if query.category is not None:
            conditions.append(RepositoryRow.category == query.category)
        visible = _visible(visibility)
        if visible is not None:
            conditions.append(visible)

        order_column = _REPO_ORDER[query.order]
        ordering = (
            (order_column.desc(), RepositoryRow.id.desc())
            if query.descending
            else (
                order_column.asc(),
                RepositoryRow.id.asc(),
            )
        )
        statement = (
            _select_repositories()
            .add_columns(func.count().over().label("total"))
            .where(*conditions)
            .order_by(*ordering)
            .offset(query.offset)
            .limit(query.limit)
        )
        # PostgreSQL returns each row's tag names with the page (one round trip, as an array).
        inline_tags = with_tag_names and self._session.dialect == "postgresql"
        if inline_tags:
            statement = statement.add_columns(_TAG_NAMES_ARRAY)
        # Core execution: these are plain rows, the ORM's per-statement machinery buys nothing here.
        connection = await self._session.connection()
        rows = (await connection.execute(statement)).mappings().all()
        if inline_tags:
            items = [_repository_from_row(row, tuple(row["tag_names"] or ())) for row in rows]
            return Page(items=items, total=rows[0]["total"] if rows else await self._count(conditions),
                        offset=query.offset, limit=query.limit)  # fmt: skip
        if rows:
            total = rows[0]["total"]
        else:
            total = await self._count(conditions)
        tag_names = await self.tag_names([row["id"] for row in rows]) if with_tag_names and rows else {}
        items = [_repository_from_row(row, tag_names.get(row["id"], ())) for row in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def summaries(self, query: RepoQuery, visibility: Visibility) -> Page[RepositorySummary]:
        """A page of summaries with their tag names: ``page`` with half the columns."""
        postgresql = self._session.dialect == "postgresql"
        reader = lone_reader(self._session, self._reader)
        if postgresql or reader is not None:
            return await self._sql_page(
                query, visibility, True, postgresql=postgresql, reader=reader, row_of=_summary_from_row
            )
        full = await self.page(query, visibility, with_tag_names=True)
        return Page([item.summary() for item in full.items], full.total, full.offset, full.limit)

    async def _sql_page(
        self,
        query: RepoQuery,
        visibility: Visibility,
        with_tag_names: bool,
        *,
        postgresql: bool,
        reader: Reader | None,
        row_of: Callable[[Any, tuple[str, ...]], Item],
    ) -> Page[Item]:
        """The page as SQL text of its query shape (``pg_pages``), rows mapped straight to the domain:
        on ``reader`` for a lone read, else on the session's connection (PostgreSQL only)."""
        pattern = f"%{_escape_like(query.name_contains.lower())}%" if query.name_contains else None
        params: list[Any]  # declared: mypy defers this method and then cannot infer it from the tuple
        key, params = pg_pages.shape(query, visibility, pattern)
        summary = row_of is _summary_from_row
        if with_tag_names and not postgresql:  # each row's tag names as a JSON array
            sql = pg_pages.sqlite_page_sql(*key, query.order, query.descending, summary)
        else:  # as an array column when asked for
            sql = pg_pages.page_sql(*key, query.order, query.descending, with_tag_names, summary)
        fetch: pg_pages.Fetch
        if reader is not None:
            fetch = reader.fetch
        else:
            fetch = pg_pages.on_connection(await self._session.connection())
        rows = await fetch(sql, [*params, query.limit, query.offset])
        total = await _window_total(rows, query.offset, fetch, pg_pages.count_sql(*key), params)
        if not with_tag_names:
            items = [row_of(row, ()) for row in rows]
        elif postgresql:
            items = [row_of(row, tuple(row["tag_names"])) for row in rows]
        else:
            items = [row_of(row, tuple(orjson.loads(row["tag_names"]))) for row in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def _count(self, conditions: list[ColumnElement[bool]]) -> int:
        """The total when the page is empty (past the end): the window count had no row to ride on."""
        count = (
            select(func.count())
            .select_from(RepositoryRow)
            .join(NamespaceRow, NamespaceRow.id == RepositoryRow.namespace_id)
            .where(*conditions)
        )
        return int((await self._session.execute(count)).scalar_one())

    async def tag_names(self, repository_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        result = await self._session.execute(
            select(TagRow.repository_id, TagRow.name)
            .where(TagRow.repository_id.in_(list(repository_ids)))
            .order_by(TagRow.repository_id, TagRow.created_at.desc(), TagRow.id.desc())
        )
        return _grouped(result)

    async def update(self, repository_id: int, changes: dict[str, Any]) -> None:
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        await self._session.execute(
            update(RepositoryRow)
            .where(RepositoryRow.id == repository_id)
            .values(**changes, updated_at=utcnow())
        )

    async def delete(self, repository_id: int) -> bool:
        """Delete the repository with its tags and stars; False if it was already gone (a concurrent
        delete committed first: its row lock made this one wait, then find nothing)."""
        await self._session.execute(delete(TagRow).where(TagRow.repository_id == repository_id))
        await self._session.execute(delete(StarRow).where(StarRow.repository_id == repository_id))
        deleted = await self._session.execute(delete(RepositoryRow).where(RepositoryRow.id == repository_id))
        return bool(deleted.rowcount)

    async def is_starred(self, repository_id: int, user_id: int) -> bool:
        reader = lone_reader(self._session, self._reader)
        if reader is not None:
            return bool(await reader.fetch(_IS_STARRED_SQL, [repository_id, user_id]))
        result = await self._session.execute(
            select(StarRow.user_id).where(StarRow.repository_id == repository_id, StarRow.user_id == user_id)
        )
        return result.first() is not None

    async def set_star(self, repository_id: int, user_id: int, starred: bool) -> None:
        """Add or remove a star; the counter moves only when a row really changed.

        Idempotent under races (two replicas, one user): the insert skips an existing star instead of
        failing, and ``star_count + 1`` is applied under the row lock, so no update is lost; a recount
        by subquery would read a snapshot that misses the other transaction's star.
        """
        if starred:
            dialect = self._session.dialect
            upsert = postgresql_insert if dialect == "postgresql" else sqlite_insert
            changed = await self._session.execute(
                upsert(StarRow)
                .values(repository_id=repository_id, user_id=user_id, created_at=utcnow())
                .on_conflict_do_nothing()
            )
        else:
            changed = await self._session.execute(
                delete(StarRow).where(StarRow.repository_id == repository_id, StarRow.user_id == user_id)
            )
        if changed.rowcount:
            step = 1 if starred else -1
            await self._session.execute(
                update(RepositoryRow)
                .where(RepositoryRow.id == repository_id)
                .values(star_count=RepositoryRow.star_count + step)
            )


class TagStore:
    def __init__(self, session: LazySession, reader: Reader | None = None) -> None:
        self._session = session
        self._reader = reader

    def _select(self) -> Select[*TupleAny]:
        return select(
            TagRow.id,
            TagRow.repository_id,
            TagRow.name,
            TagRow.digest,
            TagRow.image_id,
            TagRow.media_type,
            TagRow.size,
            TagRow.manifest,
            TagRow.created_at,
            TagRow.updated_at,
            *_CREATOR_COLUMNS,
        ).outerjoin(_creator, _creator.id == TagRow.creator_id)

    async def page(self, repository_id: int, query: TagQuery) -> Page[Tag]:
        reader = lone_reader(self._session, self._reader)
        if reader is not None:
            return await self._lone_page(reader, repository_id, query)
        conditions = [TagRow.repository_id == repository_id]
        if query.name is not None:
            conditions.append(TagRow.name == query.name)
        column = _TAG_ORDER[query.order]
        ordering = (column.desc(), TagRow.id.desc()) if query.descending else (column.asc(), TagRow.id.asc())
        rows = (
            (
                await self._session.execute(
                    self._select()
                    .add_columns(func.count().over().label("total"))
                    .where(*conditions)
                    .order_by(*ordering)
                    .offset(query.offset)
                    .limit(query.limit)
                )
            )
            .mappings()
            .all()
        )
        if rows:
            total = rows[0]["total"]
        else:
            count = select(func.count()).select_from(TagRow).where(*conditions)
            total = (await self._session.execute(count)).scalar_one()
        return Page(
            items=[_tag_from_row(row) for row in rows], total=total, offset=query.offset, limit=query.limit
        )

    @staticmethod
    async def _lone_page(reader: Reader, repository_id: int, query: TagQuery) -> Page[Tag]:
        """``page`` as SQL text on the reader (``pg_pages.tag_page_sql``), rows mapped straight to tags."""
        named = query.name is not None
        params: list[Any] = [repository_id, query.name] if named else [repository_id]
        sql = pg_pages.tag_page_sql(named, query.order, query.descending)
        rows = await reader.fetch(sql, [*params, query.limit, query.offset])
        total = await _window_total(rows, query.offset, reader.fetch, pg_pages.tag_count_sql(named), params)
        return Page(
            items=[_tag_from_row(row) for row in rows], total=total, offset=query.offset, limit=query.limit
        )

    async def get(self, repository_id: int, name: str) -> Tag | None:
        result = await self._session.execute(
            self._select().where(TagRow.repository_id == repository_id, TagRow.name == name)
        )
        row = result.mappings().first()
        return _tag_from_row(row) if row else None

    async def upsert(
        self,
        repository_id: int,
        *,
        name: str,
        digest: str,
        image_id: str,
        media_type: str,
        size: int,
        manifest: str | None,
        creator_id: int | None,
        at: datetime,
    ) -> None:
        """Create the tag or move it to ``digest`` (creator and created_at stay with the first push).

        The repository's tag count and size are left to the caller (``refresh_summary``, or the
        registry's one UPDATE per repository per envelope).
        """
        values: dict[str, Any] = {
            "digest": digest,
            "image_id": image_id,
            "media_type": media_type,
            "size": size,
            "manifest": manifest,
            "updated_at": at,
        }
        moved = await self._session.execute(
            update(TagRow).where(TagRow.repository_id == repository_id, TagRow.name == name).values(**values)
        )
        if not moved.rowcount:
            await self._session.execute(
                insert(TagRow).values(
                    repository_id=repository_id, name=name, creator_id=creator_id, created_at=at, **values
                )
            )

    async def delete(self, repository_id: int, names: Iterable[str]) -> None:
        await self._session.execute(
            delete(TagRow).where(TagRow.repository_id == repository_id, TagRow.name.in_(list(names)))
        )
        await self.refresh_summary(repository_id)

    async def refresh_summary(self, repository_id: int) -> None:
        """Recompute the repository's tag count and size (sum of its tags) from the tag rows."""
        of_repository = TagRow.repository_id == repository_id
        tag_count = select(func.count()).select_from(TagRow).where(of_repository).scalar_subquery()
        size = select(func.coalesce(func.sum(TagRow.size), 0)).where(of_repository).scalar_subquery()
        await self._session.execute(
            update(RepositoryRow)
            .where(RepositoryRow.id == repository_id)
            .values(tag_count=tag_count, size=size, updated_at=utcnow())
        )
