"""The session of a unit of work, made when a statement first needs it.

Most hot requests never need one: a registry token is granted from memory (verified tokens, grant
facts) and list pages run as lone reads on the reader's connections. Making an SQLAlchemy session
and taking a slot of the pool's gate for them anyway was a tenth of a token request's CPU
(docs/benchmarks.md), and the slot held other requests back for nothing. Stores use this class as
they would an ``AsyncSession``; it offers the part of that interface they use.

It also knows whether its open transaction has written anything (:meth:`writing`): the store's
reads (``readers.Reads``) go to the session only then, so that a use case reads what it wrote, and to
the lone reader otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVarTuple, overload

from sqlalchemy import CursorResult, Executable, Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.util.typing import TupleAny

from repohub.store.gate import Gate
from repohub.store.pg_reader import fetch_on as pg_fetch_on
from repohub.store.sqlite_reader import fetch_on as sqlite_fetch_on

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import _CoreAnyExecuteParams
    from sqlalchemy.sql.dml import UpdateBase
    from sqlalchemy.sql.elements import TextClause
    from sqlalchemy.sql.selectable import TypedReturnsRows

_Ts = TypeVarTuple("_Ts")


class LazySession:
    def __init__(self, make: Callable[[], AsyncSession], dialect: str, gate: Gate | None = None) -> None:
        """``make`` a session on first use; before its first statement wait for a slot of ``gate``
        (held until :meth:`close`). ``dialect``: the database's, known without a session."""
        self._make = make
        self._gate = gate
        self._session: AsyncSession | None = None
        self._holds_slot = False
        # A statement other than a SELECT ran in the open transaction (or may have: a connection
        # handed out, a flush); reset when the transaction ends.
        self._wrote = False
        self.dialect = dialect

    @classmethod
    def around(cls, session: AsyncSession) -> LazySession:
        """A session someone else made (the CLI, tests): used as it is, no gate."""
        lazy = cls(lambda: session, session.get_bind().dialect.name)
        lazy._session = session
        return lazy

    @property
    def made(self) -> AsyncSession | None:
        return self._session

    def _sync(self) -> AsyncSession:
        if self._session is None:
            self._session = self._make()
        return self._session

    async def _opened(self) -> AsyncSession:
        if self._gate is not None and not self._holds_slot:
            await self._gate.acquire()
            self._holds_slot = True
        return self._sync()

    # -- what the stores use of AsyncSession ----------------------------------------------------
    def in_transaction(self) -> bool:
        return self._session is not None and self._session.in_transaction()

    def writing(self) -> bool:
        """The open transaction wrote, or objects wait to be flushed: reads must see them."""
        session = self._session
        if session is None:
            return False
        if self._wrote and session.in_transaction():
            return True
        return bool(session.new or session.dirty or session.deleted)

    def holding(self) -> bool:
        """A connection (an open transaction) or a slot of the gate is held."""
        return self._holds_slot or self.in_transaction()

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of a store's SQL text (``$n`` parameters) on the session's own connection, alike to
        the lone reader's: by name and by position, the same value types."""
        connection = await (await self._opened()).connection()
        if self.dialect == "postgresql":
            return await pg_fetch_on(connection, sql, params)
        return await sqlite_fetch_on(connection, sql, params)

    @property
    def new(self) -> Any:
        return self._session.new if self._session is not None else ()

    @property
    def dirty(self) -> Any:
        return self._session.dirty if self._session is not None else ()

    @property
    def deleted(self) -> Any:
        return self._session.deleted if self._session is not None else ()

    def add(self, instance: object) -> None:
        self._sync().add(instance)  # no statement yet: the slot is taken at the flush

    # AsyncSession.execute's typing, plus what it returns at run time for DML and text (a
    # CursorResult, whose ``rowcount`` the stores read).
    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[*_Ts],
        params: _CoreAnyExecuteParams | None = None,
        **kwargs: Any,
    ) -> Result[*_Ts]: ...
    @overload
    async def execute(
        self, statement: UpdateBase | TextClause, params: _CoreAnyExecuteParams | None = None, **kwargs: Any
    ) -> CursorResult[*TupleAny]: ...
    @overload
    async def execute(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None, **kwargs: Any
    ) -> Result[*TupleAny]: ...
    async def execute(
        self, statement: Executable, params: _CoreAnyExecuteParams | None = None, **kwargs: Any
    ) -> Result[*TupleAny]:
        # Text counts as a write: the namespace lock (``accounts._LOCK_SQL``) is one.
        if not getattr(statement, "is_select", False):
            self._wrote = True
        return await (await self._opened()).execute(statement, params, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._opened()).get(*args, **kwargs)

    async def flush(self) -> None:
        self._wrote = True
        await (await self._opened()).flush()

    async def connection(self) -> AsyncConnection:
        """The transaction's connection, for a caller's own statements (taken to be writes)."""
        self._wrote = True
        return await (await self._opened()).connection()

    async def commit(self) -> None:
        await (await self._opened()).commit()
        self._wrote = False
        self._release_slot()  # the connection went back to the pool with the transaction

    async def rollback(self) -> None:
        self._wrote = False
        try:
            if self._session is not None:
                await self._session.rollback()
        finally:
            self._release_slot()

    def _release_slot(self) -> None:
        if self._holds_slot and self._gate is not None:
            self._holds_slot = False
            self._gate.release()

    async def close(self) -> None:
        """Give the connection back (if one is held) and the gate's slot; a later statement opens
        the session again."""
        self._wrote = False
        try:
            if self._session is not None and self._session.in_transaction():
                await self._session.close()
        finally:
            self._release_slot()
