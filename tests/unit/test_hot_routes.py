"""``api.hot_routes``: the route it calls is the one Starlette's matching selects, and it is called.

These fail, rather than skip, when Starlette stops calling ``Router.middleware_stack`` or matching
routes on ``get_route_path`` (the two framework details the module rests on).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from repohub.api import hot_routes
from repohub.api.hot_routes import HotRoutes
from repohub.api.routing import PlainRoute, PrefixRouter
from repohub.app import create_app
from repohub.config import Settings


async def _plain(request: Request, name: str) -> Response:
    return PlainTextResponse(f"plain {name}")


async def _tags(name: str) -> str:
    return f"tags of {name}"


async def _delete(name: str) -> str:
    return f"deleted {name}"


def _app() -> tuple[FastAPI, HotRoutes]:
    router = PrefixRouter(prefix="/x")
    # FastAPI's order: the tags route first, so ".../tags" is never the plain route's {name:path}.
    router.add_api_route("/r/{name:path}/tags", _tags, methods=["GET"])
    router.add_api_route("/r/{name:path}", _delete, methods=["DELETE"])
    router.add_api_route("/r/{name:path}", _plain, methods=["GET"], route_class_override=PlainRoute)
    app = FastAPI()
    app.include_router(router)
    return app, hot_routes.install(app)


def _scope(method: str, path: str, root_path: str = "") -> Scope:
    return {"type": "http", "method": method, "path": root_path + path, "root_path": root_path,
            "path_params": {}, "headers": [], "query_string": b""}  # fmt: skip


async def _get(app: FastAPI, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.request(method, path)


async def test_a_plain_read_is_answered_by_the_hot_routes_through_starlettes_router() -> None:
    app, hot = _app()
    answer = await _get(app, "GET", "/x/r/a/b")
    assert (answer.status_code, answer.text) == (200, "plain a/b")
    assert hot.served == 1  # Starlette's Router.__call__ still calls middleware_stack


async def test_other_routes_and_methods_are_left_to_fastapi() -> None:
    app, hot = _app()
    assert (await _get(app, "GET", "/x/r/a/tags")).json() == "tags of a"
    assert (await _get(app, "DELETE", "/x/r/a")).json() == "deleted a"
    assert (await _get(app, "GET", "/nowhere")).status_code == 404
    assert (await _get(app, "POST", "/x/r/a")).status_code == 405
    assert hot.served == 0


@pytest.mark.parametrize(
    ("method", "path", "root_path"),
    [("GET", "/x/r/a", ""), ("HEAD", "/x/r/a", ""), ("GET", "/x/r/a", "/base"), ("GET", "/x/r/a/tags", ""),
     ("DELETE", "/x/r/a", ""), ("GET", "/y/r/a", ""), ("GET", "/x/r/", ""), ("GET", "/x/r/a%2Fb", "/base")],
)  # fmt: skip
def test_the_selected_route_is_fastapis(method: str, path: str, root_path: str) -> None:
    app, hot = _app()
    _assert_selects_as_fastapi(app, hot, _scope(method, path, root_path))


def _fastapi_selection(app: FastAPI, scope: Scope) -> BaseRoute | None:
    """The route FastAPI 0.165 dispatches ``scope`` to (its routing internals: an inclusion's
    ``_match``), or None when it matches none in full."""
    for entry in app.router.routes:
        if hasattr(entry, "_match"):
            match, _, route, _ = entry._match(dict(scope))
        else:
            match, _ = entry.matches(dict(scope))
            route = entry
        if match == Match.FULL:
            return route
    return None


def _assert_selects_as_fastapi(app: FastAPI, hot: HotRoutes, scope: Scope) -> None:
    fastapi_route = _fastapi_selection(app, scope)
    selected = hot.select(scope)
    if isinstance(fastapi_route, PlainRoute) and scope["method"] in ("GET", "HEAD"):
        assert selected is not None and selected[0] is fastapi_route, scope["path"]
        assert selected[1] == fastapi_route.matches(scope)[1]["path_params"]
    else:
        assert selected is None, (scope["method"], scope["path"], fastapi_route)


_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
_FILLS = ("a", "a%2Fb", "a/b", "tags", "-", "1")


def test_every_route_of_the_app_is_selected_as_fastapi_selects_it(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    app = create_app(Settings(database_url=database, data_dir=tmp_path, _env_file=None))
    hot = app.router.middleware_stack
    assert isinstance(hot, HotRoutes)
    templates = [route.path for group in hot.groups for route in group.routes if isinstance(route, Route)]
    checked = served = 0
    for template in templates:
        for fill in _FILLS:
            path = _PARAMETER.sub(fill, template)
            for variant in {path, path.rstrip("/") or "/", path + "/", path + "/tags"}:
                for method in ("GET", "HEAD", "DELETE"):
                    for root_path in ("", "/base"):
                        scope = _scope(method, variant, root_path)
                        _assert_selects_as_fastapi(app, hot, scope)
                        checked += 1
                        served += hot.select(scope) is not None
    assert checked > 2000 and served > 100  # the table is the app's, and the hot path is taken


def test_a_route_matching_by_rules_of_its_own_is_left_to_fastapi_with_what_follows_it() -> None:
    class OwnMatching(APIRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            return super().matches(scope)

    router = PrefixRouter(prefix="/x")
    router.add_api_route("/own", _tags, methods=["GET"], route_class_override=OwnMatching)
    router.add_api_route("/r/{name:path}", _plain, methods=["GET"], route_class_override=PlainRoute)
    app = FastAPI()
    app.include_router(router)
    hot = hot_routes.install(app)
    assert hot.select(_scope("GET", "/x/r/a")) is None


def test_an_inclusion_that_adds_a_prefix_or_dependencies_is_refused() -> None:
    for options in ({"prefix": "/p"}, {"dependencies": [Depends(_guard)]}):
        app = FastAPI()
        app.include_router(PrefixRouter(prefix="/x"), **options)
        with pytest.raises(TypeError, match="include routers bare"):
            hot_routes.install(app)
    guarded = FastAPI(dependencies=[Depends(_guard)])
    with pytest.raises(TypeError, match="dependencies"):
        hot_routes.install(guarded)


async def _guard() -> None:
    pass
