"""Each dialect is declared once (``api.dialects``); what is derived from the declarations is what the
app had when each place listed the prefixes itself, and each dialect's caller binder is in one place."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest
from starlette.requests import Request

from repohub.api import dialects
from repohub.api.abeja import errors as abeja_errors
from repohub.api.errors import Renderer, default_renderer
from repohub.api.observe import dialect_of
from repohub.api.registry import errors as registry_errors
from repohub.api.swr import errors as swr_errors
from repohub.api.swr import instances, versions
from repohub.api.v1 import errors as v1_errors
from repohub.app import create_app
from repohub.config import Settings

# The tables as observe and app.py spelled them out before the declarations: the oracle.
_OLD_LABELS = (
    ("/v2/manage", "swr"),
    ("/v3/", "swr"),
    ("/v1/", "v1"),
    ("/organizations/", "abeja"),
    ("/registry/", "registry"),
    ("/v2/{project_id", "swr"),
    ("/{api_version", "swr"),
    ("/v2", "registry"),
    ("/healthz", "ops"),
    ("/readyz", "ops"),
    ("/metrics", "ops"),
    ("/docs", "docs"),
    ("/redoc", "docs"),
    ("/openapi.json", "docs"),
    ("/static", "docs"),
)
_OLD_PREFIXES: tuple[tuple[str, Renderer], ...] = (
    ("/organizations/", abeja_errors.render),
    ("/v2/manage/", swr_errors.render),
    ("/registry/", registry_errors.render),
    ("/v1/", v1_errors.render),
    ("/v3/", swr_errors.render),
)
_OLD_PATTERNS: tuple[tuple[re.Pattern[str], Renderer], ...] = (
    (instances.PATHS, swr_errors.render),
    (versions.PATHS, swr_errors.render),
)
_PATHS = [
    "/",
    "/v2",
    "/v2/",
    "/v2/manage/repos",
    "/v2/manage/namespaces/acme/repos/app",
    "/v2/manage/utils/authorizationtoken",
    "/v2/p1/instances",
    "/v2/p1/instances/i1/namespaces",
    "/v2/acme/app/manifests/latest",
    "/v3/projects",
    "/v1/repositories/acme/",
    "/v1/generate-api-token",
    "/organizations/1/registry/repositories",
    "/registry/token",
    "/registry/events",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/static/images/default.jpg",
    "/no/such/path",
]


def _old_label(path: str) -> str:
    return next((label for prefix, label in _OLD_LABELS if path.startswith(prefix)), "other")


def _old_renderer(path: str) -> Renderer:
    for pattern, renderer in _OLD_PATTERNS:
        if pattern.fullmatch(path):
            return renderer
    return next((renderer for prefix, renderer in _OLD_PREFIXES if path.startswith(prefix)), default_renderer)


def _templates() -> list[str]:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return [route.path for route in app.routes if hasattr(route, "path")]  # type: ignore[attr-defined]


def test_every_route_template_and_path_keeps_its_label() -> None:
    for path in [*_templates(), *_PATHS]:
        assert dialect_of(path) == _old_label(path), path


def test_a_bare_dialect_prefix_is_labelled_with_its_dialect() -> None:
    # The one difference from the old table: a request to the bare prefix, which no route answers.
    assert [dialect_of(path) for path in ("/v2/manage", "/v3", "/v1", "/organizations", "/registry")] == [
        "swr",
        "swr",
        "v1",
        "abeja",
        "registry",
    ]


@pytest.mark.parametrize("path", [*_PATHS, "/v2/manage", "/v1", "/v1/", "/v9", "/v2/x/instances/y"])
def test_every_path_keeps_its_error_renderer(path: str) -> None:
    request = Request({"type": "http", "path": path, "root_path": "", "headers": []})
    assert dialects.error_renderers().for_request(request) is _old_renderer(path)


def test_the_routers_are_tried_in_the_order_they_were() -> None:
    from repohub.api import images, ops
    from repohub.api.abeja.router import router as abeja
    from repohub.api.registry.router import router as registry
    from repohub.api.swr import (
        audit,
        credentials,
        iam,
        immutables,
        login,
        overview,
        repository_access,
        retentions,
        v3,
        webhooks,
    )
    from repohub.api.swr.router import router as swr
    from repohub.api.v1.router import router as v1

    swr_rest = [
        login.router,
        iam.router,
        v3.router,
        instances.router,
        retentions.router,
        immutables.router,
        webhooks.router,
        repository_access.router,
        repository_access.v3_router,
        credentials.router,
        audit.router,
        overview.router,
    ]
    from repohub.api.ui import account, namespaces, static, views

    ui = [views.router, static.router, account.router, namespaces.router]
    expected = [ops.router, registry, swr, *swr_rest, abeja, v1]
    assert list(dialects.routers()) == [*expected, images.router, *ui, versions.router]


def test_the_credential_paths_are_the_ones_limited() -> None:
    assert dialects.login_paths() == {("POST", "/v1/generate-api-token"), ("POST", "/ui/login")}
    assert set(dialects.token_paths()) == {
        ("GET", "/registry/token"),
        ("POST", "/v2/manage/utils/authorizationtoken"),
        ("POST", "/v2/manage/utils/secret"),
    }


@pytest.mark.parametrize("dialect", dialects.DIALECTS, ids=lambda dialect: dialect.label)
def test_each_dialect_binds_its_caller_in_its_deps_module(dialect: dialects.Dialect) -> None:
    deps = importlib.import_module(f"repohub.api.{dialect.label}.deps")
    # The registry's token endpoint binds no caller to its service: its caller is the principal its
    # deps module authenticates from the request's scope, and the grant is given that principal.
    binder, parameters = (
        (deps.authenticated_caller, ["accounts", "scope"])
        if dialect.label == "registry"
        else (deps.bind_caller, ["service", "request"])
    )
    assert inspect.iscoroutinefunction(binder)
    assert list(inspect.signature(binder).parameters) == parameters
    for _endpoint, claimed in dialect.tokens:
        assert claimed is deps.claimed_caller  # the pre-authentication reading beside the binder
