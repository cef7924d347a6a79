"""Users, namespaces, memberships and credentials."""

from __future__ import annotations

import builtins  # NamespaceStore has a list() method: inside it, `list[...]` would name that
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, insert, select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import aliased
from sqlalchemy.util.typing import TupleAny

from repohub.domain.clock import utcnow
from repohub.domain.entities import (
    Credential,
    LongTermCredential,
    Membership,
    Namespace,
    NamespaceKind,
    Page,
    Role,
    TokenInfo,
    User,
)
from repohub.store.audit import UNAUDITED
from repohub.store.readers import Reader, Reads
from repohub.store.session import LazySession
from repohub.store.tables import CredentialRow, MembershipRow, NamespaceRow, UserRow

_USER_COLUMNS = (
    UserRow.id,
    UserRow.username,
    UserRow.email,
    UserRow.display_name,
    UserRow.is_admin,
    UserRow.created_at,
    UserRow.updated_at,
)


def user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        display_name=row["display_name"],
        is_admin=row["is_admin"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def namespace_from_row(row: NamespaceRow) -> Namespace:
    return Namespace(
        id=row.id,
        name=row.name,
        kind=NamespaceKind(row.kind),
        display_name=row.display_name,
        creator_id=row.creator_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class UserStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def count(self) -> int:
        return (await self._session.execute(select(func.count()).select_from(UserRow))).scalar_one()

    async def add(
        self, *, username: str, email: str | None, password_hash: str | None, is_admin: bool
    ) -> User:
        now = utcnow()
        result = await self._session.execute(
            insert(UserRow)
            .values(
                username=username,
                email=email,
                password_hash=password_hash,
                is_admin=is_admin,
                created_at=now,
                updated_at=now,
            )
            .returning(*_USER_COLUMNS)
        )
        return user_from_row(result.mappings().one())

    async def get(self, user_id: int) -> User | None:
        row = (await self._session.execute(select(*_USER_COLUMNS).where(UserRow.id == user_id))).mappings()
        found = row.first()
        return user_from_row(found) if found else None

    async def by_username(self, username: str) -> User | None:
        if "\x00" in username:  # no stored name holds NUL, and PostgreSQL refuses to compare with one
            return None
        result = await self._session.execute(select(*_USER_COLUMNS).where(UserRow.username == username))
        found = result.mappings().first()
        return user_from_row(found) if found else None

    async def password_hash(self, user_id: int) -> str | None:
        result = await self._session.execute(select(UserRow.password_hash).where(UserRow.id == user_id))
        return result.scalar_one_or_none()

    async def lock(self, user_id: int) -> bool:
        """Hold the user against concurrent changes of what it owns until the transaction ends (its
        long-term credentials: their count and names), as ``NamespaceStore.lock`` holds a namespace;
        False when the user no longer exists."""
        result = await self._session.execute(_LOCK_USER_SQL[self._session.dialect], {"id": user_id})
        if self._session.dialect == "sqlite":
            return bool(result.rowcount)
        return result.first() is not None


# SQL text run on ``readers.Reads`` (the store's reader for a lone read): every list and detail
# request of the v1 and SWR dialects starts with a namespace by name, every ABEJA one with a
# namespace by id, and most ask for the caller's role; through the session each cost a BEGIN, an ORM
# query and a ROLLBACK.
# Columns in ``namespace_from_record``'s order.
_NAMESPACE_SQL = "SELECT id, name, kind, display_name, creator_id, created_at, updated_at FROM namespaces"
_BY_NAME_SQL = _NAMESPACE_SQL + " WHERE name = $1"
_BY_ID_SQL = _NAMESPACE_SQL + " WHERE id = $1"
_ROLE_SQL = "SELECT role FROM memberships WHERE namespace_id = $1 AND user_id = $2"


# Serialise the membership changes of one namespace until the transaction ends. PostgreSQL: lock the
# namespace's row. SQLite has no row locks, and the driver begins a transaction only at the first
# write (reads before it see whatever was committed then): a write that changes nothing takes the
# database's write lock now, before the memberships are read. Text, not an ORM update: it is nobody's
# action, so the audit trail leaves it out.
_LOCK_SQL = {
    "postgresql": text("SELECT id FROM namespaces WHERE id = :id FOR UPDATE"),
    "sqlite": text("UPDATE namespaces SET updated_at = updated_at WHERE id = :id"),
}


# ``NO KEY UPDATE``: two holders wait for each other, but rows that merely refer to the user (a token
# issued meanwhile: its foreign key's share lock) do not wait.
_LOCK_USER_SQL = {
    "postgresql": text("SELECT id FROM users WHERE id = :id FOR NO KEY UPDATE"),
    "sqlite": text("UPDATE users SET updated_at = updated_at WHERE id = :id"),
}


@lru_cache(maxsize=64)
def _roles_sql(count: int) -> str:
    """The roles of ``count`` users in one namespace ($1); one statement text per count."""
    wanted = ", ".join(f"${number}" for number in range(2, count + 2))
    return f"SELECT user_id, role FROM memberships WHERE namespace_id = $1 AND user_id IN ({wanted})"


def namespace_from_record(record: Any) -> Namespace:
    """A row of ``_BY_NAME_SQL`` (asyncpg's Record or sqlite3's Row) as the domain's Namespace."""
    return Namespace(
        id=record[0],
        name=record[1],
        kind=NamespaceKind(record[2]),
        display_name=record[3],
        creator_id=record[4],
        created_at=record[5],
        updated_at=record[6],
    )


class NamespaceStore:
    def __init__(self, session: LazySession, reader: Reader | None = None) -> None:
        self._session = session
        self._reads = Reads(session, reader)

    async def add(self, *, name: str, kind: NamespaceKind, creator_id: int | None) -> Namespace:
        now = utcnow()
        row = NamespaceRow(name=name, kind=kind.value, creator_id=creator_id, created_at=now, updated_at=now)
        self._session.add(row)
        await self._session.flush()
        return namespace_from_row(row)

    async def by_name(self, name: str) -> Namespace | None:
        if "\x00" in name:  # no stored name holds NUL, and PostgreSQL refuses to compare with one
            return None
        records = await self._reads.fetch(_BY_NAME_SQL, [name])
        return namespace_from_record(records[0]) if records else None

    async def get(self, namespace_id: int) -> Namespace | None:
        records = await self._reads.fetch(_BY_ID_SQL, [namespace_id])
        return namespace_from_record(records[0]) if records else None

    async def list(
        self, *, kind: NamespaceKind | None = None, member_id: int | None = None
    ) -> list[Namespace]:
        query = select(NamespaceRow).order_by(NamespaceRow.name)
        if kind is not None:
            query = query.where(NamespaceRow.kind == kind.value)
        if member_id is not None:
            query = query.join(MembershipRow, MembershipRow.namespace_id == NamespaceRow.id).where(
                MembershipRow.user_id == member_id
            )
        rows = (await self._session.execute(query)).scalars()
        return [namespace_from_row(row) for row in rows]

    async def listing(
        self,
        *,
        member_id: int | None,
        name: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[tuple[Namespace, Role | None, str | None]]:
        """Namespaces by name with ``member_id``'s role (None: every namespace, no role) and the
        creator's username, in one query; ``after`` and ``limit``: a keyset page of them (the name
        is unique)."""
        creator = UserRow.__table__.alias("namespace_creator")
        query = (
            select(NamespaceRow, creator.c.username)
            .outerjoin(creator, creator.c.id == NamespaceRow.creator_id)
            .order_by(NamespaceRow.name)
        )
        if member_id is not None:
            query = query.add_columns(MembershipRow.role).join(
                MembershipRow,
                (MembershipRow.namespace_id == NamespaceRow.id) & (MembershipRow.user_id == member_id),
            )
        if name is not None:
            query = query.where(NamespaceRow.name == name)
        if after is not None:
            query = query.where(NamespaceRow.name > after)
        if limit is not None:
            query = query.limit(limit)
        rows = (await self._session.execute(query)).all()
        return [
            (namespace_from_row(row[0]), Role(row[2]) if member_id is not None else None, row[1])
            for row in rows
        ]

    async def delete(self, namespace_id: int) -> None:
        await self._session.execute(delete(NamespaceRow).where(NamespaceRow.id == namespace_id))

    async def role(self, namespace_id: int, user_id: int) -> Role | None:
        records = await self._reads.fetch(_ROLE_SQL, [namespace_id, user_id])
        return Role(records[0][0]) if records else None

    async def roles(self, namespace_id: int, user_ids: Sequence[int]) -> dict[int, Role]:
        """The membership roles of several users at once (users without one are left out)."""
        if not user_ids:
            return {}
        records = await self._reads.fetch(_roles_sql(len(user_ids)), [namespace_id, *user_ids])
        return {user_id: Role(role) for user_id, role in records}

    async def lock(self, namespace_id: int) -> bool:
        """Hold the namespace against concurrent membership changes until the transaction ends
        (``_LOCK_SQL``); False when it no longer exists."""
        result = await self._session.execute(_LOCK_SQL[self._session.dialect], {"id": namespace_id})
        if self._session.dialect == "sqlite":
            return bool(result.rowcount)
        return result.first() is not None

    async def set_member(self, namespace_id: int, user_id: int, role: Role) -> None:
        updated = await self._session.execute(
            update(MembershipRow)
            .where(MembershipRow.namespace_id == namespace_id, MembershipRow.user_id == user_id)
            .values(role=role.value)
        )
        if updated.rowcount == 0:
            await self._session.execute(
                insert(MembershipRow).values(
                    namespace_id=namespace_id, user_id=user_id, role=role.value, created_at=utcnow()
                )
            )

    async def remove_member(self, namespace_id: int, user_id: int) -> bool:
        result = await self._session.execute(
            delete(MembershipRow).where(
                MembershipRow.namespace_id == namespace_id, MembershipRow.user_id == user_id
            )
        )
        return bool(result.rowcount)

    async def members(self, namespace_id: int) -> builtins.list[Membership]:
        result = await self._session.execute(
            select(*_USER_COLUMNS, MembershipRow.role)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .where(MembershipRow.namespace_id == namespace_id)
            .order_by(UserRow.username)
        )
        return [
            Membership(namespace_id=namespace_id, user=user_from_row(row), role=Role(row["role"]))
            for row in result.mappings()
        ]


# A docker-login token's parent, joined to tell whether it still lives.
_PARENT = aliased(CredentialRow, name="parent_credential")
_TOKEN = "token"
# The origin of SWR's long-term docker-login credentials: API tokens that never expire, which their
# owner may disable (``disabled_at``), enable again and delete.
LONG_TERM = "long-term"


def credential_from_row(row: RowMapping) -> Credential:
    return Credential(
        id=row["credential_id"],
        user=user_from_row(row),
        expires_at=row["expires_at"],
        parent_id=row["parent_id"],
        origin=row["origin"],
    )


def _long_term_from_row(row: RowMapping) -> LongTermCredential:
    return LongTermCredential(
        id=row["credential_id"],
        user=user_from_row(row),
        name=row["description"],
        created_at=row["credential_created_at"],
        enabled=row["disabled_at"] is None,
    )


def _long_term_live() -> tuple[ColumnElement[bool], ...]:
    """A long-term credential not deleted (nor revoked with all its user's tokens); disabled or not."""
    return (
        CredentialRow.kind == _TOKEN,
        CredentialRow.origin == LONG_TERM,
        CredentialRow.revoked_at.is_(None),
    )


def _unexpired(now: datetime) -> ColumnElement[bool]:
    return CredentialRow.expires_at.is_(None) | (CredentialRow.expires_at > now)


class CredentialStore:
    def __init__(self, session: LazySession) -> None:
        self._session = session

    async def add(
        self,
        *,
        user_id: int,
        kind: str,
        lookup: str,
        encrypted_secret: str | None = None,
        description: str = "",
        expires_at: datetime | None = None,
        origin: str = "cli",
        parent_id: int | None = None,
    ) -> int:
        """Store a credential; its id."""
        result = await self._session.execute(
            insert(CredentialRow)
            .values(
                user_id=user_id,
                kind=kind,
                lookup=lookup,
                encrypted_secret=encrypted_secret,
                description=description,
                created_at=utcnow(),
                expires_at=expires_at,
                origin=origin,
                parent_id=parent_id,
            )
            .returning(CredentialRow.id)
        )
        return int(result.scalar_one())

    def _live(self, kind: str, lookup: str) -> Select[*TupleAny]:
        """The credential ``lookup`` of ``kind`` with its user, unless it or its parent was revoked."""
        return (
            select(
                *_USER_COLUMNS,
                CredentialRow.id.label("credential_id"),
                CredentialRow.expires_at,
                CredentialRow.parent_id,
                CredentialRow.last_used_at,
                CredentialRow.encrypted_secret,
                CredentialRow.origin,
            )
            .join(CredentialRow, CredentialRow.user_id == UserRow.id)
            # Revocation takes the derived credentials along (``revoke``); the join also refuses one
            # minted while its parent was being revoked, which that cascade could not see yet. A
            # disabled credential (a long-term one, while its owner wants it so) authenticates nothing.
            .outerjoin(_PARENT, _PARENT.id == CredentialRow.parent_id)
            .where(
                CredentialRow.kind == kind,
                CredentialRow.lookup == lookup,
                CredentialRow.revoked_at.is_(None),
                CredentialRow.disabled_at.is_(None),
                _PARENT.revoked_at.is_(None),
                _PARENT.disabled_at.is_(None),
            )
        )

    async def _live_row(self, kind: str, lookup: str, now: datetime) -> RowMapping | None:
        row = (await self._session.execute(self._live(kind, lookup))).mappings().first()
        if row is None or (row["expires_at"] is not None and row["expires_at"] <= now):
            return None
        return row

    async def access_key(self, lookup: str, *, now: datetime) -> tuple[Credential, str | None] | None:
        """The live access key and its encrypted secret, or None if unknown, revoked or expired."""
        row = await self._live_row("access_key", lookup, now)
        return (credential_from_row(row), row["encrypted_secret"]) if row is not None else None

    async def token(self, lookup: str, *, now: datetime) -> tuple[Credential, datetime | None] | None:
        """A live API token and when it was last used; None if unknown, revoked, expired, or derived
        from a revoked credential."""
        row = await self._live_row(_TOKEN, lookup, now)
        return (credential_from_row(row), row["last_used_at"]) if row is not None else None

    async def touch(self, credential_id: int, at: datetime) -> None:
        """Record a use; bookkeeping, not anybody's action, so it leaves no audit entry."""
        await self._session.execute(
            update(CredentialRow)
            .where(CredentialRow.id == credential_id)
            .values(last_used_at=at)
            .execution_options(**UNAUDITED)
        )

    async def tokens_of(self, user_id: int, *, now: datetime) -> list[TokenInfo]:
        """The user's live API tokens, oldest first."""
        result = await self._session.execute(
            select(CredentialRow)
            .where(
                CredentialRow.user_id == user_id,
                CredentialRow.kind == _TOKEN,
                CredentialRow.revoked_at.is_(None),
                _unexpired(now),
            )
            .order_by(CredentialRow.id)
        )
        return [
            TokenInfo(
                id=row.id,
                kind=row.origin,
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                expires_at=row.expires_at,
                parent_id=row.parent_id,
            )
            for row in result.scalars()
        ]

    async def revoke_token(self, lookup: str) -> list[str]:
        """Revoke the API token ``lookup`` and what was derived from it; the lookups revoked."""
        return await self._revoke(CredentialRow.kind == _TOKEN, CredentialRow.lookup == lookup)

    async def revoke_token_id(self, credential_id: int) -> list[str]:
        return await self._revoke(CredentialRow.kind == _TOKEN, CredentialRow.id == credential_id)

    async def revoke_tokens_of(self, user_id: int) -> list[str]:
        return await self._revoke(CredentialRow.kind == _TOKEN, CredentialRow.user_id == user_id)

    # -- SWR's long-term credentials -------------------------------------------------------------
    def _long_term_rows(self) -> Select[*TupleAny]:
        return (
            select(
                *_USER_COLUMNS,
                CredentialRow.id.label("credential_id"),
                CredentialRow.description,
                CredentialRow.created_at.label("credential_created_at"),
                CredentialRow.disabled_at,
            )
            .join(CredentialRow, CredentialRow.user_id == UserRow.id)
            .where(*_long_term_live())
        )

    async def long_term(self, credential_id: int) -> LongTermCredential | None:
        """The long-term credential of this id, unless deleted."""
        query = self._long_term_rows().where(CredentialRow.id == credential_id)
        row = (await self._session.execute(query)).mappings().first()
        return _long_term_from_row(row) if row is not None else None

    async def long_term_page(self, user_id: int | None, offset: int, limit: int) -> Page[LongTermCredential]:
        """Long-term credentials newest first, of one user (None: everyone's), and their total."""
        mine = () if user_id is None else (CredentialRow.user_id == user_id,)
        query = self._long_term_rows().where(*mine).order_by(CredentialRow.id.desc())
        rows = (await self._session.execute(query.offset(offset).limit(limit))).mappings().all()
        counted = select(func.count()).select_from(CredentialRow).where(*_long_term_live(), *mine)
        total = (await self._session.execute(counted)).scalar_one()
        return Page([_long_term_from_row(row) for row in rows], int(total), offset, limit)

    async def long_term_names(self, user_id: int) -> list[str]:
        """The names of the user's long-term credentials (each at most once: they are unique)."""
        query = select(CredentialRow.description).where(*_long_term_live(), CredentialRow.user_id == user_id)
        return list((await self._session.execute(query)).scalars())

    async def set_disabled(self, credential_id: int, at: datetime | None) -> str | None:
        """Disable the long-term credential from ``at`` (None: enable it); its lookup, for the verified
        memory to forget, or None when there is no such credential."""
        result = await self._session.execute(
            update(CredentialRow)
            .where(CredentialRow.id == credential_id, *_long_term_live())
            .values(disabled_at=at)
            .returning(CredentialRow.lookup)
        )
        return result.scalar_one_or_none()

    async def delete_long_term(self, credential_id: int) -> str | None:
        """Delete the long-term credential (SWR deletes it: the row goes, and its audit entry says
        so); its lookup, for the verified memory to forget, or None when there was none. It has no
        derived credentials (a long-term one mints none)."""
        result = await self._session.execute(
            delete(CredentialRow)
            .where(CredentialRow.id == credential_id, *_long_term_live())
            .returning(CredentialRow.lookup)
        )
        return result.scalar_one_or_none()

    async def _revoke(self, *conditions: ColumnElement[bool]) -> list[str]:
        """Revoke the live credentials matching ``conditions`` and, generation by generation, the
        live ones derived from them; the lookups of all it revoked (expired ones are left as they
        are: they are dead already, and counting them would overstate what a revocation did)."""
        now = utcnow()
        revoked: list[str] = []
        found = await self._live_ids(*conditions, now=now)
        while found:
            ids = list(found)
            await self._session.execute(
                update(CredentialRow).where(CredentialRow.id.in_(ids)).values(revoked_at=now)
            )
            revoked.extend(found.values())
            found = await self._live_ids(CredentialRow.parent_id.in_(ids), now=now)
        return revoked

    async def _live_ids(self, *conditions: ColumnElement[bool], now: datetime) -> dict[int, str]:
        result = await self._session.execute(
            select(CredentialRow.id, CredentialRow.lookup).where(
                *conditions, CredentialRow.revoked_at.is_(None), _unexpired(now)
            )
        )
        return {credential_id: lookup for credential_id, lookup in result}
