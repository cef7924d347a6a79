"""Who is browsing, and whether a form came from our own pages.

The session cookie holds a login token (``AccountService.login``, the v1 login's own token): its
lifetime, revocation and lookup (remembered, as every dialect's tokens are) are the API's, and
signing out revokes it. It is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no other site's
form posts it) and ``Secure`` when the request came over https (behind a trusted proxy, the scheme
it forwarded: ``api.proxy``) or PUBLIC_URL is https.

Forms are guarded twice, as OWASP's CSRF sheet advises: a signed double-submit token, and the
``Origin`` (or, without one, ``Sec-Fetch-Site``) a browser sends with every POST, which must be
this site's own. The token is the HMAC, under the app's secret, of a random value in a cookie of its
own and of the session the browser holds: a forged page can neither read it nor make it, a value
planted in the cookie (by a sibling subdomain, say) is worth nothing without the victim's session,
and both the value and the session change at sign-in and sign-out.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response

from repohub.api.deps import state_of
from repohub.domain.errors import PermissionDenied

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "Forgery",
    "Guard",
    "check_origin",
    "clear_session",
    "cookie_path",
    "guard_of",
    "keep_session",
]

SESSION_COOKIE = "repohub_session"
CSRF_COOKIE = "repohub_csrf"
_NONCE_BYTES = 16  # 128 bits, and as many of the HMAC shown in the field
_HEX = frozenset("0123456789abcdef")


class Forgery(PermissionDenied):
    """A form that did not come from one of our pages (its token or its origin): 403, nothing done."""

    code = "csrf"


@dataclass(frozen=True, slots=True)
class Guard:
    """The CSRF token of one browser and session: ``nonce`` lives in its cookie, ``field`` in every
    form."""

    secret: bytes
    nonce: str
    session: str  # the session cookie's value, "" for nobody
    fresh: bool  # the browser had no (valid) cookie: the page sets one

    @classmethod
    def of(cls, request: Request, secret: str) -> Guard:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        session = request.cookies.get(SESSION_COOKIE, "")
        if len(nonce) == 2 * _NONCE_BYTES and set(nonce) <= _HEX:
            return cls(secret.encode(), nonce, session, fresh=False)
        return cls(secret.encode(), secrets.token_hex(_NONCE_BYTES), session, fresh=True)

    @property
    def field(self) -> str:
        session = hashlib.sha256(self.session.encode()).hexdigest()
        message = f"repohub-ui-csrf:{self.nonce}:{session}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[: 2 * _NONCE_BYTES]

    def check(self, given: object) -> None:
        """Forgery unless ``given`` (the form's ``csrf``) is this browser's field."""
        if self.fresh or not isinstance(given, str) or not hmac.compare_digest(given, self.field):
            raise Forgery("the form is stale or did not come from this site: reload the page and retry")

    def keep(self, request: Request, response: Response, *, renew: bool = False) -> None:
        """Set the cookie if the browser had none; ``renew``: a new value, whatever it had (at sign-in
        and sign-out, when the session changes too)."""
        if self.fresh or renew:
            nonce = secrets.token_hex(_NONCE_BYTES) if renew else self.nonce
            response.set_cookie(
                CSRF_COOKIE,
                nonce,
                httponly=True,
                samesite="lax",
                secure=is_secure(request),
                path=cookie_path(request),
            )


def guard_of(request: Request) -> Guard:
    """This request's guard, under the app's secret."""
    return Guard.of(request, state_of(request).settings.resolved_secret_key)


def own_origins(request: Request, public_url: str | None) -> set[str]:
    """The origins our pages are served from: the request's own (behind a trusted proxy, the one it
    forwarded) and PUBLIC_URL's, when set (a proxy repohub does not trust still serves that one)."""
    found = {f"{request.url.scheme}://{request.url.netloc}"}
    if public_url:
        found.add(origin_of(public_url))
    return found


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """A URL's origin as a browser sends it: scheme and host in lower case, no default port
    (``https://Hub.Example:443/x`` is ``https://hub.example``)."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS.get(scheme) else "")


def check_origin(request: Request, public_url: str | None = None) -> None:
    """Forgery when the browser says the request came from another site. ``Origin`` must be one of
    ours (``own_origins``); without one, ``Sec-Fetch-Site`` may not be ``cross-site``; a client that
    sends neither (no browser since 2020 does, for a POST) is judged by its token alone."""
    origin = request.headers.get("origin")
    if origin is not None and origin not in own_origins(request, public_url):
        raise Forgery(
            "the form was posted from another site (or through a proxy that repohub does not trust:"
            " see FORWARDED_ALLOW_IPS and PUBLIC_URL)"
        )
    if origin is None and request.headers.get("sec-fetch-site") == "cross-site":
        raise Forgery("the form was posted from another site")


def is_secure(request: Request) -> bool:
    secure: bool = getattr(request.state, "ui_secure", False)
    return secure or request.url.scheme == "https"


def cookie_path(request: Request) -> str:
    """The pages' path, behind the configured root path too: no cookie of ours goes to the APIs."""
    return str(request.scope.get("root_path", "")) + "/ui"


def keep_session(request: Request, response: Response, token: str, max_age: int | None) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
        path=cookie_path(request),
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=cookie_path(request), httponly=True, samesite="lax", secure=is_secure(request)
    )
