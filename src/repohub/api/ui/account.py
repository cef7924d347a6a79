"""Signing in and out of the pages: the v1 login's use case behind a form, its token in a cookie."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from repohub.api.deps import state_of
from repohub.api.routing import PlainRoute, PrefixRouter
from repohub.api.ui.deps import ViewerService, posted_form
from repohub.api.ui.pages import page, root_of
from repohub.api.ui.session import SESSION_COOKIE, clear_session, guard_of, keep_session
from repohub.domain.errors import NotAuthenticated

__all__ = ["LOGIN", "router"]

LOGIN = "/ui/login"
router = PrefixRouter(prefix="/ui", route_class=PlainRoute, include_in_schema=False)


def _local_next(request: Request, wanted: str | None) -> str:
    """Where to go after signing in: a page of ours (``/ui/...``, not ``//host`` nor a scheme), else
    the list."""
    root = root_of(request)
    if wanted and wanted.startswith(root + "/") and "//" not in wanted and "\\" not in wanted:
        return wanted
    return root + "/"


@router.get("/login")
async def login_form(request: Request, service: ViewerService) -> Response:
    context = {"error": None, "username": "", "next": _local_next(request, request.query_params.get("next"))}
    return page(request, "login.html", context)


@router.post("/login")
async def login(request: Request, service: ViewerService) -> Response:
    """Check the form (forgery first), then the password: the v1 login's use case, its per-user and
    per-client limits included (``api.limits``, ``domain.password_budget``)."""
    fields = await posted_form(request)
    username, password = fields.get("username", ""), fields.get("password", "")
    target = _local_next(request, fields.get("next"))
    try:
        if not username or not password:
            raise NotAuthenticated("give a username and a password")
        issued = await service.accounts.login(username, password)
    except NotAuthenticated:
        context = {"error": "Wrong username or password.", "username": username, "next": target}
        return page(request, "login.html", context, status=401)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # signing in again ends the session the browser held (its token is revoked)
        await service.accounts.revoke_token(previous)
    response = RedirectResponse(target, status_code=303)
    settings = state_of(request).settings
    lifetime = settings.login_token_lifetime
    keep_session(request, response, issued.token, int(lifetime.total_seconds()) if lifetime else None)
    guard_of(request).keep(request, response, renew=True)
    return response


@router.post("/logout")
async def logout(request: Request, service: ViewerService) -> Response:
    """Revoke the session's token (every other page refuses it from then on) and drop the cookie."""
    await posted_form(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await service.accounts.revoke_token(token)
    response = RedirectResponse(root_of(request) + "/", status_code=303)
    clear_session(request, response)
    guard_of(request).keep(request, response, renew=True)
    return response
