"""Retention policy use cases: create, read, change and delete a repository's policy, read its log.

Namespace admins manage policies; anyone with a role in the namespace reads them and the log
(``roles.require``: a caller who cannot see the repository never gets here — the dialect looks the
repository up through the catalogue first, which answers NotFound). A repository has at most one
policy, as SWR allows: a second is refused as bad input, like SWR's 400.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from repohub.domain import roles
from repohub.domain.access import Action
from repohub.domain.entities import Namespace, Page, Principal, Repository, RetentionEntry, StoredRetention
from repohub.domain.errors import Conflict, InvalidInput, NotFound
from repohub.domain.retention.rules import Policy, parse_policy
from repohub.store.unit import Store

__all__ = ["MAX_HISTORY_PAGE", "Retention", "RetentionPolicies"]

MAX_HISTORY_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Retention:
    id: int
    repository_id: int
    policy: Policy

    @classmethod
    def of(cls, stored: StoredRetention) -> Retention:
        return cls(stored.id, stored.repository_id, Policy.from_json(stored.algorithm, stored.rules))


class RetentionPolicies:
    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self.principal = principal

    async def _require(self, repository: Repository, needed: Action, action: str) -> None:
        await roles.require_on(self._store, self.principal, repository, needed, action)  # its admins

    async def create(self, repository: Repository, body: Mapping[str, Any]) -> int:
        await self._require(repository, Action.ADMINISTER, "manage retention policies")
        policy = await _parsed(body)
        taken = InvalidInput(
            f"repository {repository.path!r} has a retention policy already (one per repository): "
            "update or delete it",
            field="rules",
        )
        if await self._store.retentions.of_repository(repository.id):
            raise taken
        try:
            async with self._store.transaction():
                return await self._store.retentions.add(repository.id, policy.algorithm, policy.to_json())
        except Conflict:  # a concurrent create won the unique (repository_id): the same answer
            raise taken from None

    async def list(self, repository: Repository) -> list[Retention]:
        await self._require(repository, Action.READ, "read retention policies")
        return [Retention.of(stored) for stored in await self._store.retentions.of_repository(repository.id)]

    async def of_namespace(
        self, namespace: Namespace, limit: int = MAX_HISTORY_PAGE
    ) -> builtins.list[tuple[str, Retention]]:
        """The policies of the namespace's repositories, each with its repository's name, by name (the
        web catalogue's namespace page): read by the rule of ``list``, a role in the namespace."""
        role = await roles.role_in(self._store, self.principal, namespace)
        action = "read retention policies"
        await roles.require(self._store, self.principal, namespace, role, Action.READ, action)
        rows = await self._store.retentions.of_namespace(namespace.id, limit)
        return [(name, Retention.of(stored)) for name, stored in rows]

    async def get(self, repository: Repository, retention_id: int) -> Retention:
        await self._require(repository, Action.READ, "read retention policies")
        return Retention.of(await self._stored(repository, retention_id))

    async def update(self, repository: Repository, retention_id: int, body: Mapping[str, Any]) -> None:
        await self._require(repository, Action.ADMINISTER, "manage retention policies")
        policy = await _parsed(body)
        await self._stored(repository, retention_id)
        async with self._store.transaction():
            await self._store.retentions.update(retention_id, policy.algorithm, policy.to_json())

    async def delete(self, repository: Repository, retention_id: int) -> None:
        await self._require(repository, Action.ADMINISTER, "manage retention policies")
        await self._stored(repository, retention_id)
        async with self._store.transaction():
            await self._store.retentions.delete(retention_id)

    async def history(self, repository: Repository, offset: int, limit: int) -> Page[RetentionEntry]:
        await self._require(repository, Action.READ, "read retention histories")
        if offset < 0 or not 1 <= limit <= MAX_HISTORY_PAGE:
            raise InvalidInput(f"offset must be 0 or more and limit 1 to {MAX_HISTORY_PAGE}", field="limit")
        return await self._store.retentions.history(repository.id, offset, limit)

    async def _stored(self, repository: Repository, retention_id: int) -> StoredRetention:
        found = await self._store.retentions.get(repository.id, retention_id)
        if found is None:
            raise NotFound(f"retention policy {retention_id} not found in {repository.path!r}")
        return found


async def _parsed(body: Mapping[str, Any]) -> Policy:
    """``parse_policy`` off the event loop: timing clients' patterns takes up to a few tenths of a
    second (``patterns``), which requests served meanwhile must not wait for."""
    return await asyncio.to_thread(parse_policy, body)
