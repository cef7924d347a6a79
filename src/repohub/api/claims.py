"""Who a request claims to be, read from its headers before authentication and without the database.

The rate limits on token endpoints key on it (``api.limits``): a Basic username, an SWR access key
id, or the SHA-256 of a bearer / X-Auth-Token token (the same digest the store looks tokens up by;
never the token itself). Each dialect's ``claimed_caller`` (in ``api/<dialect>/deps.py``, next to
the ``bind_caller`` that authenticates the same headers) is built from these.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from starlette.types import Scope

from repohub.auth.secrets import token_digest

__all__ = ["ClaimedCaller", "basic_username", "header", "token_key"]

# A request's claimed caller as a rate-limit key, None when it claims nobody a key could name.
ClaimedCaller = Callable[[Scope], str | None]


def header(scope: Scope, name: bytes) -> str:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return ""


def basic_username(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).decode().partition(":")[0] or None
    except ValueError:
        return None


def token_key(token: str) -> str | None:
    # ":" cannot occur in a Basic username (it ends there), so these keys never collide with one.
    token = token.strip()
    return f"token:{token_digest(token)}" if token else None
