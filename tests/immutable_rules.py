"""Immutable-tag rules for tests, written through the store as a namespace admin's create leaves them
(the SWR API for rules is tested on its own): a rule body as SWR's SDK sends it, and add, change and
delete of a namespace's rules."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from repohub.domain.immutability import parse_rule
from tests.world import World

__all__ = ["add_rule", "change_rule", "delete_rule", "rule"]


def rule(
    tags: Any = "v*",
    repos: Any = "**",
    *,
    tag_decoration: str = "matches",
    repo_decoration: str = "repoMatches",
    disabled: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """SWR's ``CreateImmutableRuleBody`` as huaweicloudsdkswr sends it: tags ``tags`` of the
    repositories ``repos`` (doublestar); ``fields`` add or replace top-level fields (a test of bad
    bodies passes wrong types on purpose)."""
    return {
        "priority": 0,
        "disabled": disabled,
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": tag_decoration, "pattern": tags}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": repo_decoration, "pattern": repos}]
        },
        **fields,
    }


async def add_rule(app: FastAPI, namespace: str, body: dict[str, Any]) -> int:
    """A new rule of ``namespace``; its id."""
    async with World(app).service() as service:
        store = service.store
        found = await store.namespaces.by_name(namespace)
        assert found is not None, f"no namespace {namespace!r}"
        async with store.transaction():
            return await store.immutables.add(found.id, parse_rule(body))


async def change_rule(app: FastAPI, rule_id: int, body: dict[str, Any]) -> None:
    async with World(app).service() as service, service.store.transaction():
        await service.store.immutables.update(rule_id, parse_rule(body))


async def delete_rule(app: FastAPI, rule_id: int) -> None:
    async with World(app).service() as service, service.store.transaction():
        assert await service.store.immutables.delete(rule_id)
