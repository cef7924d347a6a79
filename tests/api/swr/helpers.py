"""Tags written straight through the store, as a registry push will leave them (no push exists yet)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fastapi import FastAPI

from repohub.store.unit import Store

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def auth(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


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
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        found = await store.namespaces.by_name(namespace)
        assert found is not None
        repo = await store.repositories.by_name(found.id, repository)
        assert repo is not None
        async with store.transaction():
            await store.tags.upsert(
                repo.id,
                name=name,
                digest="sha256:" + hashlib.sha256(f"{namespace}/{repository}:{name}".encode()).hexdigest(),
                image_id=hashlib.sha256(f"config:{name}".encode()).hexdigest(),
                media_type=media_type,
                size=size,
                manifest='{"schemaVersion": 2}',
                creator_id=None,
                at=at,
            )
            await store.tags.refresh_summary(repo.id)
