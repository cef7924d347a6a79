"""Typed dependencies shared by the dialects: app state, the per-request service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from repohub.api.resources import enter
from repohub.auth.batch_signer import BatchSigner
from repohub.auth.secrets import SecretBox
from repohub.config import Settings
from repohub.domain.gateway import RegistryGateway
from repohub.domain.grant_facts import GrantFacts
from repohub.domain.password_budget import PasswordBudget
from repohub.domain.service import Service
from repohub.registry.keys import signing_key
from repohub.store.faults import is_unavailable
from repohub.store.gate import Gate
from repohub.store.readers import Reader
from repohub.store.session import LazySession
from repohub.store.unit import Store


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    secret_box: SecretBox
    registry: RegistryGateway | None = None  # client of REPOHUB_REGISTRY_URL, when set
    reader: Reader | None = None  # connections of the store's own for lone hot reads
    # Fair admission to the engine's pool, one slot per pooled connection (``store.gate``); the pool's
    # overflow stays free for the rest (readiness checks), and is not opened and closed per request.
    session_gate: Gate = field(default_factory=lambda: Gate(10, 2.0))
    grant_facts: GrantFacts = field(default_factory=GrantFacts)  # registry token grants, briefly
    # Failed password checks per user, this app's own (``domain.password_budget``); made from
    # LOGIN_RATE_PER_USER by the app, none by default.
    password_budget: PasswordBudget = field(default_factory=lambda: PasswordBudget(0))
    _token_signer: BatchSigner | None = None

    @property
    def token_signer(self) -> BatchSigner:
        """The registry token signer, its key loaded (or created) on first use; kept here because
        resolving the key's configured paths on every ``GET /registry/token`` cost more than a tenth
        of the request."""
        if self._token_signer is None:
            self._token_signer = BatchSigner(signing_key(self.settings))
        return self._token_signer


async def app_state(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hand-off
    # (Condition.notify/wait in the profiles) on every request for a dictionary lookup.
    return request.app.state.repohub  # type: ignore[no-any-return]  # Starlette's State is untyped


StateDep = Annotated[AppState, Depends(app_state)]


@asynccontextmanager
async def service_session(state: AppState) -> AsyncIterator[Service]:
    """A service over the request's session, acting for nobody until a dialect binds the caller. The
    session is made at its first statement, which waits its turn for a slot of the pool first
    (``store.gate``), up to DB_POOL_TIMEOUT; requests answered from memory or lone reads make none."""
    session = LazySession(state.sessions, state.engine.dialect.name, state.session_gate)
    try:
        store = Store(session, state.reader)
        yield Service(
            store,
            state.secret_box,
            registry=state.registry,
            grant_facts=state.grant_facts,
            password_budget=state.password_budget,
            login_token_ttl=state.settings.login_token_lifetime,
        )
    finally:
        try:
            await session.close()
        except Exception as error:
            # Closing runs after the answer went out; a connection that died with the database
            # is dropped by the pool, and there is nobody left to tell.
            if not is_unavailable(error):
                raise


Binder = Callable[[Service, Request], Awaitable[None]]
BoundService = Callable[[Request], Awaitable[Service]]


def bound_service(bind: Binder, headers: list[dict[str, Any]]) -> BoundService:
    """A dialect's dependency: a service over a fresh session (closed when the request is done,
    ``api.resources``), bound to the caller by ``bind``, which reads the credential headers from the
    request itself.

    One dependency with no declared parameter: FastAPI's solving of a chain of dependencies and of
    header parameters on every request cost more CPU than an SWR list page's own work
    (docs/benchmarks.md). ``headers`` (``api.parameters.parameter``) go into the OpenAPI document of
    every operation that uses the dependency instead (``api.openapi.install``).
    """

    async def dependency(request: Request) -> Service:
        service = await enter(request, service_session(request.app.state.repohub))
        await bind(service, request)
        return service

    # Read by api.openapi.install; a function attribute, which mypy does not let a function grow.
    dependency.openapi_parameters = headers  # type: ignore[attr-defined]
    return dependency


async def _nobody(_service: Service, _request: Request) -> None:
    """Routes that authenticate the caller themselves (logging in, registry events)."""


anonymous_service = bound_service(_nobody, [])
AnonymousServiceDep = Annotated[Service, Depends(anonymous_service)]
