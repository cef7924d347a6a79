"""Who is browsing, and whether a form came from our own pages.

The session cookie holds a login token (``AccountService.login``, the v1 login's own token): its
lifetime, revocation and lookup (remembered, as every dialect's tokens are) are the API's, and
signing out revokes it. It is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no other site's
form posts it) and ``Secure`` when the request came over https (behind a trusted proxy, the scheme
it forwarded: ``api.proxy``).

Forms are guarded twice, as OWASP's CSRF sheet advises: a signed double-submit token (a random value
in a cookie of its own, and its HMAC under the app's secret in a hidden field, so a forged page can
neither read nor make the field), and the ``Origin`` (or, without one, ``Sec-Fetch-Site``) a browser
sends with every POST, which must be this site's own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from repohub.domain.errors import PermissionDenied

__all__ = [
    "CSRF_COOKIE",
    "SESSION_COOKIE",
    "Forgery",
    "Guard",
    "check_origin",
    "clear_session",
    "cookie_path",
    "keep_session",
]

SESSION_COOKIE = "repohub_session"
CSRF_COOKIE = "repohub_csrf"
_FIELD_BYTES = 16  # of the HMAC shown in the field: 128 bits, as the nonce


class Forgery(PermissionDenied):
    """A form that did not come from one of our pages (its token or its origin): 403, nothing done."""

    code = "csrf"


@dataclass(frozen=True, slots=True)
class Guard:
    """The CSRF token of one browser: ``nonce`` lives in its cookie, ``field`` in every form."""

    secret: bytes
    nonce: str
    fresh: bool  # the browser had no (valid) cookie: the page sets one

    @classmethod
    def of(cls, request: Request, secret: str) -> Guard:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if len(nonce) == 2 * _FIELD_BYTES and all(c in "0123456789abcdef" for c in nonce):
            return cls(secret.encode(), nonce, fresh=False)
        return cls(secret.encode(), secrets.token_hex(_FIELD_BYTES), fresh=True)

    @property
    def field(self) -> str:
        digest = hmac.new(self.secret, b"repohub-ui-csrf:" + self.nonce.encode(), hashlib.sha256)
        return digest.hexdigest()[: 2 * _FIELD_BYTES]

    def check(self, given: object) -> None:
        """Forgery unless ``given`` (the form's ``csrf``) is this browser's field."""
        if self.fresh or not isinstance(given, str) or not hmac.compare_digest(given, self.field):
            raise Forgery("the form is stale or did not come from this site: reload the page and retry")

    def keep(self, request: Request, response: Response) -> None:
        if self.fresh:
            response.set_cookie(
                CSRF_COOKIE,
                self.nonce,
                httponly=True,
                samesite="lax",
                secure=_secure(request),
                path=cookie_path(request),
            )


def check_origin(request: Request) -> None:
    """Forgery when the browser says the request came from another site. ``Origin`` must be this
    site's own scheme and host; without one, ``Sec-Fetch-Site`` may not be ``cross-site``; a client
    that sends neither (no browser since 2020 does, for a POST) is judged by its token alone."""
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin is not None and origin != own:
        raise Forgery("the form was posted from another site")
    if origin is None and request.headers.get("sec-fetch-site") == "cross-site":
        raise Forgery("the form was posted from another site")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


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
        secure=_secure(request),
        path=cookie_path(request),
    )


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=cookie_path(request), httponly=True, samesite="lax", secure=_secure(request)
    )
