"""Who is asking the registry's token server for a token: Basic (a password or an API token as the
password; a robot account's name and secret, ``robot$<namespace>+<name>`` as Harbor names them),
Bearer (an API token or a robot's secret), or nobody (anonymous pulls of public repositories).

``GET /registry/token`` opens its own session rather than take a ``ServiceDep`` (it is a plain route,
``api.routing``), so this dialect exports no ``ServiceDep``; ``POST /registry/events`` is called by
the registry itself, which proves itself with the shared secret in the endpoint.
"""

from __future__ import annotations

from starlette.types import Scope

from repohub.api.claims import basic_username, header, token_key
from repohub.auth.credentials import MalformedCredentials, decode_basic, split_authorization
from repohub.auth.secrets import is_robot_secret
from repohub.domain.accounts import AccountService
from repohub.domain.entities import ANONYMOUS, ROBOT_PREFIX, Principal
from repohub.domain.errors import NotAuthenticated
from repohub.observability import context

__all__ = ["authenticated_caller", "claimed_caller"]


async def _basic_caller(accounts: AccountService, username: str, password: str) -> Principal:
    """A Basic password may be a robot account's secret (its name the username), an API token
    (cheap lookup, tried first) or the account's password."""
    if is_robot_secret(password) or username.startswith(ROBOT_PREFIX):
        return await accounts.robot_login(username, password)
    try:
        principal = await accounts.principal_of_token(password)
    except NotAuthenticated:
        principal = None
    if principal is not None and principal.user is not None:
        user = principal.user
        if username not in (user.username, f"user-{user.id}"):
            raise NotAuthenticated("the token does not belong to this user")
        return principal
    return Principal(await accounts.authenticate_password(username, password), via="password")


async def _principal(accounts: AccountService, authorization: str) -> Principal:
    try:
        parsed = split_authorization(authorization)
        if parsed is None:
            return ANONYMOUS
        scheme, value = parsed
        if scheme == "basic":
            return await _basic_caller(accounts, *decode_basic(value))
    except MalformedCredentials as error:
        raise NotAuthenticated(str(error)) from error
    if scheme == "bearer":
        return await accounts.principal_of_token(value)
    raise NotAuthenticated("use Basic credentials (username and password or API token)")


async def authenticated_caller(accounts: AccountService, scope: Scope) -> Principal:
    """The caller the credentials name (anonymous without any), noted for the access log as a
    service's ``acting_as`` notes it. The token endpoint binds no service to it: it needs the
    accounts and the grants alone."""
    principal = await _principal(accounts, header(scope, b"authorization"))
    if not principal.is_anonymous:
        context.note_user(principal.name)
    return principal


def claimed_caller(scope: Scope) -> str | None:
    """Who a token request claims to be: Basic names its user; Bearer is an API token."""
    scheme, _, value = header(scope, b"authorization").strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        return basic_username(value.strip())
    return token_key(value) if scheme == "bearer" else None
