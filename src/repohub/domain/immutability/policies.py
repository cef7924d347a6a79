"""Immutable-tag rule use cases: create, list, replace and delete a namespace's rules.

Namespace admins (and site admins) manage rules; anyone with a role in a namespace reads its rules.
A namespace the caller may not know of answers as a missing one (``roles.require`` /
``roles.no_namespace``, the catalogue's rule, see ``domain.catalog``): the path names the namespace,
so telling "not yours" from "not there" would disclose it.

The list is SWR's instance-wide ``GET .../immutabletagrules``: the rules the caller may read (of every
namespace it has a role in; a site admin's: all), ``namespace_id`` narrowing it. Narrowed to a
namespace whose rules the caller may not read (missing, undisclosed, or disclosed by a public
repository but without a role), it is empty, as any filter that selects nothing: an empty answer for
all three tells the caller nothing about the namespace, where a 404 for some and an empty list for
others would (Harbor's project-scoped list answers such a caller with an error instead, but its path
names the project; SWR's filter is a query parameter).

At most :data:`MAX_RULES_PER_NAMESPACE` rules a namespace (Harbor's limit, which SWR inherits): a push
check reads and tries every enabled rule. A rule saying what another of its namespace says (the same
four selector fields) is a Conflict, as Harbor answers it; the unique constraint decides, so two
concurrent creates of one rule cannot both succeed.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from repohub.domain import access, roles
from repohub.domain.access import Action
from repohub.domain.entities import Namespace, Page, Principal
from repohub.domain.errors import InvalidInput, NotAuthenticated, NotFound
from repohub.domain.immutability.rules import MAX_RULES_PER_NAMESPACE, ImmutableRule, parse_rule
from repohub.store.unit import Store

__all__ = ["DEFAULT_PAGE", "MAX_OFFSET", "MAX_PAGE", "ImmutableRules"]

DEFAULT_PAGE = 10  # SWR's documented default for this list
MAX_PAGE = 100  # and its maximum
MAX_OFFSET = 10_000_000  # no namespace holds that many rules; keeps OFFSET a small number


class ImmutableRules:
    def __init__(self, store: Store, principal: Principal) -> None:
        self._store = store
        self.principal = principal

    async def create(self, namespace_name: str, body: Mapping[str, Any]) -> int:
        """A new rule in the namespace; its id."""
        namespace = await self._administered(namespace_name)
        spec = parse_rule(body)  # cheap: patterns compile in linear time, cached
        async with self._store.transaction(conflict=_duplicate(namespace)):
            # Held until the commit, so two concurrent creates cannot both take the 15th place.
            if not await self._store.namespaces.lock(namespace.id):
                raise roles.no_namespace(repr(namespace_name))
            if await self._store.immutables.count(namespace.id) >= MAX_RULES_PER_NAMESPACE:
                raise InvalidInput(
                    f"namespace {namespace.name!r} has {MAX_RULES_PER_NAMESPACE} immutable-tag rules "
                    f"already, the most a namespace may have: change or delete one",
                    field="namespace_name",
                )
            return await self._store.immutables.add(namespace.id, spec)

    async def update(self, namespace_name: str, rule_id: int, body: Mapping[str, Any]) -> None:
        """Replace what the rule says (all of it: priority, disabled, both selectors)."""
        namespace = await self._administered(namespace_name)
        spec = parse_rule(body)
        async with self._store.transaction(conflict=_duplicate(namespace)):
            # The row count decides, inside the transaction: a rule deleted since any earlier read
            # (a concurrent delete) is a 404, not a 200 for a change that changed nothing.
            if not await self._store.immutables.update(rule_id, spec, namespace_id=namespace.id):
                raise _missing(namespace, rule_id)

    async def delete(self, namespace_name: str, rule_id: int) -> None:
        namespace = await self._administered(namespace_name)
        async with self._store.transaction():
            if not await self._store.immutables.delete(rule_id, namespace_id=namespace.id):
                raise _missing(namespace, rule_id)

    async def list(self, namespace_id: int | None, offset: int, limit: int) -> Page[ImmutableRule]:
        """The rules the caller may read (module doc), by namespace, priority and id."""
        if self.principal.user is None:
            raise NotAuthenticated("authentication is required to read immutable-tag rules")
        if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput(f"offset must be 0 to {MAX_OFFSET} and limit 1 to {MAX_PAGE}", field="limit")
        readable = await self._readable(namespace_id)
        if readable is not None and not readable:
            return Page(items=[], total=0, offset=offset, limit=limit)
        return await self._store.immutables.page(readable, offset, limit)

    # -- helpers ------------------------------------------------------------------------------------
    async def _readable(self, namespace_id: int | None) -> builtins.list[int] | None:
        """The ids of the namespaces whose rules the list shows (None: every namespace)."""
        user = self.principal.user
        assert user is not None  # list() checked
        if namespace_id is None:
            member = access.namespace_list_member(user)  # None for a site admin: every namespace
            if member is None:
                return None
            return [namespace.id for namespace in await self._store.namespaces.list(member_id=member)]
        namespace = await self._store.namespaces.get(namespace_id)
        if namespace is None:
            return []
        role = await roles.role_in(self._store, self.principal, namespace)
        return [namespace.id] if access.allows(role, Action.READ) else []

    async def _administered(self, namespace_name: str) -> Namespace:
        """The namespace, if the caller may manage its rules: NotAuthenticated, NotFound (missing or
        undisclosed), PermissionDenied."""
        if self.principal.is_anonymous:
            raise NotAuthenticated("authentication is required to manage immutable-tag rules")
        namespace = await self._store.namespaces.by_name(namespace_name)
        if namespace is None:
            raise roles.no_namespace(repr(namespace_name))
        role = await roles.role_in(self._store, self.principal, namespace)
        await roles.require(
            self._store, self.principal, namespace, role, Action.ADMINISTER, "managing immutable-tag rules"
        )
        return namespace


def _missing(namespace: Namespace, rule_id: int) -> NotFound:
    return NotFound(f"immutable-tag rule {rule_id} not found in namespace {namespace.name!r}")


def _duplicate(namespace: Namespace) -> str:
    return f"namespace {namespace.name!r} has a rule with the same tag and repository selectors already"
