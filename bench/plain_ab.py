"""In-process A/B of ``GET /registry/token``: as a PlainRoute (the app as shipped) and as a normal
FastAPI route, two apps in one process over the same database, measured in turns (CPU time).

Against a database with a user and an API token (``repohub migrate``, ``repohub users create bench
--password ...``, ``repohub tokens create bench --json > token.json``), with the token rate limits
off (``REPOHUB_TOKEN_RATE_PER_CLIENT=0 REPOHUB_TOKEN_RATE_PER_USER=0``)::

    python -m bench.plain_ab token.json [requests a round] [rounds]
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
from fastapi import FastAPI

from repohub.api import dialects
from repohub.api.registry import router as registry_module
from repohub.api.routing import PrefixRouter
from repohub.app import create_app
from repohub.config import Settings


def _normal_app(settings: Settings) -> FastAPI:
    """The app with the token endpoint as a normal FastAPI route, everything else as shipped."""
    plain = next(route for route in registry_module.router.routes if route.path == "/registry/token")
    router = PrefixRouter(prefix=registry_module.PREFIX, tags=["registry"])
    router.add_api_route(
        "/token",
        registry_module.token,
        methods=["GET"],
        response_model=None,
        responses=plain.responses,  # type: ignore[attr-defined]
        openapi_extra=plain.openapi_extra,  # type: ignore[attr-defined]
    )
    shipped = dialects.DIALECTS
    dialects.DIALECTS = (dataclasses.replace(dialects.REGISTRY, routers=(router,)), *shipped[1:])
    try:
        return create_app(settings)
    finally:
        dialects.DIALECTS = shipped


async def _round(client: httpx.AsyncClient, url: str, headers: dict[str, str], count: int) -> float:
    for _ in range(50):  # warm
        await client.get(url, headers=headers)
    started = time.process_time()
    for _ in range(count):
        await client.get(url, headers=headers)
    return (time.process_time() - started) / count * 1e6


async def main(token: dict[str, str], count: int, rounds: int) -> None:
    settings = Settings()
    apps = {"plain": create_app(settings), "normal": _normal_app(settings)}
    basic = base64.b64encode(f"{token['username']}:{token['token']}".encode()).decode()
    scope = f"repository:{token['username']}/app:pull,push"
    url = f"/registry/token?service={settings.registry_service}&scope={scope}"
    headers = {"Authorization": f"Basic {basic}"}
    async with AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://bench")
            )
        seen: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(rounds):
            for name, client in clients.items():
                assert (await client.get(url, headers=headers)).status_code == 200
                seen[name].append(await _round(client, url, headers, count))
    for name, figures in seen.items():
        print(f"{name}: best {min(figures):.0f} µs, rounds", " ".join(f"{value:.0f}" for value in figures))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    token = json.loads(Path(arguments[0]).read_text())
    count = int(arguments[1]) if len(arguments) > 1 else 1000
    rounds = int(arguments[2]) if len(arguments) > 2 else 7
    asyncio.run(main(token, count, rounds))
