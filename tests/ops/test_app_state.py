"""Two apps in one process share no state: each has its own verified-token memory, commit count,
audit recorder and signing key (issue 14, item 6); sessions made outside an app record no audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from repohub.app import create_app
from repohub.auth.secrets import token_digest
from repohub.config import Settings
from repohub.domain.clock import utcnow
from repohub.domain.service import Service
from repohub.store.tables import AuditRow, NamespaceRow
from repohub.store.unit import Store
from tests.world import World


@asynccontextmanager
async def second_app(settings: Settings, **changes: object) -> AsyncIterator[FastAPI]:
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        yield application


async def _verify(app: FastAPI, token: str) -> Store:
    state = app.state.repohub
    async with state.sessions() as session:
        service = Service(Store(session), state.secret_box)
        await service.accounts.verify_token(token)
        return service.store


async def test_each_app_remembers_its_own_verified_tokens_and_commits(settings, app, accounts: World):
    token = await accounts.user("solo")
    async with second_app(settings) as other:
        first, second = app.state.repohub.database.memory, other.state.repohub.database.memory
        assert first is not second
        # A Store over an app's session carries that app's memory (tests and the CLI make such).
        assert (await _verify(app, token)).memory is first
        moment = utcnow()
        assert first.verified_tokens.get(token_digest(token), moment) is not None
        assert second.verified_tokens.get(token_digest(token), moment) is None
        before = (first.commits, second.commits)
        await accounts.org("soloorg", owner="solo")  # a write through the first app's sessions
        assert (first.commits, second.commits) == (before[0] + 1, before[1])


async def test_each_app_keeps_its_own_signing_key(settings, app, tmp_path):
    async with second_app(settings, data_dir=tmp_path) as other:
        mine, theirs = app.state.repohub.signing_key, other.state.repohub.signing_key
        assert mine is app.state.repohub.signing_key  # loaded once, then kept
        assert mine.kid != theirs.kid


async def test_only_the_apps_sessions_are_audited(app, clean):
    engine = app.state.repohub.engine
    async with async_sessionmaker(engine)() as plain:  # SQLAlchemy's own Session class: no recorder
        await plain.execute(insert(NamespaceRow).values(name="plain", kind="org"))
        await plain.commit()
    async with app.state.repohub.sessions() as audited:
        await audited.execute(insert(NamespaceRow).values(name="audited", kind="org"))
        await audited.commit()
        targets = (await audited.execute(select(AuditRow.target))).scalars().all()
        assert (await audited.execute(select(func.count()).select_from(AuditRow))).scalar_one() == 1
    assert [target for target in targets if "name=" in target] == ["kind=org name=audited"]
