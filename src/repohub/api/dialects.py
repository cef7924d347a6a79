"""The dialects, each declared once: its paths, its error format, its routers, its credential paths.

Everything that tells the dialects apart by path reads it here: the app's router list and error
renderers (``app.py``), the metric and access-log label (``api.observe``) and the rate-limited
credential paths (``api.limits``). Each dialect authenticates its caller in ``api/<dialect>/deps.py``
with ``bind_caller`` (and, where routes take a bound service, exports it as ``ServiceDep``); a
credential path's ``claimed_caller`` sits beside it, reading the same headers before authentication.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import APIRouter

from repohub.api import images, ops
from repohub.api.abeja import errors as abeja_errors
from repohub.api.abeja.router import router as abeja_router
from repohub.api.claims import ClaimedCaller
from repohub.api.errors import ErrorRenderers, Renderer
from repohub.api.limits import Endpoint
from repohub.api.registry import deps as registry_deps
from repohub.api.registry import errors as registry_errors
from repohub.api.registry.router import router as registry_router
from repohub.api.swr import (
    audit,
    credentials,
    iam,
    immutables,
    instances,
    login,
    overview,
    repository_access,
    retentions,
    v3,
    versions,
    webhooks,
)
from repohub.api.swr import deps as swr_deps
from repohub.api.swr import errors as swr_errors
from repohub.api.swr import router as swr
from repohub.api.ui import account as ui_account
from repohub.api.ui import namespaces as ui_namespaces
from repohub.api.ui import pages as ui_pages
from repohub.api.ui import static as ui_static
from repohub.api.ui import views as ui_views
from repohub.api.v1 import errors as v1_errors
from repohub.api.v1 import router as v1

__all__ = [
    "ABEJA",
    "BARE_PREFIXES",
    "DIALECTS",
    "LABELS",
    "REGISTRY",
    "SWR",
    "UI",
    "V1",
    "Dialect",
    "error_renderers",
    "login_paths",
    "routers",
    "token_paths",
]


@dataclass(frozen=True, slots=True)
class Dialect:
    label: str  # in metrics and the access log
    # Paths under these (``prefix + "/..."``) are answered in this dialect's error format and
    # labelled with its name: its routers' prefixes.
    prefixes: tuple[str, ...]
    render: Renderer
    # Tried in this order, after the routers of the dialects declared before this one.
    routers: tuple[APIRouter, ...]
    # Routers without a prefix, tried after every prefixed router (each of their patterns is a
    # failed match for every request that reaches them).
    unprefixed: tuple[APIRouter, ...] = ()
    # Whole paths no prefix describes, answered in this dialect's error format...
    patterns: tuple[re.Pattern[str], ...] = ()
    # ...and the route templates (or paths) that start with these, labelled with its name.
    labelled: tuple[str, ...] = ()
    logins: tuple[Endpoint, ...] = ()  # limited per client (per user: ``domain.password_budget``)
    tokens: tuple[tuple[Endpoint, ClaimedCaller], ...] = ()  # limited per client and claimed caller


REGISTRY = Dialect(
    label="registry",
    prefixes=(registry_router.prefix,),
    render=registry_errors.render,
    routers=(registry_router,),
    labelled=("/v2",),  # the Distribution API's own paths, when they reach this app
    tokens=((("GET", registry_router.prefix + "/token"), registry_deps.claimed_caller),),
)
SWR = Dialect(
    label="swr",
    prefixes=(swr.PREFIX, iam.PREFIX),  # iam: the IAM call huaweicloudsdkswr makes for a project id
    render=swr_errors.render,
    # The list page's router before login's (docker-login credentials); the enterprise-edition calls
    # (``/v2/{project_id}/instances``) last of the prefixed; the root and /v<n> (API versions) after
    # every dialect, their patterns matching no other path. Retention, immutable-tag rules, webhook
    # policies, per-repository access and shares, long-term credentials and the audit log after the
    # rest: their calls are rare, and their routers decline the others' paths only after a failed
    # match of their own routes.
    routers=(
        swr.router,
        login.router,
        iam.router,
        v3.router,  # v3's marker pages: the repository walk is a hot list too
        instances.router,
        retentions.router,
        immutables.router,
        webhooks.router,
        repository_access.router,
        repository_access.v3_router,
        credentials.router,
        audit.router,
        overview.router,
    ),
    unprefixed=(versions.router,),
    patterns=(instances.PATHS, versions.PATHS),  # enterprise-edition calls; API versions
    labelled=("/v2/{project_id", "/{api_version"),  # the route templates of the same calls
    tokens=(
        (("POST", login.router.prefix + login.AUTHORIZATION_TOKEN), swr_deps.claimed_caller),
        (("POST", login.router.prefix + login.SECRET), swr_deps.claimed_caller),
    ),
)
ABEJA = Dialect(
    label="abeja",
    prefixes=(abeja_router.prefix,),
    render=abeja_errors.render,
    routers=(abeja_router,),
)
V1 = Dialect(
    label="v1",
    prefixes=(v1.PREFIX,),
    render=v1_errors.render,
    routers=(v1.router, images.router),  # images: what v1's logo_file names
    logins=(("POST", v1.PREFIX + "/generate-api-token"),),
)
# The web catalogue for people (``api.ui``): its errors are pages, its sign-in a limited login.
UI = Dialect(
    label="ui",
    prefixes=("/ui",),
    render=ui_pages.render_error,
    routers=(ui_views.router, ui_static.router, ui_account.router, ui_namespaces.router),
    logins=(("POST", ui_account.LOGIN),),
)
# In the order their routers are tried: the hot machine-facing paths (registry tokens and events,
# SWR lists) first (docs/benchmarks.md); the pages for people last.
DIALECTS = (REGISTRY, SWR, ABEJA, V1, UI)

# Label of the paths that belong to no dialect: the probes and the documentation.
_OTHERS = (
    ("ops", tuple(route.path for route in ops.router.routes if hasattr(route, "path"))),
    ("docs", ("/docs", "/redoc", "/openapi.json", "/static")),
)


def routers() -> Iterator[APIRouter]:
    """Every dialect's routers in the order FastAPI is to try them, the probes' first."""
    yield ops.router
    for dialect in DIALECTS:
        yield from dialect.routers
    for dialect in DIALECTS:
        yield from dialect.unprefixed


def error_renderers() -> ErrorRenderers:
    renderers = ErrorRenderers()
    for dialect in DIALECTS:
        for prefix in dialect.prefixes:
            renderers.register(prefix + "/", dialect.render)
        for pattern in dialect.patterns:
            renderers.register_pattern(pattern, dialect.render)
    return renderers


def _labels() -> tuple[tuple[str, str], ...]:
    """Path (or route template) prefix → label, longest first, so the first match is the closest."""
    entries = [(prefix + "/", dialect.label) for dialect in DIALECTS for prefix in dialect.prefixes]
    entries += [(start, dialect.label) for dialect in DIALECTS for start in dialect.labelled]
    entries += [(start, label) for label, starts in _OTHERS for start in starts]
    return tuple(sorted(entries, key=lambda entry: len(entry[0]), reverse=True))


LABELS = _labels()
# A dialect's bare prefix (``/v2/manage``) is its own too, though no route is there.
BARE_PREFIXES = {prefix: dialect.label for dialect in DIALECTS for prefix in dialect.prefixes}


def login_paths() -> frozenset[Endpoint]:
    return frozenset(endpoint for dialect in DIALECTS for endpoint in dialect.logins)


def token_paths() -> dict[Endpoint, ClaimedCaller]:
    return {endpoint: caller for dialect in DIALECTS for endpoint, caller in dialect.tokens}
