"""In-process CPU per request of the SWR list page, the registry token and ``/healthz``, for the tree
whose venv runs this, against the PostgreSQL bench database ``repohub_bench_100x100x10`` (made by
``make bench``). Prints one JSON line. Used to compare two trees (e.g. a worktree of an older commit
with its own venv, and this one) in alternating processes (docs/benchmarks.md, issue 14)::

    python -m bench.tree_ab LABEL   (from the tree's root; copy this file into the older tree)
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time

import httpx

from bench.dataset import tokens_for

DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/repohub_bench_100x100x10"
os.environ.update(
    REPOHUB_DATABASE_URL=DATABASE,
    REPOHUB_SECRET_KEY="repohub-bench-secret",
    REPOHUB_TOKEN_RATE_PER_USER="0",
    REPOHUB_TOKEN_RATE_PER_CLIENT="0",
    REPOHUB_DATA_DIR="/tmp/tree-ab-data",
)

from repohub.app import create_app  # noqa: E402  (after the environment it reads)
from repohub.config import Settings  # noqa: E402


async def _best(client: httpx.AsyncClient, url: str, headers: dict[str, str], count: int) -> float:
    """The best of three rounds of ``count`` requests, in CPU µs a request (30 unmeasured first)."""
    figures = []
    for _ in range(3):
        for _ in range(30):
            await client.get(url, headers=headers)
        started = time.process_time()
        for _ in range(count):
            answer = await client.get(url, headers=headers)
        figures.append((time.process_time() - started) / count * 1e6)
        assert answer.status_code == 200, answer.text
    return min(figures)


async def main(label: str) -> None:
    os.makedirs("/tmp/tree-ab-data", exist_ok=True)
    settings = Settings()
    app = create_app(settings)
    token = tokens_for("100x100x10")[0]
    basic = base64.b64encode(f"bench:{token}".encode()).decode()
    scope = "repository:ns7/r1:pull,push"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            figures = {
                "token": await _best(
                    client,
                    f"/registry/token?service={settings.registry_service}&scope={scope}",
                    {"Authorization": f"Basic {basic}"},
                    800,
                ),
                "swr_list": await _best(
                    client, "/v2/manage/repos?namespace=ns7&limit=20&offset=0", {"X-Auth-Token": token}, 400
                ),
                "healthz": await _best(client, "/healthz", {}, 800),
            }
    print(json.dumps({"tree": label, **figures}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "this"))
