"""The pages' dependencies: the service bound to whoever the session cookie names, and a posted
form, read strictly and checked against forgery before anything else looks at it."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from repohub.api.deps import bound_service, state_of
from repohub.api.ui.session import SESSION_COOKIE, Forgery, check_origin, guard_of
from repohub.domain.errors import InvalidInput, NotAuthenticated
from repohub.domain.service import Service

__all__ = ["FORM", "ViewerService", "bind_caller", "posted_form", "ui_service"]

FORM = "application/x-www-form-urlencoded"
_MAX_FIELDS = 16  # the largest form has four
_MAX_FORM_BYTES = 16 * 1024


async def bind_caller(service: Service, request: Request) -> None:
    """Bind the session's user; a session that ended (revoked, expired, unknown) browses as nobody,
    as its next page will show."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with suppress(NotAuthenticated):
            service.acting_as(await service.accounts.principal_of_token(token))
    request.state.ui_viewer = service.principal
    # Cookies are Secure when the pages' public address is https, behind an untrusted proxy too.
    request.state.ui_secure = (state_of(request).settings.link_base or "").lower().startswith("https://")


ui_service = bound_service(bind_caller, [])
ViewerService = Annotated[Service, Depends(ui_service)]


async def posted_form(request: Request) -> dict[str, str]:
    """The urlencoded fields of a POST from one of our pages: its origin and its CSRF field are
    checked first (``session.Forgery``, 403), so a forged form does nothing, sign-in included."""
    settings = state_of(request).settings
    check_origin(request, settings.link_base)
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    if media_type != FORM or len(body) > _MAX_FORM_BYTES:
        raise Forgery("our pages post urlencoded forms only")
    fields = _fields(body)
    guard_of(request).check(fields.get("csrf"))
    return fields


def _fields(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidInput("the form is not valid") from error
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise InvalidInput(f"{name!r} is given more than once", field=name)
        if "\x00" in value:
            raise InvalidInput(f"{name!r} may not contain NUL characters", field=name)
        fields[name] = value
    return fields
