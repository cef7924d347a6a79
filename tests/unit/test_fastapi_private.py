"""The FastAPI internal that PlainRoute reads (``api.fastapi_private``) is still there and still means
what it meant: these fail, never skip, on a FastAPI release that changes it."""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from repohub.api.routing import PrefixRouter, plain


def test_the_inclusion_context_variable_exists_with_the_fields_read() -> None:
    variable = fastapi_routing._effective_route_context_var
    assert isinstance(variable, ContextVar)
    fields = {field.name for field in dataclasses.fields(fastapi_routing._EffectiveRouteContext)}
    assert {"original_route", "dependant"} <= fields


async def test_an_included_route_is_built_under_its_inclusion_context() -> None:
    """What ``effective_dependant`` relies on: while FastAPI builds an included route's handler, the
    variable holds a context naming that route, whose dependant has the inclusion's dependencies."""
    seen: list[Any] = []

    class Spy(APIRoute):
        def get_route_handler(self) -> Any:
            seen.append(fastapi_routing._effective_route_context_var.get())
            return super().get_route_handler()

    async def guard() -> None:
        pass

    router = APIRouter(route_class=Spy)

    @router.get("/x")
    async def endpoint() -> None:
        pass

    app = FastAPI()
    app.include_router(router, prefix="/p", dependencies=[Depends(guard)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/p/x")).status_code == 200  # FastAPI builds included handlers lazily
    route = router.routes[0]
    contexts = [context for context in seen if context is not None]
    assert contexts, "FastAPI no longer builds an included route's handler under its context"
    context = contexts[-1]
    assert context.original_route is route
    assert isinstance(context.dependant, Dependant)
    assert [sub.call for sub in context.dependant.dependencies] == [guard]


async def test_a_plain_route_gets_the_dependencies_of_the_routers_that_include_it() -> None:
    calls: list[str] = []

    async def outer(request: Request) -> None:
        calls.append("outer")

    async def inner(request: Request) -> None:
        calls.append("inner")

    async def own(request: Request) -> str:
        calls.append("own")
        return "value"

    router = PrefixRouter(prefix="/p")

    @plain(router, "GET", "/hello")
    async def hello(request: Request, value: Any = Depends(own)) -> Response:
        return JSONResponse({"value": value})

    middle = APIRouter()
    middle.include_router(router, dependencies=[Depends(inner)])
    app = FastAPI()
    app.include_router(middle, dependencies=[Depends(outer)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.get("/p/hello")
    assert answer.json() == {"value": "value"}
    assert calls == ["outer", "inner", "own"]  # FastAPI's order: the including routers' first
