"""The v1 tests' world: users with tokens, an org with one user per role, helpers to read the DB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from repohub.domain.entities import Role
from repohub.store.tables import RepositoryRow
from tests.world import OCI_MANIFEST, World

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


@dataclass
class V1World(World):
    """The shared world, plus repositories created over v1 HTTP and the repository rows read back."""

    client: httpx.AsyncClient | None = None

    async def create(self, namespace: str, name: str, *, public: bool = False, as_user: str) -> dict:
        assert self.client is not None
        response = await self.client.post(
            f"/v1/repositories/{namespace}/",
            json={"repo_name": name, "description": f"about {name}", "is_public": public},
            headers=self.auth(as_user),
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def repo_rows(self) -> list[tuple[str, str, bool, int]]:
        async with self.app.state.repohub.sessions() as session:
            result = await session.execute(
                select(
                    RepositoryRow.name,
                    RepositoryRow.description,
                    RepositoryRow.is_public,
                    RepositoryRow.star_count,
                ).order_by(RepositoryRow.name)
            )
            return [tuple(row) for row in result.all()]

    async def add_tags(self, namespace: str, repo: str, names: list[str]) -> list[str]:
        """Tag rows as the registry adapter writes them, one minute apart, oldest first."""
        start = datetime(2024, 5, 1, tzinfo=UTC)
        image_ids = []
        for index, name in enumerate(names):
            image_ids.append(f"{index + 1:064x}")
            await self.tag(
                f"{namespace}/{repo}",
                name,
                digest=f"sha256:{index + 100:064x}",
                image_id=image_ids[-1],
                media_type=OCI_MANIFEST,
                size=1000 + index,
                at=start + timedelta(minutes=index),
            )
        return image_ids


@pytest.fixture
async def v1(app: FastAPI, client: httpx.AsyncClient) -> V1World:
    """alice (personal namespace), org acme: boss admin, dev member, guest viewer; stranger; root."""
    world = V1World(app, client=client)
    for name in ("alice", "boss", "dev", "guest", "stranger"):
        await world.user(name)
    await world.user("root", admin=True)
    await world.org("acme", owner="boss", members={"dev": Role.MEMBER, "guest": Role.VIEWER})
    return world
