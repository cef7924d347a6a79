"""Routers decline requests outside their prefix before trying a route, and only those; plain routes
are called directly, with what FastAPI would have given them (their path and query parameters
included, with FastAPI's errors), and refuse what else FastAPI would solve."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from repohub.api.parameters import StrictInteger
from repohub.api.routing import PlainRoute, PrefixRouter, plain


def _app() -> FastAPI:
    app = FastAPI()
    first, second = PrefixRouter(prefix="/a"), PrefixRouter(prefix="/b")

    @first.get("/{name}")
    async def in_a(name: str) -> dict[str, str]:
        return {"router": "a", "name": name}

    @second.get("/{name}")
    async def in_b(name: str) -> dict[str, str]:
        return {"router": "b", "name": name}

    app.include_router(first)
    app.include_router(second)
    return app


async def test_each_request_reaches_the_router_of_its_prefix() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/a/x")).json() == {"router": "a", "name": "x"}
        assert (await client.get("/b/y")).json() == {"router": "b", "name": "y"}
        assert (await client.get("/c/z")).status_code == 404


async def test_the_prefix_is_matched_below_the_root_path() -> None:
    transport = httpx.ASGITransport(app=_app(), root_path="/hub")  # as a server's --root-path gives it
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/hub/b/y")).json() == {"router": "b", "name": "y"}


async def _caller(request: Request) -> str:
    name = request.headers.get("x-caller")
    if name is None:
        raise LookupError("no caller")
    return name


Caller = Annotated[str, Depends(_caller)]


def _plain_app(*, router_dependency: bool = False) -> FastAPI:
    app = FastAPI()
    seen: list[str] = []

    async def record(request: Request) -> None:
        seen.append(request.url.path)

    router = PrefixRouter(prefix="/p", dependencies=[Depends(record)] if router_dependency else None)

    @plain(router, "GET", "/hello", responses={418: {"description": "never"}})
    async def hello(request: Request, caller: Caller) -> Response:
        return JSONResponse({"caller": caller, "q": request.query_params.get("q")})

    @app.exception_handler(LookupError)
    async def missing(_request: Request, error: LookupError) -> Response:
        return JSONResponse({"error": str(error)}, status_code=401)

    app.include_router(router)
    app.state.seen = seen
    return app


async def test_a_plain_route_gets_the_request_and_its_dependencies() -> None:
    app = _plain_app(router_dependency=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.get("/p/hello?q=1", headers={"X-Caller": "ann"})
        assert answer.json() == {"caller": "ann", "q": "1"}
        refused = await client.get("/p/hello")  # a dependency's error reaches the app's handlers
        assert (refused.status_code, refused.json()) == (401, {"error": "no caller"})
        assert (await client.post("/p/hello", headers={"X-Caller": "ann"})).status_code == 405
    assert app.state.seen == ["/p/hello", "/p/hello"]  # the including router's dependency ran too


def test_a_plain_route_is_documented_as_fastapi_would() -> None:
    operation = _plain_app().openapi()["paths"]["/p/hello"]["get"]
    assert operation["responses"]["418"] == {"description": "never"}
    assert operation["operationId"] == "hello_p_hello_get"


async def _query(q: str) -> str:
    return q


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param(lambda: _with_repeated_query, id="repeated query parameter"),
        pytest.param(lambda: _with_header, id="header parameter"),
        pytest.param(lambda: _with_header_dependency, id="dependency with a header"),
        pytest.param(lambda: _returns_dict, id="returns data, not a Response"),
        pytest.param(lambda: _with_required_query, id="query parameter without a default"),
        pytest.param(lambda: _with_aliased_query, id="query parameter with a validation alias"),
    ],
)
def test_a_plain_route_refuses_what_fastapi_would_solve(endpoint: object) -> None:
    router = PrefixRouter(prefix="/p")
    with pytest.raises(TypeError, match="/p/x"):
        router.add_api_route("/x", endpoint(), route_class_override=PlainRoute)  # type: ignore[operator]


async def _with_repeated_query(q: Annotated[list[str], Query()]) -> Response:
    return Response(",".join(q))


async def _with_required_query(q: Annotated[int, Query()]) -> Response:
    return Response(str(q))


async def _with_aliased_query(q: Annotated[int, Query(validation_alias="y")] = 0) -> Response:
    return Response(str(q))


async def _with_header(x_token: Annotated[str, Header()]) -> Response:
    return Response(x_token)


Size = Annotated[StrictInteger, Query(ge=1, le=100)]


async def _paged(name: str, size: Size = 10, word: str | None = None) -> Any:
    return {"name": name, "size": size, "word": word}


async def _paged_plain(name: str, size: Size = 10, word: str | None = None) -> Response:
    return JSONResponse(await _paged(name, size, word))


def _twin_app() -> FastAPI:
    """The same parameters on a FastAPI route and on a plain one; validation errors as their list."""
    app = FastAPI()
    router = PrefixRouter(prefix="/t")
    router.add_api_route("/fastapi/{name:path}", _paged, methods=["GET"])
    plain(router, "GET", "/plain/{name:path}")(_paged_plain)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> Response:
        return JSONResponse(jsonable_encoder(error.errors()), status_code=400)

    app.include_router(router)
    return app


@pytest.mark.parametrize(
    "query",
    ["", "?size=5", "?size=0", "?size=101", "?size=x", "?size=", "?size=1.0", "?size=0&size=7",
     "?word=&size=3", "?word=a&word=b", "?size=0&word=x&size=abc", "?other=1"],
)  # fmt: skip
async def test_a_plain_routes_parameters_are_read_and_refused_as_fastapi_does(query: str) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_twin_app()), base_url="http://t"
    ) as client:
        solved = await client.get(f"/t/fastapi/a/b%20c{query}")
        plain_answer = await client.get(f"/t/plain/a/b%20c{query}")
    assert (plain_answer.status_code, plain_answer.json()) == (solved.status_code, solved.json())


async def _header(x_token: Annotated[str, Header()]) -> str:
    return x_token


async def _with_header_dependency(token: Annotated[str, Depends(_header)]) -> Response:
    return Response(token)


async def _returns_dict(request: Request) -> dict[str, str]:
    return {}
