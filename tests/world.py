"""The tests' one world builder and one service factory.

``make_service`` is how every test gets a ``Service``: over a session the test opened, the way the CLI
makes one (no reader, no app memos), so what a test sets up is committed and visible to the next
request. ``open_service`` opens that session on an app and binds a caller; ``World`` builds users,
organisations with their members, repositories and tags over it, each step committed on its own, so
API tests, domain tests and store tests start from the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from repohub.auth.secrets import SecretBox, hash_password
from repohub.domain.entities import NamespaceKind, Principal, Repository, Role, User
from repohub.domain.gateway import RegistryGateway
from repohub.domain.service import Service
from repohub.store.tables import Base
from repohub.store.unit import Store

__all__ = [
    "DOCKER_V2",
    "EPOCH",
    "OCI_MANIFEST",
    "PASSWORD",
    "World",
    "empty_tables",
    "make_service",
    "open_service",
    "quick_user",
    "token_header",
]

PASSWORD = "password-1"  # every quick user's password
# create_user hashes with argon2 (deliberately slow; about a second on a busy machine), which would
# dominate tests that need several users: quick users share this one precomputed hash.
_PASSWORD_HASH = hash_password(PASSWORD)

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def make_service(
    session: AsyncSession, secret_box: SecretBox, *, registry: RegistryGateway | None = None
) -> Service:
    """A service over ``session``, acting for nobody (``open_service`` binds a caller)."""
    return Service(Store(session), secret_box, registry=registry)


@asynccontextmanager
async def open_service(
    app: FastAPI, username: str | None = None, *, registry: RegistryGateway | None = None
) -> AsyncIterator[Service]:
    """A service over a fresh session of ``app``, acting as ``username`` (``None``: anonymous)."""
    state = app.state.repohub
    async with state.sessions() as session:
        service = make_service(session, state.secret_box, registry=registry)
        if username is not None:
            service.acting_as(Principal(await service.accounts.user(username), via="token"))
        yield service


async def quick_user(store: Store, name: str, *, is_admin: bool = False) -> User:
    """A user with password PASSWORD and its personal namespace, the rows create_user writes."""
    async with store.transaction():
        user = await store.users.add(
            username=name, email=f"{name}@example.test", password_hash=_PASSWORD_HASH, is_admin=is_admin
        )
        namespace = await store.namespaces.add(name=name, kind=NamespaceKind.USER, creator_id=user.id)
        await store.namespaces.set_member(namespace.id, user.id, Role.ADMIN)
    return user


async def empty_tables(app: FastAPI) -> None:
    """Empty every table of ``app``'s database (children first; identities restart on PostgreSQL):
    the ``clean`` fixture before each test, or a module's own world once (``tests/api/
    test_access_dialects.py``)."""
    engine = app.state.repohub.engine
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))
    # The trigger's notice of the TRUNCATE is on its way; the next test must not see this one's rules.
    app.state.repohub.database.memory.immutable_rules.forget()


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def _split(path: str) -> tuple[str, str]:
    # A namespace never holds a "/", a repository name may: the first "/" parts them.
    namespace, _, name = path.partition("/")
    return namespace, name


@dataclass
class World:
    """Users, organisations, repositories and tags, written through the domain services.

    Each method commits before it returns. ``tokens`` keeps each user's API token by name.
    """

    app: FastAPI
    tokens: dict[str, str] = field(default_factory=dict)

    def service(
        self, username: str | None = None, *, registry: RegistryGateway | None = None
    ) -> AbstractAsyncContextManager[Service]:
        return open_service(self.app, username, registry=registry)

    # -- building -----------------------------------------------------------------------------------

    async def account(self, name: str, *, admin: bool = False, password: str | None = None) -> User:
        """A user with its personal namespace, and no token.

        Without ``password`` the user's password is PASSWORD, written with a precomputed hash; with
        one, through the full ``create_user`` path (argon2 and all).
        """
        async with self.service() as service:
            if password is None:
                return await quick_user(service.store, name, is_admin=admin)
            email = f"{name}@example.test"
            return await service.accounts.create_user(name, password, email=email, is_admin=admin)

    async def user(self, name: str, *, admin: bool = False, password: str | None = None) -> str:
        """A user (as ``account``) and a new API token for it, returned and kept in ``tokens``."""
        await self.account(name, admin=admin, password=password)
        async with self.service() as service:
            self.tokens[name] = (await service.accounts.create_token(name)).token
        return self.tokens[name]

    async def org(
        self, name: str, *, owner: str | None = None, members: Mapping[str, Role] | None = None
    ) -> int:
        """An organisation (``owner`` its admin) with ``members`` in their roles; returns its id."""
        async with self.service() as service:
            org = await service.accounts.create_org(name, owner=owner)
            for username, role in (members or {}).items():
                await service.accounts.add_member(name, username, role)
        return org.id

    async def member(self, namespace: str, user: str, role: Role) -> None:
        async with self.service() as service:
            await service.accounts.add_member(namespace, user, role)

    async def repository(self, path: str, *, by: str, public: bool = False, **fields: Any) -> Repository:
        """``namespace/name`` created by the user ``by``, as the catalogue creates it."""
        namespace, name = _split(path)
        async with self.service(by) as service:
            return await service.catalog.create_repository(namespace, name, is_public=public, **fields)

    async def tag(
        self,
        repository: str | int,
        name: str,
        *,
        digest: str | None = None,
        image_id: str | None = None,
        media_type: str = DOCKER_V2,
        size: int = 100,
        manifest: str | None = None,
        creator: str | None = None,
        at: datetime = EPOCH,
    ) -> None:
        """A tag row as a registry push leaves it, with the repository's summary recounted.

        ``repository`` is a ``namespace/name`` path or an id. The digest defaults to one derived from
        the repository and the tag, the image id to one derived from the digest.
        """
        async with self.service() as service:
            store = service.store
            if isinstance(repository, int):
                repository_id = repository
            else:
                repository_id = await self._repository_id(store, repository)
            digest = digest or "sha256:" + hashlib.sha256(f"{repository}:{name}".encode()).hexdigest()
            creator_id = (await service.accounts.user(creator)).id if creator else None
            async with store.transaction():
                await store.tags.upsert(
                    repository_id,
                    name=name,
                    digest=digest,
                    image_id=image_id or hashlib.sha256(f"config:{digest}".encode()).hexdigest(),
                    media_type=media_type,
                    size=size,
                    manifest=manifest,
                    creator_id=creator_id,
                    at=at,
                )
                await store.tags.refresh_summary(repository_id)

    # -- reading back -------------------------------------------------------------------------------

    async def user_id(self, name: str) -> int:
        async with self.service() as service:
            return (await service.accounts.user(name)).id

    async def repository_id(self, path: str) -> int:
        async with self.service() as service:
            return await self._repository_id(service.store, path)

    async def count(self, table: Any) -> int:
        """Rows in ``table`` (a mapped class or a Table)."""
        async with self.app.state.repohub.sessions() as session:
            return int((await session.execute(select(func.count()).select_from(table))).scalar_one())

    def auth(self, name: str) -> dict[str, str]:
        """The v1 header carrying ``name``'s API token."""
        return token_header(self.tokens[name])

    @staticmethod
    async def _repository_id(store: Store, path: str) -> int:
        namespace_name, name = _split(path)
        namespace = await store.namespaces.by_name(namespace_name)
        assert namespace is not None, f"no namespace {namespace_name!r}"
        found = await store.repositories.by_name(namespace.id, name)
        assert found is not None, f"no repository {path!r}"
        return found.id
