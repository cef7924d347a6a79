"""Fixtures: every API test runs on SQLite and on PostgreSQL, against the real app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from repohub.app import create_app
from repohub.config import Settings
from repohub.store import migrate
from tests.postgres import create_database
from tests.world import World, empty_tables, token_header

__all__ = ["BACKENDS", "token_header"]  # token_header: re-exported for the API tests that import it here

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
        # No scheduled retention in the in-process app: its wake-ups would be statements in tests
        # that count them (tests/ops/test_retention_schedule.py runs the schedule in real servers).
        retention_interval=0,
        # No delivery worker either (its polls would be statements too); the webhook tests run their
        # own workers over this app's database (tests/domain/test_webhook_delivery.py).
        webhook_delivery=False,
        _env_file=None,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="session", autouse=False)
async def clean(app: FastAPI) -> AsyncIterator[None]:
    """Empty every table before a test (``tests.world.empty_tables``)."""
    await empty_tables(app)
    yield


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI, clean: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def world(app: FastAPI, clean: None) -> World:
    """An empty world on emptied tables, to build in (``tests/world.py``)."""
    return World(app)


@pytest_asyncio.fixture(loop_scope="session")
async def accounts(app: FastAPI, clean: None) -> World:
    """The same builder under the name the API tests know it by (users, orgs, members, services).

    Not made from ``world``: modules that define a ``world`` of their own from ``accounts``
    (tests/api/registry/test_token.py) then get the conftest's ``world`` below their own, a chain
    pytest resolves but a reader has to think twice about.
    """
    return World(app)
