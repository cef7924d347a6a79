"""Repositories, tags and stars. Reads are SQL text (``pg_pages``) on ``readers.Reads``, rows mapped
straight to domain objects; writes are SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from repohub.domain.clock import utcnow
from repohub.domain.entities import (
    Creator,
    Namespace,
    NamespaceKind,
    Page,
    Repository,
    RepositorySummary,
    Tag,
)
from repohub.domain.queries import RepoQuery, TagQuery, Visibility
from repohub.store import pg_pages
from repohub.store.readers import Reader, Reads
from repohub.store.session import LazySession
from repohub.store.tables import RepositoryRow, StarRow, TagRow, UTCDateTime

Item = TypeVar("Item", Repository, RepositorySummary)
SUMMARY_FIELDS = len(RepositorySummary._fields) - 1  # all but tag_names
# Columns a caller may change through update(); everything else is maintained by the service.
UPDATABLE = frozenset({"description", "full_description", "is_public", "category", "logo"})


# Where ``pg_pages`` puts the columns of a repository and of a tag: the entity's fields up to its
# creator, the rest, then the creator's six (a unit test holds them together). Built by position, a
# repository took 4.5 µs where by column names it took 8.8, a list page's 20 rows ~90 µs (issue 19).
_REPOSITORY_HEAD, _REPOSITORY_TAIL = 10, 19
_TAG_HEAD, _TAG_TAIL = 8, 12
Creators = dict[int, Creator]


def _creator_at(row: Any, at: int, seen: Creators | None = None) -> Creator | None:
    """The creator whose six columns start at ``at``; one object for the rows of one statement that
    share it (``seen``), which are the same values: 2.2 µs a row saved where one user made them all."""
    creator_id = row[at]
    if creator_id is None:
        return None
    if seen is None:
        return Creator(*row[at : at + 6])
    creator = seen.get(creator_id)
    if creator is None:
        creator = seen[creator_id] = Creator(*row[at : at + 6])
    return creator


def _repository_from_row(
    row: Any, tag_names: tuple[str, ...] = (), seen: Creators | None = None
) -> Repository:
    # mypy cannot count the values of a sliced row (test_page_sql does), as in _summary_from_row.
    return Repository(  # type: ignore[call-arg]
        *row[:_REPOSITORY_HEAD],
        _creator_at(row, _REPOSITORY_TAIL, seen),
        *row[_REPOSITORY_HEAD:_REPOSITORY_TAIL],
        tag_names,
    )


def _summary_from_row(row: Any, tag_names: tuple[str, ...] = ()) -> RepositorySummary:
    # pg_pages selects a summary's columns in the order of its fields (a unit test holds them together).
    # mypy cannot count the fields of a sliced row (that unit test does); the splat is the cheapest
    # way to build a thousand of them per page.
    return RepositorySummary(*row[:SUMMARY_FIELDS], tag_names)  # type: ignore[call-arg]


def _tag_from_row(row: Any, seen: Creators | None = None) -> Tag:
    creator = _creator_at(row, _TAG_TAIL, seen)
    return Tag(*row[:_TAG_HEAD], creator, *row[_TAG_HEAD:_TAG_TAIL])  # type: ignore[call-arg]


async def _window_total(
    rows: Sequence[Any], offset: int, reads: Reads, count_sql: str, params: Sequence[Any]
) -> int:
    """The total of a page whose rows carry ``count(*) OVER ()``; past the end that count had no row
    to ride on, and ``count_sql`` is asked (an empty first page has none to count)."""
    if rows:
        return int(rows[0]["total"])
    return int((await reads.fetch(count_sql, params))[0][0]) if offset else 0


# A star by its primary key, for a lone read (v1's repository detail asks on every request).
_IS_STARRED_SQL = "SELECT 1 FROM stars WHERE repository_id = $1 AND user_id = $2"
# ``TagStore.sharing`` for one repository's named tags ($2: a JSON array of names), a lone read of
# the repository page: built with SQLAlchemy, its expanding IN took 45 % of the page's handler
# (bench --profile ui_repo).
_SIBLINGS = (
    "SELECT t.name, o.name FROM tags t JOIN tags o ON o.repository_id = t.repository_id"
    " AND o.digest = t.digest AND o.name <> t.name WHERE t.repository_id = $1 AND t.name IN ({names})"
    " ORDER BY t.name, o.name"
)
_SIBLINGS_SQL = {
    "postgresql": _SIBLINGS.format(names="SELECT json_array_elements_text($2::json)"),
    "sqlite": _SIBLINGS.format(names="SELECT value FROM json_each($2)"),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class RepositoryStore:
    def __init__(self, session: LazySession, reader: Reader | None = None) -> None:
        self._session = session
        self._reads = Reads(session, reader)

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
        rows = await self._reads.fetch(pg_pages.REPOSITORY_BY_ID_SQL, [repository_id])
        return _repository_from_row(rows[0]) if rows else None

    async def get_with_namespace(self, repository_id: int) -> tuple[Namespace, Repository] | None:
        """``get`` and the repository's namespace, in one read."""
        rows = await self._reads.fetch(pg_pages.REPOSITORY_AND_NAMESPACE_BY_ID_SQL, [repository_id])
        if not rows:
            return None
        row = rows[0]
        at = _REPOSITORY_TAIL + 6  # after the creator's columns
        kind, display_name, creator_id, created_at, updated_at = row[at : at + 5]
        namespace = Namespace(
            row[1], row[2], NamespaceKind(kind), display_name, creator_id, created_at, updated_at
        )
        return namespace, _repository_from_row(row)

    async def by_name(self, namespace_id: int, name: str) -> Repository | None:
        if "\x00" in name:  # no stored name holds NUL, and PostgreSQL refuses to compare with one
            return None
        rows = await self._reads.fetch(pg_pages.REPOSITORY_BY_NAME_SQL, [namespace_id, name])
        return _repository_from_row(rows[0]) if rows else None

    async def by_path(self, namespace: str, name: str) -> Repository | None:
        """The repository ``namespace/name`` in one read (``by_name`` after the namespace's lookup)."""
        if "\x00" in namespace or "\x00" in name:  # as in ``by_name``
            return None
        rows = await self._reads.fetch(pg_pages.REPOSITORY_BY_PATH_SQL, [namespace, name])
        return _repository_from_row(rows[0]) if rows else None

    async def exists_in(self, namespace_id: int) -> bool:
        return bool(await self._reads.fetch(pg_pages.exists_sql(pg_pages.EVERYTHING), [namespace_id]))

    async def public_exists_in(self, namespace_id: int) -> bool:
        return bool(await self._reads.fetch(pg_pages.exists_sql(pg_pages.PUBLIC), [namespace_id]))

    async def visible_exists_in(self, namespace_id: int, visibility: Visibility) -> bool:
        """Whether a list under ``visibility`` would show a repository of the namespace."""
        kind = pg_pages.visibility_kind(visibility)
        sqlite = self._session.dialect != "postgresql"
        params = [namespace_id, *pg_pages.visibility_params(visibility, kind, sqlite=sqlite)]
        return bool(await self._reads.fetch(pg_pages.exists_sql(kind), params))

    async def page(self, query: RepoQuery, visibility: Visibility) -> Page[Repository]:
        """One page and the total under the same filter (window count: no second scan when rows exist)."""
        seen: Creators = {}  # the page's creators, each built once
        return await self._sql_page(query, visibility, lambda row, _: _repository_from_row(row, (), seen))

    async def summaries(self, query: RepoQuery, visibility: Visibility) -> Page[RepositorySummary]:
        """A page of summaries with their tag names: ``page`` with half the columns."""
        return await self._sql_page(query, visibility, _summary_from_row)

    async def _sql_page(
        self, query: RepoQuery, visibility: Visibility, row_of: Callable[[Any, tuple[str, ...]], Item]
    ) -> Page[Item]:
        """The page as SQL text of its query shape (``pg_pages``), rows mapped straight to the domain.
        Summaries come with each row's tag names: an array on PostgreSQL, JSON text on SQLite."""
        pattern = f"%{_escape_like(query.name_contains.lower())}%" if query.name_contains else None
        params: list[Any]  # declared: mypy defers this method and then cannot infer it from the tuple
        postgresql = self._session.dialect == "postgresql"
        key, params = pg_pages.shape(query, visibility, pattern, sqlite=not postgresql)
        summary = row_of is _summary_from_row
        if summary and not postgresql:
            sql = pg_pages.sqlite_page_sql(*key, query.order, query.descending, summary)
        else:
            sql = pg_pages.page_sql(*key, query.order, query.descending, summary, summary)
        rows = await self._reads.fetch(sql, [*params, query.limit, query.offset])
        count = pg_pages.count_sql(*key)
        counted = params[: pg_pages.parameter_count(count)]  # a public part's total takes no visibility
        total = await _window_total(rows, query.offset, self._reads, count, counted)
        if not summary:
            items = [row_of(row, ()) for row in rows]
        elif postgresql:
            items = [row_of(row, tuple(row["tag_names"])) for row in rows]
        else:
            items = [row_of(row, tuple(orjson.loads(row["tag_names"]))) for row in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

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
        return bool(await self._reads.fetch(_IS_STARRED_SQL, [repository_id, user_id]))

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
        self._reads = Reads(session, reader)

    async def page(self, repository_id: int, query: TagQuery) -> Page[Tag]:
        """A page of tags as SQL text (``pg_pages.tag_page_sql``), rows mapped straight to tags."""
        named = query.name is not None
        params: list[Any] = [repository_id, query.name] if named else [repository_id]
        sql = pg_pages.tag_page_sql(named, query.order, query.descending)
        rows = await self._reads.fetch(sql, [*params, query.limit, query.offset])
        total = await _window_total(rows, query.offset, self._reads, pg_pages.tag_count_sql(named), params)
        seen: Creators = {}
        items = [_tag_from_row(row, seen) for row in rows]
        return Page(items=items, total=total, offset=query.offset, limit=query.limit)

    async def get(self, repository_id: int, name: str) -> Tag | None:
        rows = await self._reads.fetch(pg_pages.TAG_BY_NAME_SQL, [repository_id, name])
        return _tag_from_row(rows[0]) if rows else None

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
        refresh: bool = True,
    ) -> bool:
        """Create the tag or move it to ``digest`` (creator, created_at and the pull facts stay with the
        tag); whether a row was written.

        ``refresh`` False leaves a tag already on ``digest`` as it is (repohub putting a manifest back
        under a kept tag is not a push); otherwise a push of the same digest moves ``updated_at``.
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
        wanted = [TagRow.repository_id == repository_id, TagRow.name == name]
        if not refresh:
            wanted.append(TagRow.digest != digest)
        moved = await self._session.execute(update(TagRow).where(*wanted).values(**values))
        if moved.rowcount:
            return True
        row = {"repository_id": repository_id, "name": name, "creator_id": creator_id, "created_at": at}
        row.update(values)
        if refresh:
            await self._session.execute(insert(TagRow).values(**row))
            return True
        # Not moved: either it is on ``digest`` already (left alone) or it does not exist (created).
        upsert = postgresql_insert if self._session.dialect == "postgresql" else sqlite_insert
        created = await self._session.execute(upsert(TagRow).values(**row).on_conflict_do_nothing())
        return bool(created.rowcount)

    async def names(self, repository_id: int) -> list[str]:
        """Every tag name of the repository, sorted."""
        result = await self._session.execute(
            select(TagRow.name).where(TagRow.repository_id == repository_id).order_by(TagRow.name)
        )
        return list(result.scalars())

    async def digests(self, repository_id: int) -> list[tuple[str, str]]:
        """Every (tag name, digest) of the repository, by name: what deleting it deletes."""
        result = await self._session.execute(
            select(TagRow.name, TagRow.digest)
            .where(TagRow.repository_id == repository_id)
            .order_by(TagRow.name)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def siblings(self, repository_id: int, names: Sequence[str]) -> dict[str, list[str]]:
        """``sharing`` of one repository, as a lone read (SQL text, the reader's when not writing)."""
        if not names:
            return {}
        sql = _SIBLINGS_SQL[self._session.dialect]
        rows = await self._reads.fetch(sql, [repository_id, orjson.dumps(sorted(set(names))).decode()])
        found: dict[str, list[str]] = {}
        for name, sibling in rows:
            found.setdefault(name, []).append(sibling)
        return found

    async def sharing(self, wanted: Mapping[int, Iterable[str]]) -> dict[int, dict[str, list[str]]]:
        """For each repository id's tags in ``wanted``, the repository's other tags on the same digest
        (repository → tag → those tags, sorted; a tag alone on its image is absent), in one statement
        over ``(repository_id, name)`` and ``(repository_id, digest)``. Distribution deletes a manifest,
        so every tag on it: the immutability guard asks before a tag is deleted."""
        pairs = [(repository_id, sorted(set(names))) for repository_id, names in wanted.items()]
        pairs = [(repository_id, names) for repository_id, names in pairs if names]
        if not pairs:
            return {}
        other = aliased(TagRow)
        result = await self._session.execute(
            select(TagRow.repository_id, TagRow.name, other.name)
            .join(
                other,
                and_(
                    other.repository_id == TagRow.repository_id,
                    other.digest == TagRow.digest,
                    other.name != TagRow.name,
                ),
            )
            .where(
                or_(
                    *(
                        and_(TagRow.repository_id == repository_id, TagRow.name.in_(names))
                        for repository_id, names in pairs
                    )
                )
            )
            .order_by(TagRow.repository_id, TagRow.name, other.name)
        )
        found: dict[int, dict[str, list[str]]] = {}
        for repository_id, name, sibling in result:
            found.setdefault(repository_id, {}).setdefault(name, []).append(sibling)
        return found

    async def delete(self, repository_id: int, names: Iterable[str]) -> None:
        await self._session.execute(
            delete(TagRow).where(TagRow.repository_id == repository_id, TagRow.name.in_(list(names)))
        )
        await self.refresh_summary(repository_id)

    async def delete_unmoved(self, repository_id: int, expected: Mapping[str, str]) -> list[str]:
        """Delete these tags where each still points at its expected digest (tag → digest), locked
        first (PostgreSQL: ``FOR UPDATE``) so that a push applied meanwhile keeps its tag; the names
        deleted, the summary recounted."""
        found = await self._session.execute(
            select(TagRow.name, TagRow.digest)
            .where(TagRow.repository_id == repository_id, TagRow.name.in_(list(expected)))
            .order_by(TagRow.name)  # the event intake's lock order for tags: no deadlock with it
            .with_for_update()
        )
        unmoved = sorted(name for name, digest in found if expected.get(name) == digest)
        if unmoved:
            await self.delete(repository_id, unmoved)
        return unmoved

    async def refresh_summary(self, repository_id: int) -> None:
        """Recompute the repository's tag count and size (sum of its tags) from the tag rows."""
        await update_summary(self._session, repository_id, tags_changed=True)


async def update_summary(
    session: LazySession,
    repository_id: int,
    *,
    downloads: int = 0,
    uploads: int = 0,
    pulled_at: datetime | None = None,
    pushed_at: datetime | None = None,
    tags_changed: bool = False,
) -> None:
    """The one writer of a repository's counters, in one UPDATE: add downloads and uploads, move the
    times forward only, recount tags and size from the tag rows when they changed."""
    values: dict[str, Any] = {}
    if downloads:
        values["download_count"] = RepositoryRow.download_count + downloads
    if uploads:
        values["upload_count"] = RepositoryRow.upload_count + uploads
    if pulled_at is not None:
        values["pulled_at"] = later(RepositoryRow.pulled_at, literal(pulled_at, UTCDateTime()))
    if pushed_at is not None:
        values["pushed_at"] = later(RepositoryRow.pushed_at, literal(pushed_at, UTCDateTime()))
    if tags_changed:
        if session.dialect == "postgresql":
            # The row first, then the recount, in a statement of its own: an UPDATE that waited
            # for another writer's lock would count tags from its snapshot taken before that
            # writer committed, and lose its tags (tests/store/test_counts_races.py). NO KEY: the
            # UPDATE's own lock, which tag inserts (their foreign key's KEY SHARE) do not wait for.
            locked = select(RepositoryRow.id).where(RepositoryRow.id == repository_id)
            await session.execute(locked.with_for_update(key_share=True))
        of_repository = TagRow.repository_id == repository_id
        values["tag_count"] = select(func.count()).select_from(TagRow).where(of_repository).scalar_subquery()
        values["size"] = (
            select(func.coalesce(func.sum(TagRow.size), 0)).where(of_repository).scalar_subquery()
        )
    if tags_changed or pushed_at is not None:
        values["updated_at"] = utcnow()
    if values:
        await session.execute(update(RepositoryRow).where(RepositoryRow.id == repository_id).values(**values))


def later(column: Any, moment: Any) -> Any:
    """``column`` moved forward to ``moment`` (a SQL value), never back (events of one envelope may
    come out of order)."""
    return case((column.is_(None), moment), (column < moment, moment), else_=column)
