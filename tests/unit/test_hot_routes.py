"""``api.hot_routes``: the route it calls is the one Starlette's matching selects, and it is called.

These fail, rather than skip, when Starlette stops calling ``Router.middleware_stack`` or matching
routes on ``get_route_path`` (the two framework details the module rests on).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Match
from starlette.types import Scope

from repohub.api import hot_routes
from repohub.api.hot_routes import HotRoutes
from repohub.api.routing import PlainRoute, PrefixRouter


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
    rest = list(app.router.routes)
    app.include_router(router)
    return app, hot_routes.install(app, hot_routes.groups_of([router], rest))


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
def test_the_selected_route_is_the_first_starlette_matches_in_full(
    method: str, path: str, root_path: str
) -> None:
    _, hot = _app()
    scope = _scope(method, path, root_path)
    starlette_first = None
    for group in hot.groups:
        if group.prefix and not path.startswith(group.prefix):
            continue
        for route in group.routes:
            if route.matches(scope)[0] == Match.FULL:
                starlette_first = route
                break
        if starlette_first is not None:
            break
    selected = hot.select(scope)
    if isinstance(starlette_first, PlainRoute):
        assert selected is not None and selected[0] is starlette_first
        assert selected[1] == starlette_first.matches(scope)[1]["path_params"]
    else:
        assert selected is None
