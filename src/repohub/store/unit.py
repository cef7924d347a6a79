"""The unit of work a request gets: one session, the stores over it, commit with conflict mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from repohub.domain.errors import Conflict
from repohub.store.accounts import CredentialStore, NamespaceStore, UserStore
from repohub.store.audit import AuditStore
from repohub.store.counts import CountStore
from repohub.store.grants import GrantStore, ShareStore
from repohub.store.immutables import ImmutableRuleStore
from repohub.store.keyset import KeysetStore
from repohub.store.memory import INFO_KEY, Memory
from repohub.store.outbox import OutboxStore
from repohub.store.readers import Reader
from repohub.store.registry import RegistryStore
from repohub.store.repositories import RepositoryStore, TagStore
from repohub.store.retentions import RetentionStore
from repohub.store.robots import RobotStore
from repohub.store.schedules import ScheduleStore
from repohub.store.session import LazySession
from repohub.store.webhooks import WebhookStore


class Store:
    def __init__(
        self, session: AsyncSession | LazySession, reader: Reader | None = None, memory: Memory | None = None
    ) -> None:
        """``session``: the request's (``LazySession``), or one made by the caller; ``reader``:
        connections of the store's own for lone hot reads (``readers``), without it all goes through
        the session; ``memory``: the database's (``store.memory``), by default the one the session
        carries (``store.engine.create_sessionmaker``), else a new one."""
        if isinstance(session, AsyncSession):
            if memory is None:
                memory = session.info.get(INFO_KEY)
            session = LazySession.around(session)
        self.memory: Memory = memory if memory is not None else Memory()
        self.session = session
        self._reader = reader

    # Each store is made at its first use: a request uses two or three of the nineteen.
    @cached_property
    def users(self) -> UserStore:
        return UserStore(self.session)

    @cached_property
    def namespaces(self) -> NamespaceStore:
        return NamespaceStore(self.session, self._reader)

    @cached_property
    def credentials(self) -> CredentialStore:
        return CredentialStore(self.session)

    @cached_property
    def robots(self) -> RobotStore:
        return RobotStore(self.session)

    @cached_property
    def repositories(self) -> RepositoryStore:
        return RepositoryStore(self.session, self._reader)

    @cached_property
    def tags(self) -> TagStore:
        return TagStore(self.session, self._reader)

    @cached_property
    def keyset(self) -> KeysetStore:
        return KeysetStore(self.session, self._reader)

    @cached_property
    def audit(self) -> AuditStore:
        return AuditStore(self.session)

    @cached_property
    def registry(self) -> RegistryStore:
        return RegistryStore(self.session, self._reader)

    @cached_property
    def retentions(self) -> RetentionStore:
        return RetentionStore(self.session)

    @cached_property
    def schedules(self) -> ScheduleStore:
        return ScheduleStore(self.session)

    @cached_property
    def immutables(self) -> ImmutableRuleStore:
        return ImmutableRuleStore(self.session, self._reader, self.memory.immutable_rules)

    @cached_property
    def webhooks(self) -> WebhookStore:
        return WebhookStore(self.session)

    @cached_property
    def outbox(self) -> OutboxStore:
        return OutboxStore(self.session)

    @cached_property
    def grants(self) -> GrantStore:
        return GrantStore(self.session)

    @cached_property
    def shares(self) -> ShareStore:
        return ShareStore(self.session)

    @cached_property
    def counts(self) -> CountStore:
        return CountStore(self.session)

    async def commit_bookkeeping(self) -> None:
        """Commit a write no remembered read depends on (a credential's last use): ``memory.commits``
        is left alone, so this process's memos of grant facts stay valid."""
        try:
            await self.session.commit()
        except BaseException:
            await self.session.rollback()
            raise

    @asynccontextmanager
    async def transaction(self, *, conflict: str = "the resource already exists") -> AsyncIterator[None]:
        """Commit what the block wrote; a uniqueness violation anywhere in it becomes a Conflict."""
        try:
            yield
            await self.session.commit()
            self.memory.commits += 1
            self.immutables.committed()
            if self.outbox.added:  # new deliveries: this process's workers look now, not at their poll
                self.outbox.added = False
                self.memory.webhook_nudge.set()
        except IntegrityError as error:
            await self.session.rollback()
            self.immutables.changed = self.outbox.added = False
            raise Conflict(conflict) from error
        except BaseException:
            await self.session.rollback()
            self.immutables.changed = self.outbox.added = False
            raise
