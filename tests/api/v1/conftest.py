"""The v1 tests' world: users with tokens, an org with one user per role, helpers to read the DB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from repohub.auth.secrets import SecretBox
from repohub.domain.entities import Role
from repohub.domain.service import Service
from repohub.store.tables import RepositoryRow
from repohub.store.unit import Store
from tests.fast_accounts import quick_user

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


class V1World:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.tokens: dict[str, str] = {}

    def _service(self, session: object) -> Service:
        box: SecretBox = self.app.state.repohub.secret_box
        return Service(Store(session), box)  # type: ignore[arg-type]

    async def user(self, name: str, *, admin: bool = False) -> str:
        async with self.app.state.repohub.sessions() as session:
            service = self._service(session)
            await quick_user(service.store, name, is_admin=admin)
            self.tokens[name] = (await service.accounts.create_token(name)).token
        return self.tokens[name]

    async def org(self, name: str, owner: str | None = None) -> None:
        async with self.app.state.repohub.sessions() as session:
            await self._service(session).accounts.create_org(name, owner=owner)

    async def member(self, namespace: str, user: str, role: Role) -> None:
        async with self.app.state.repohub.sessions() as session:
            await self._service(session).accounts.add_member(namespace, user, role)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[name]}"}

    async def create(self, namespace: str, name: str, *, public: bool = False, as_user: str) -> dict:
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

    async def count(self, table: type) -> int:
        async with self.app.state.repohub.sessions() as session:
            return (await session.execute(select(func.count()).select_from(table))).scalar_one()

    async def add_tags(self, namespace: str, repo: str, names: list[str]) -> list[str]:
        """Tag rows as the registry adapter writes them, one minute apart, oldest first."""
        start = datetime(2024, 5, 1, tzinfo=UTC)
        image_ids = []
        async with self.app.state.repohub.sessions() as session:
            store = Store(session)
            namespace_row = await store.namespaces.by_name(namespace)
            assert namespace_row is not None
            found = await store.repositories.by_name(namespace_row.id, repo)
            assert found is not None
            for index, name in enumerate(names):
                image_id = f"{index + 1:064x}"
                image_ids.append(image_id)
                await store.tags.upsert(
                    found.id,
                    name=name,
                    digest=f"sha256:{index + 100:064x}",
                    image_id=image_id,
                    media_type="application/vnd.oci.image.manifest.v1+json",
                    size=1000 + index,
                    manifest=None,
                    creator_id=None,
                    at=start + timedelta(minutes=index),
                )
            await store.tags.refresh_summary(found.id)
            await session.commit()
        return image_ids


@pytest.fixture
async def v1(app: FastAPI, client: httpx.AsyncClient) -> V1World:
    """alice (personal namespace), org acme: boss admin, dev member, guest viewer; stranger; root."""
    world = V1World(app, client)
    for name in ("alice", "boss", "dev", "guest", "stranger"):
        await world.user(name)
    await world.user("root", admin=True)
    await world.org("acme", owner="boss")
    await world.member("acme", "dev", Role.MEMBER)
    await world.member("acme", "guest", Role.VIEWER)
    return world
