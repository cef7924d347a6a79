"""Rendering a page: the Jinja2 templates beside this module, the context every page shares (who is
browsing, the CSRF field, the pages' root), the security headers, and errors as pages."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from repohub.api.errors import Failure
from repohub.api.ui import present, rows
from repohub.api.ui.session import guard_of
from repohub.api.ui.static import asset_url
from repohub.domain.clock import utcnow
from repohub.domain.entities import ANONYMOUS, Principal

__all__ = ["HEADERS", "environment", "page", "render_error", "root_of", "viewer_of"]

_HERE = Path(__file__).parent
# No script but our own file, no style but our stylesheet, no image from elsewhere (a README's
# images are links: ``markdown``), no form posting elsewhere, no framing: the second wall behind
# the Markdown sanitiser, and what keeps every page from reaching another host.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages differ per viewer and carry its CSRF field
}


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a misspelt name fails the test that renders it, not silently
        auto_reload=False,  # templates ship with the package: no stat() of them on every page
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["size"] = present.human_size
    env.globals.update(asset=asset_url, repository_item=rows.repository_item, tag_row=rows.tag_row)
    return env


def root_of(request: Request) -> str:
    """Where the pages live for this request: ``/ui``, behind the configured root path."""
    return str(request.scope.get("root_path", "")) + "/ui"


def viewer_of(request: Request) -> Principal:
    """Who the page is for: bound by the pages' dependency (``views``), else nobody."""
    principal: Principal = getattr(request.state, "ui_viewer", ANONYMOUS)
    return principal


def page(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """``template`` rendered for this request's viewer, with the CSRF cookie set if it had none."""
    guard = guard_of(request)
    now = utcnow()
    shared = {
        "root": root_of(request),
        "viewer": viewer_of(request),
        "csrf": guard.field,
        "now": now,
        "when": lambda moment: present.time_element(moment, now),
    }
    body = environment().get_template(template).render({**shared, **context})
    response = HTMLResponse(body, status_code=status, headers=HEADERS)
    guard.keep(request, response)
    return response


_TITLES = {400: "Bad request", 401: "Sign in needed", 403: "Forbidden", 404: "Not found", 409: "Refused"}


def render_error(request: Request, failure: Failure) -> Response:
    """The pages' error format: the page of the failure, its status the API's."""
    title = _TITLES.get(failure.status, "Error" if failure.status < 500 else "Something went wrong")
    context = {"title": title, "message": failure.message, "status": failure.status}
    return page(request, "error.html", context, status=failure.status)
