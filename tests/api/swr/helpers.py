"""Tags written straight through the store, as a registry push will leave them (no push exists yet)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import FastAPI

from tests.world import DOCKER_V2, World

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def auth(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


async def add_tag(
    app: FastAPI,
    namespace: str,
    repository: str,
    name: str,
    *,
    at: datetime = BASE,
    size: int = 100,
    media_type: str = DOCKER_V2,
) -> None:
    await World(app).tag(
        f"{namespace}/{repository}",
        name,
        digest="sha256:" + hashlib.sha256(f"{namespace}/{repository}:{name}".encode()).hexdigest(),
        image_id=hashlib.sha256(f"config:{name}".encode()).hexdigest(),
        media_type=media_type,
        size=size,
        manifest='{"schemaVersion": 2}',
        at=at,
    )
