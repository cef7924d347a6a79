"""The web catalogue in process: a browser-like client (cookies kept, forms posted with the CSRF
field of the page they came from) over a world of one namespace."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest_asyncio
from fastapi import FastAPI

from repohub.domain.entities import Role
from tests.world import PASSWORD, World

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class Browser:
    """Cookies kept as a browser keeps them; ``submit`` posts a form with the CSRF field of the page
    it was read from, as our own pages do."""

    http: httpx.AsyncClient

    async def get(self, path: str, **options: object) -> httpx.Response:
        return await self.http.get(path, **options)  # type: ignore[arg-type]

    async def csrf(self, path: str = "/ui/login") -> str:
        found = _CSRF.search((await self.get(path)).text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    async def submit(self, path: str, fields: dict[str, str], *, page: str = "/ui/login") -> httpx.Response:
        return await self.http.post(path, data={"csrf": await self.csrf(page), **fields})

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.submit("/ui/login", {"username": username, "password": password})


async def browser_of(app: FastAPI, base_url: str = "http://testserver") -> Browser:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return Browser(httpx.AsyncClient(transport=transport, base_url=base_url))


@pytest_asyncio.fixture(loop_scope="session")
async def browser(app: FastAPI, clean: None) -> Browser:
    made = await browser_of(app)
    async with made.http:
        yield made


@pytest_asyncio.fixture(loop_scope="session")
async def catalogue(accounts: World) -> World:
    """acme (carol its admin, alice a member), mallory outside it; acme/web public with tags v1 and
    v2, acme/secret private with one tag."""
    for name in ("carol", "alice", "mallory"):
        await accounts.account(name)  # password PASSWORD
    await accounts.org("acme", owner="carol")
    await accounts.member("acme", "alice", Role.MEMBER)
    await accounts.repository(
        "acme/web", by="carol", public=True, description="the web app", full_description="# Web\n\n- fast"
    )
    await accounts.repository("acme/secret", by="carol")
    await accounts.tag("acme/web", "v1", creator="carol", size=1536)
    await accounts.tag("acme/web", "v2", creator="carol", size=3 * 1024 * 1024)
    await accounts.tag("acme/secret", "latest", creator="carol")
    return accounts
