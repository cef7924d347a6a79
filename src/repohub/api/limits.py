"""Abuse limits in front of every dialect: request body size, and rate limits on credential endpoints.

Both answer in the dialect's own error format (the renderer registered for the path), so SDKs parse
a 413 or 429 like any other error. Rate limits are counted per process in fixed one-minute windows:
with R replicas a client gets at most R times the limit, which is what a per-replica limit means.

The token endpoints' per-user limits key on who the request claims to be, read from its headers
before authentication and without the database: a Basic username, an SWR access key id, or the
SHA-256 of a bearer / X-Auth-Token token (the same digest the store looks tokens up by; never the
token itself). Logins are limited per client here; per user, every failed password check (the login's
and the registry token's alike) is counted by the domain, on the username it checked
(``domain.password_budget``, LOGIN_RATE_PER_USER): a body read here could say another name.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from repohub.api.errors import ErrorRenderers, Failure
from repohub.api.proxy import app_path
from repohub.auth import aksk
from repohub.auth.secrets import token_digest
from repohub.config import Settings
from repohub.domain.errors import InvalidInput, RateLimited
from repohub.observability.metrics import RATE_LIMITED

WINDOW = 60.0


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body without Content-Length grows too big. An HTTPException,
    because FastAPI turns any other error while reading a body into a 400; the app's handler renders
    it in the dialect's format."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


@dataclass
class Window:
    """Fixed-window counters; the whole table is dropped when the window turns, so memory stays bounded."""

    limit: int
    started: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        if self.limit <= 0:
            return True
        if now - self.started >= WINDOW:
            self.started, self.counts = now, {}
        count = self.counts.get(key, 0) + 1
        self.counts[key] = count
        return count <= self.limit


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    login_per_client: int
    token_per_client: int
    token_per_user: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            max_body_bytes=settings.max_body_bytes,
            login_per_client=settings.login_rate_per_client,
            token_per_client=settings.token_rate_per_client,
            token_per_user=settings.token_rate_per_user,
        )


def _header(scope: Scope, name: bytes) -> str:
    key: bytes  # an ASGI scope's values are Any; declared, not converted (no cost per request)
    value: bytes
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def _basic_username(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode().partition(":")[0] or None
    except ValueError:
        return None


def _token_key(token: str) -> str | None:
    # ":" cannot occur in a Basic username (it ends there), so these keys never collide with one.
    token = token.strip()
    return f"token:{token_digest(token)}" if token else None


def _registry_caller(scope: Scope) -> str | None:
    """``GET /registry/token``: Basic names its user; Bearer is an API token."""
    scheme, _, value = _header(scope, b"authorization").strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        return _basic_username(value.strip())
    return _token_key(value) if scheme == "bearer" else None


def _swr_caller(scope: Scope) -> str | None:
    """SWR's docker-login call, in the order ``swr_service`` reads it: a signature's access key
    id, else X-Auth-Token. Anything else is a 401 without a database hit, so it needs no key."""
    authorization = _header(scope, b"authorization").strip()
    if authorization.startswith(aksk.ALGORITHM):
        try:
            return f"ak:{aksk.parse_authorization(authorization).access_key}"
        except aksk.SignatureError:
            return None
    return _token_key(_header(scope, b"x-auth-token"))


# (method, path without trailing slash) → limit family; token paths → who the caller claims to be.
LOGIN_PATHS = {("POST", "/v1/generate-api-token")}
TOKEN_PATHS: dict[tuple[str, str], Callable[[Scope], str | None]] = {
    ("GET", "/registry/token"): _registry_caller,
    ("POST", "/v2/manage/utils/authorizationtoken"): _swr_caller,
}


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, limits: Limits, renderers: ErrorRenderers) -> None:
        self.app = app
        self.limits = limits
        self.renderers = renderers
        self.windows = {
            "login_client": Window(limits.login_per_client),
            "token_client": Window(limits.token_per_client),
            "token_user": Window(limits.token_per_user),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared.isascii() and declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            await self._refuse(scope, receive, send, self._too_large())
            return
        key = (scope["method"], app_path(scope).rstrip("/"))
        if key in LOGIN_PATHS or key in TOKEN_PATHS:
            family = "login" if key in LOGIN_PATHS else "token"
            refusal = self._rate_check(scope, family, key)
            if refusal is not None:
                await self._refuse(scope, receive, send, refusal, retry_after=True)
                return
        await self._guarded(scope, receive, send)

    # -- body size ------------------------------------------------------------------------------
    def _too_large(self) -> Failure:
        message = f"the request body is larger than {self.limits.max_body_bytes} bytes"
        return Failure(413, InvalidInput.code, message)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count body bytes as the app reads them (chunked bodies have no Content-Length)."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limits.max_body_bytes:
                    raise BodyTooLarge(self.limits.max_body_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, self._too_large())

    # -- rate limits ----------------------------------------------------------------------------
    def _rate_check(self, scope: Scope, family: str, path: tuple[str, str]) -> Failure | None:
        now = time.monotonic()
        client = scope.get("client")
        client_key = client[0] if client else "?"
        if not self.windows[f"{family}_client"].allow(client_key, now):
            RATE_LIMITED.labels(f"{family}_per_client").inc()
            return Failure(429, RateLimited.code, "too many requests from this client, retry in a minute")
        if family == "login":
            return None  # per user: the domain's budget of failed password checks
        user = TOKEN_PATHS[path](scope)
        if user is not None and not self.windows["token_user"].allow(user, now):
            RATE_LIMITED.labels("token_per_user").inc()
            return Failure(429, RateLimited.code, "too many attempts for this user, retry in a minute")
        return None

    # -- answering ------------------------------------------------------------------------------
    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, failure: Failure, *, retry_after: bool = False
    ) -> None:
        request = Request(scope, receive)
        response = self.renderers.for_request(request)(request, failure)
        if retry_after:
            response.headers["Retry-After"] = str(int(WINDOW))
        if failure.status == 413:
            response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)
