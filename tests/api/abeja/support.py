"""Helpers for ABEJA tests: credentials as the abeja-sdk sends them, and tag rows.

Tags cannot be pushed through HTTP yet, so tests write tag rows through the store, as the registry
integration will.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from repohub.domain.service import Service
from repohub.store.unit import Store

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def basic(user_id: int, token: str) -> dict[str, str]:
    """The header the SDK builds from ABEJA_PLATFORM_USER_ID and the personal access token."""
    encoded = base64.b64encode(f"user-{user_id}:{token}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user_id(app: FastAPI, username: str) -> int:
    async with app.state.repohub.sessions() as session:
        service = Service(Store(session), app.state.repohub.secret_box)
        return (await service.accounts.user(username)).id


async def repository_id(app: FastAPI, namespace: str, name: str) -> int:
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        found = await store.namespaces.by_name(namespace)
        assert found is not None
        repo = await store.repositories.by_name(found.id, name)
        assert repo is not None
        return repo.id


async def add_tag(
    app: FastAPI, repo_id: int, name: str, *, creator: str | None = None, size: int = 1000, minute: int = 0
) -> None:
    """One tag row; ``minute`` orders tags in time (later = newer)."""
    digest = "sha256:" + f"{repo_id:x}{name.encode().hex()}".ljust(64, "0")[:64]
    creator_id = await user_id(app, creator) if creator else None
    async with app.state.repohub.sessions() as session:
        store = Store(session)
        async with store.transaction():
            await store.tags.upsert(
                repo_id,
                name=name,
                digest=digest,
                image_id=digest.removeprefix("sha256:"),
                media_type=MANIFEST_V2,
                size=size,
                manifest=None,
                creator_id=creator_id,
                at=_EPOCH + timedelta(minutes=minute),
            )
            await store.tags.refresh_summary(repo_id)
