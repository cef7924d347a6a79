"""Fixtures: every API test runs on SQLite and on PostgreSQL, against the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text

from repohub.app import create_app
from repohub.config import Settings
from repohub.domain.entities import Principal, Role
from repohub.domain.service import Service
from repohub.store import migrate
from repohub.store.tables import Base
from repohub.store.unit import Store
from tests.postgres import create_database

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database of each kind, shared by the session and emptied between tests."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'repohub.db'}"
    else:
        url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret-key",
        registry_host="registry.example.test",
        domain_name="repohub.test",
        _env_file=None,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="session", autouse=False)
async def clean(app: FastAPI) -> AsyncIterator[None]:
    """Empty every table before a test (children first; identities restart on PostgreSQL)."""
    engine = app.state.repohub.engine
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))
    yield


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI, clean: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class Accounts:
    """Creates users, orgs and tokens straight through the service, the way the CLI does."""

    app: FastAPI

    def _service(self, session: object) -> Service:
        return Service(Store(session), self.app.state.repohub.secret_box)  # type: ignore[arg-type]

    async def user(self, name: str, *, admin: bool = False, password: str = "pw-" + "x" * 8) -> str:
        """Create a user and return an API token for it."""
        async with self.app.state.repohub.sessions() as session:
            service = self._service(session)
            await service.accounts.create_user(name, password, email=f"{name}@example.test", is_admin=admin)
            return (await service.accounts.create_token(name)).token

    async def org(self, name: str, *, owner: str | None = None) -> int:
        async with self.app.state.repohub.sessions() as session:
            return (await self._service(session).accounts.create_org(name, owner=owner)).id

    async def member(self, namespace: str, user: str, role: Role) -> None:
        async with self.app.state.repohub.sessions() as session:
            await self._service(session).accounts.add_member(namespace, user, role)

    async def service_for(self, username: str | None) -> AsyncIterator[Service]:
        async with self.app.state.repohub.sessions() as session:
            service = self._service(session)
            if username is not None:
                user = await service.accounts.user(username)
                service.acting_as(Principal(user, via="token"))
            yield service


@pytest_asyncio.fixture(loop_scope="session")
async def accounts(app: FastAPI, clean: None) -> Accounts:
    return Accounts(app)


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}
