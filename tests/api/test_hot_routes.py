"""Every read answers through ``api.hot_routes`` exactly as through FastAPI's own routing: the same
status, headers and body for each GET route of every dialect, filled with real and missing names,
with and without a trailing slash, good and bad query parameters, as each dialect's callers."""

from __future__ import annotations

import base64
import re

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from repohub.api.hot_routes import HotRoutes
from repohub.api.routing import PlainRoute
from tests.world import World

pytestmark = pytest.mark.asyncio(loop_scope="session")

_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
_QUERIES = ("", "?limit=1&offset=0&page=1&page_size=1", "?limit=x&page=0", "?marker=1&limit=2")
_VOLATILE = {"date", "x-request-id", "set-cookie", "content-length"}
_SKIPPED = ("/metrics", "/readyz")  # their bodies change with every request and probe


def _paths(hot: HotRoutes, values: dict[str, str]) -> list[str]:
    paths = []
    for group in hot.groups:
        for route in group.routes:
            if not isinstance(route, Route) or "GET" not in (route.methods or ()):
                continue
            if route.path in _SKIPPED:
                continue
            filled = _PARAMETER.sub(lambda found: values.get(found.group(1), "1"), route.path)
            paths += [filled, filled.rstrip("/") + "/" if not filled.endswith("/") else filled.rstrip("/")]
    return paths


def _headers(world: World, path: str) -> dict[str, str]:
    token = world.tokens["alice"]
    if path.startswith("/v1/"):
        return {"Authorization": f"Token {token}"}
    if path.startswith("/organizations/"):
        return {"Authorization": f"Bearer {token}"}
    if path.startswith(("/v2/", "/v3/")):
        return {"X-Auth-Token": token}
    if path.startswith("/registry/"):
        return {"Authorization": "Basic " + base64.b64encode(f"alice:{token}".encode()).decode()}
    return {}


def _seen(answer: httpx.Response, path: str) -> tuple[object, ...]:
    headers = sorted((key, value) for key, value in answer.headers.items() if key not in _VOLATILE)
    if path.startswith("/registry/token") and answer.status_code == 200:
        return answer.status_code, headers, sorted(answer.json())  # a new signed token every time
    if path.startswith("/ui/"):
        return answer.status_code, answer.headers.get("location")  # a new CSRF nonce on every page
    return answer.status_code, headers, answer.content


async def test_every_read_answers_as_fastapis_routing_does(app: FastAPI, world: World) -> None:
    await world.user("alice")
    await world.user("bob")
    org_id = await world.org("acme", owner="alice")
    await world.repository("acme/app", by="alice", public=True, description="x")
    await world.repository("acme/team/tool", by="alice")
    await world.tag("acme/app", "v1")
    values = {"namespace": "acme", "namespace_name": "acme", "repository": "app", "repo_name": "app",
              "name": "app", "organization_id": str(org_id), "tag": "v1", "project_id": "p",
              "repository_id": str(await world.repository_id("acme/app")), "instance_id": "i"}  # fmt: skip
    hot = app.router.middleware_stack
    assert isinstance(hot, HotRoutes)
    paths = [*_paths(hot, values), "/v1/repositories/acme/team/tool", "/v1/repositories/missing/app"]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = []
        for through_fastapi in (False, True):
            app.router.middleware_stack = hot.fallback if through_fastapi else hot
            served = hot.served
            try:
                seen = [
                    _seen(await client.get(path + query, headers=headers), path)
                    for path in paths
                    for query in _QUERIES
                    for headers in (_headers(world, path), {})
                ]
            finally:
                app.router.middleware_stack = hot
            answers.append((seen, hot.served - served))
    (hot_seen, hot_served), (fastapi_seen, fastapi_served) = answers
    assert hot_seen == fastapi_seen
    plain_paths = sum(isinstance(route, PlainRoute) for group in hot.groups for route in group.routes)
    assert hot_served >= plain_paths and fastapi_served == 0
