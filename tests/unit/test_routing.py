"""Routers decline requests outside their prefix before trying a route, and only those."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from repohub.api.routing import PrefixRouter


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
