"""Typed dependencies shared by the dialects: app state, the per-request service."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from repohub.api.resources import enter
from repohub.auth.batch_signer import BatchSigner
from repohub.auth.registry_bearer import BearerVerifier
from repohub.auth.registry_token import SigningKey
from repohub.auth.secrets import SecretBox
from repohub.config import Settings
from repohub.domain.gateway import RegistryGateway
from repohub.domain.grant_facts import GrantFacts
from repohub.domain.password_budget import PasswordBudget
from repohub.domain.service import Service
from repohub.registry.keys import signing_key
from repohub.store.database import Database, Engine, Sessions
from repohub.store.faults import is_unavailable
from repohub.store.gate import Gate
from repohub.store.readers import Reader


@dataclass(slots=True)
class AppState:
    """Everything one app keeps between requests (two apps in one process share none of it): the
    database with its memory of verified tokens and commits (``store.database``), the grant facts,
    the password budget, the token signer."""

    settings: Settings
    database: Database
    secret_box: SecretBox
    registry: RegistryGateway | None = None  # client of REPOHUB_REGISTRY_URL, when set
    grant_facts: GrantFacts = field(default_factory=GrantFacts)  # registry token grants, briefly
    # Failed password checks per user, this app's own (``domain.password_budget``); made from
    # LOGIN_RATE_PER_USER by the app, none by default.
    password_budget: PasswordBudget = field(default_factory=lambda: PasswordBudget(0))
    _signing_key: SigningKey | None = None
    _token_signer: BatchSigner | None = None
    _token_verifier: BearerVerifier | None = None

    @property
    def signing_key(self) -> SigningKey:
        """This app's registry token key, loaded (or created) on first use and kept: resolving the
        key's configured paths on every ``GET /registry/token`` cost more than a tenth of the
        request."""
        if self._signing_key is None:
            self._signing_key = signing_key(self.settings)
        return self._signing_key

    @property
    def token_signer(self) -> BatchSigner:
        """The registry token signer over ``signing_key``, made on first use."""
        if self._token_signer is None:
            self._token_signer = BatchSigner(self.signing_key)
        return self._token_signer

    @property
    def token_verifier(self) -> BearerVerifier:
        """Reads back the registry tokens ``signing_key`` signed (the proxy's push check), made on
        first use: its public key is derived once, not on every manifest push."""
        if self._token_verifier is None:
            settings = self.settings
            self._token_verifier = BearerVerifier.of(
                self.signing_key, issuer=settings.registry_issuer, service=settings.registry_service
            )
        return self._token_verifier

    # The database's parts, for the readiness probe and tests; requests go through ``database``.
    @property
    def engine(self) -> Engine:
        return self.database.engine

    @property
    def sessions(self) -> Sessions:
        return self.database.sessions

    @property
    def reader(self) -> Reader | None:
        return self.database.reader

    @property
    def session_gate(self) -> Gate:
        return self.database.gate


def state_of(request: Request) -> AppState:
    """The app's state, which ``create_app``'s lifespan put there: the one reader of it, for the code
    that runs outside a dependency (``app_state``, ``bound_service``, links)."""
    state: AppState = request.app.state.repohub
    return state


async def app_state(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hand-off
    # (Condition.notify/wait in the profiles) on every request for a dictionary lookup. It takes only
    # the request, so a PlainRoute endpoint gets it too (``api.routing``).
    return state_of(request)


StateDep = Annotated[AppState, Depends(app_state)]


@asynccontextmanager
async def service_session(state: AppState) -> AsyncIterator[Service]:
    """A service over the request's session, acting for nobody until a dialect binds the caller. The
    session is made at its first statement, which waits its turn for a slot of the pool first
    (``store.gate``), up to DB_POOL_TIMEOUT; requests answered from memory or lone reads make none."""
    store = state.database.store()
    try:
        yield Service(
            store,
            state.secret_box,
            registry=state.registry,
            grant_facts=state.grant_facts,
            password_budget=state.password_budget,
            login_token_ttl=state.settings.login_token_lifetime,
            allow_private=state.settings.webhook_allow_private,
        )
    finally:
        try:
            await store.session.close()
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
        service = await enter(request, service_session(state_of(request)))
        await bind(service, request)
        return service

    # Read by api.openapi.install; a function attribute, which mypy does not let a function grow.
    dependency.openapi_parameters = headers  # type: ignore[attr-defined]
    return dependency


async def _nobody(_service: Service, _request: Request) -> None:
    """Routes that authenticate the caller themselves (logging in, registry events)."""


anonymous_service = bound_service(_nobody, [])
AnonymousServiceDep = Annotated[Service, Depends(anonymous_service)]
