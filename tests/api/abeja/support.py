"""Helpers for ABEJA tests: credentials as the abeja-sdk sends them, and tag rows.

Tags cannot be pushed through HTTP yet, so tests write tag rows through the store, as the registry
integration will.
"""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi import FastAPI

from tests.world import DOCKER_V2, EPOCH, World

MANIFEST_V2 = DOCKER_V2


def basic(user_id: int, token: str) -> dict[str, str]:
    """The header the SDK builds from ABEJA_PLATFORM_USER_ID and the personal access token."""
    encoded = base64.b64encode(f"user-{user_id}:{token}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user_id(app: FastAPI, username: str) -> int:
    return await World(app).user_id(username)


async def repository_id(app: FastAPI, namespace: str, name: str) -> int:
    return await World(app).repository_id(f"{namespace}/{name}")


async def add_tag(
    app: FastAPI, repo_id: int, name: str, *, creator: str | None = None, size: int = 1000, minute: int = 0
) -> None:
    """One tag row; ``minute`` orders tags in time (later = newer)."""
    digest = "sha256:" + f"{repo_id:x}{name.encode().hex()}".ljust(64, "0")[:64]
    await World(app).tag(
        repo_id,
        name,
        digest=digest,
        image_id=digest.removeprefix("sha256:"),
        media_type=MANIFEST_V2,
        size=size,
        creator=creator,
        at=EPOCH + timedelta(minutes=minute),
    )
