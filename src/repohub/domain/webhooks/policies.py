"""Webhook management use cases, the one place both dialects (Alauda's ``/v1/hooks``, SWR's webhook
policies) decide who may do what to a hook and what a valid hook is.

Namespace admins (and site admins) manage the hooks of their namespace; nobody else sees them, not
even the namespace's other members: a hook's target and events say where the namespace's activity
goes, an admin's business. Creating in a namespace answers as the catalogue does (``roles.require``):
401 anonymous, 404 for a missing namespace and for one not disclosed to the caller, 403 for a
disclosed one without the admin role. A hook by id is a hook the caller administers or NotFound
("webhook N not found"), whatever the reason (missing, another namespace's, a namespace the caller
may not know of), so ids are no oracle. The list is of the namespaces the caller administers;
narrowed to one it does not administer, it is empty, not an error (``immutability.policies`` gives
the reasoning: an empty answer for missing, undisclosed and not-administered alike tells nothing).

Both formats live in one table and every dialect lists every hook of the namespace, each rendering
what it can. An update goes through ``revise``: the dialect gets the stored spec and changes the
fields it knows, so the fields only the other dialect knows survive it.

Secrets (Alauda's ``secret``, SWR's ``auth_header``) are sealed here (``SecretBox``) before they are
stored and never leave this module again: every hook returned has both set to None. Only the
delivery worker opens them. ``revise`` sees None for both, and answers None to keep the stored value,
"" to remove it, or a new clear value, sealed here.

The target is checked (``targets.resolve``) at creation and at every update, as the delivery checks it
again at every attempt (DNS can change in between). The header list is checked by the parser the
delivery reads it with (``payloads.parse_auth_header``): what is accepted here is what is sent.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable, Collection
from dataclasses import replace

from repohub.auth.secrets import SecretBox
from repohub.domain import access, roles
from repohub.domain.access import Action
from repohub.domain.entities import Namespace, Page, Principal, User
from repohub.domain.errors import InvalidInput, NotAuthenticated, NotFound
from repohub.domain.immutability.doublestar import PatternError, compile_doublestar
from repohub.domain.immutability.rules import REPOSITORY_DECORATIONS, TAG_DECORATIONS, Selector
from repohub.domain.names import validate_repository_name
from repohub.domain.webhooks import targets
from repohub.domain.webhooks.hooks import EVENTS, FORMATS, JOB_STATUSES, Hook, HookSpec, Job, Scope
from repohub.domain.webhooks.payloads import parse_auth_header
from repohub.store.unit import Store
from repohub.store.webhooks import HookQuery

__all__ = [
    "ADDRESS_TYPES",
    "MAX_DESCRIPTION",
    "MAX_NAME",
    "MAX_OFFSET",
    "MAX_PAGE",
    "MAX_SECRET",
    "ORDERS",
    "REPO_SCOPE_MODES",
    "WebhookPolicies",
    "check_spec",
]

MAX_NAME = 256  # SWR's limit for a policy's name (and the column's)
MAX_DESCRIPTION = 1024
MAX_SECRET = 1024
MAX_PAGE = 100  # SWR's maximum page of policies and of jobs
MAX_OFFSET = 10_000_000  # no namespace holds that many hooks; keeps OFFSET a small number
MAX_ID = 2**63 - 1  # ids are BIGINT: a larger one names nothing (and PostgreSQL refuses to compare)
ORDERS = ("created_at", "updated_at", "name")
ADDRESS_TYPES = ("internet", "internal")  # SWR's Target.address_type
REPO_SCOPE_MODES = ("regular", "selection")  # SWR's ScopeRule.repo_scope_mode

Revise = Callable[[HookSpec], HookSpec]


class WebhookPolicies:
    def __init__(
        self, store: Store, principal: Principal, secret_box: SecretBox, *, allow_private: bool = False
    ) -> None:
        self._store = store
        self.principal = principal
        self._box = secret_box
        self._allow_private = allow_private

    async def create(self, namespace_name: str, spec: HookSpec) -> Hook:
        """A new hook of the namespace, created by the caller."""
        namespace, user = await self._administered(namespace_name)
        await self._checked(namespace.name, spec)
        sealed = self._sealed(spec, None)
        # No unique constraint but the namespace's key: a namespace deleted meanwhile is the conflict.
        async with self._store.transaction(conflict=f"namespace {namespace.name!r} was deleted meanwhile"):
            hook_id = await self._store.webhooks.add(
                namespace.id, sealed, creator_id=user.id, creator=user.username
            )
            hook = await self._store.webhooks.get(hook_id)
        assert hook is not None  # written by this transaction
        return _public(hook)

    async def get(self, hook_id: int, namespace_name: str | None = None) -> Hook:
        return _public(await self._hook(hook_id, namespace_name))

    async def update(self, hook_id: int, revise: Revise, namespace_name: str | None = None) -> Hook:
        """The hook as ``revise`` restates it (module doc: secrets kept, removed or replaced)."""
        stored = await self._hook(hook_id, namespace_name)
        spec = revise(_without_secrets(stored.spec))
        await self._checked(stored.namespace, spec)
        sealed = self._sealed(spec, stored.spec)
        async with self._store.transaction():
            # The row count decides, inside the transaction: a hook deleted since the read is a 404.
            if not await self._store.webhooks.update(stored.id, sealed, namespace_id=stored.namespace_id):
                raise _missing(hook_id)
            hook = await self._store.webhooks.get(stored.id)
        assert hook is not None  # updated by this transaction
        return _public(hook)

    async def delete(self, hook_id: int, namespace_name: str | None = None) -> None:
        """Delete the hook; its pending deliveries and its jobs go with it (ON DELETE CASCADE)."""
        stored = await self._hook(hook_id, namespace_name)
        async with self._store.transaction():
            if not await self._store.webhooks.delete(stored.id, namespace_id=stored.namespace_id):
                raise _missing(hook_id)

    async def list(self, query: HookQuery, namespace_name: str | None = None) -> Page[Hook]:
        """The hooks of the namespaces the caller administers (module doc), as ``query`` pages them;
        ``query.namespace_ids`` narrows them further."""
        user = self._signed_in("read webhooks")
        _check_query(query, namespace_name)
        ids = _intersect(await self._listed(user, namespace_name), query.namespace_ids)
        if ids is not None and not ids:
            return Page(items=[], total=0, offset=query.offset, limit=query.limit)
        found = await self._store.webhooks.page(replace(query, namespace_ids=ids))
        return Page([_public(hook) for hook in found.items], found.total, found.offset, found.limit)

    async def jobs(
        self, hook_id: int, namespace_name: str | None, offset: int, limit: int, status: str | None = None
    ) -> Page[Job]:
        """The hook's delivery attempts, newest first; ``status`` one of SWR's job statuses."""
        hook = await self._hook(hook_id, namespace_name)
        _check_paging(offset, limit)
        if status is not None and status not in JOB_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(JOB_STATUSES)}", field="status")
        return await self._store.webhooks.jobs(hook.id, offset, limit, status)

    # -- helpers ------------------------------------------------------------------------------------
    def _signed_in(self, action: str) -> User:
        user = self.principal.user
        if user is None:
            raise NotAuthenticated(f"authentication is required to {action}")
        return user

    async def _administered(self, namespace_name: str) -> tuple[Namespace, User]:
        """The namespace and the caller, if the caller may manage its hooks: NotAuthenticated,
        NotFound (missing or undisclosed), PermissionDenied."""
        user = self._signed_in("manage webhooks")
        namespace = await self._store.namespaces.by_name(namespace_name)
        if namespace is None:
            raise roles.no_namespace(repr(namespace_name))
        role = await roles.role_in(self._store, self.principal, namespace)
        await roles.require(
            self._store, self.principal, namespace, role, Action.ADMINISTER, "managing webhooks"
        )
        return namespace, user

    async def _administers(self, namespace_id: int) -> bool:
        user = self.principal.user
        membership = None
        if user is not None and access.membership_matters(self.principal):
            membership = await self._store.namespaces.role(namespace_id, user.id)
        return access.allows(access.effective_role(self.principal, membership), Action.ADMINISTER)

    async def _hook(self, hook_id: int, namespace_name: str | None) -> Hook:
        """The stored hook (secrets sealed), if the caller administers it; NotFound otherwise."""
        self._signed_in("manage webhooks")
        if not 1 <= hook_id <= MAX_ID:
            raise _missing(hook_id)
        namespace_id = None
        if namespace_name is not None:
            namespace = await self._store.namespaces.by_name(namespace_name)
            if namespace is None:
                raise _missing(hook_id)
            namespace_id = namespace.id
        hook = await self._store.webhooks.get(hook_id, namespace_id=namespace_id)
        if hook is None or not await self._administers(hook.namespace_id):
            raise _missing(hook_id)
        return hook

    async def _listed(self, user: User, namespace_name: str | None) -> builtins.list[int] | None:
        """The ids of the namespaces whose hooks the list shows (None: every namespace)."""
        if namespace_name is not None:
            namespace = await self._store.namespaces.by_name(namespace_name)
            if namespace is None or not await self._administers(namespace.id):
                return []
            return [namespace.id]
        if user.is_admin:
            return None
        listing = await self._store.namespaces.listing(member_id=user.id)
        return [namespace.id for namespace, role, _ in listing if access.allows(role, Action.ADMINISTER)]

    async def _checked(self, namespace_name: str, spec: HookSpec) -> None:
        check_spec(spec, namespace_name)
        await targets.resolve(spec.url, allow_private=self._allow_private)

    def _sealed(self, spec: HookSpec, stored: HookSpec | None) -> HookSpec:
        """``spec`` with its secrets sealed, or the stored (sealed) ones where it says None."""
        return replace(
            spec,
            secret=self._seal(spec.secret, stored.secret if stored else None),
            auth_header=self._seal(spec.auth_header, stored.auth_header if stored else None),
        )

    def _seal(self, given: str | None, kept: str | None) -> str | None:
        if given is None:
            return kept
        return self._box.seal(given) if given else None


# -- validation -------------------------------------------------------------------------------------
def check_spec(spec: HookSpec, namespace_name: str) -> None:
    """Every rule a hook's spec obeys but its target's (``targets``): an InvalidInput naming the field."""
    if spec.format not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", field="format")
    if not spec.events or not set(spec.events) <= set(EVENTS):
        raise InvalidInput(f"events must be one or more of {', '.join(EVENTS)}", field="events")
    _text(spec.name, "name", MAX_NAME)
    _text(spec.description, "description", MAX_DESCRIPTION)
    if spec.repository is not None:  # it need not exist yet: a hook may wait for the first push
        validate_repository_name(namespace_name, spec.repository, field="repository")
    if spec.scope is not None:
        _check_scope(spec.scope)
    _check_delivery(spec)


def _check_delivery(spec: HookSpec) -> None:
    """What the sender sends with: the secrets and the target's flags."""
    if spec.secret is not None:
        _text(spec.secret, "secret", MAX_SECRET)
    if spec.auth_header:
        _check_header_list(spec.auth_header)
    if not isinstance(spec.enabled, bool) or not isinstance(spec.skip_cert_verify, bool):
        raise InvalidInput("enabled and skip_cert_verify must be true or false", field="enabled")
    if spec.address_type not in ADDRESS_TYPES:
        raise InvalidInput(f"address_type must be one of {', '.join(ADDRESS_TYPES)}", field="address_type")


def _text(value: object, field: str, limit: int) -> None:
    # NUL: PostgreSQL cannot store it; refused on SQLite too, so both behave alike.
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise InvalidInput(f"{field} must be a string of at most {limit} characters", field=field)


def _check_scope(scope: Scope) -> None:
    _check_selector(scope.repository, REPOSITORY_DECORATIONS, "scope_selectors")
    _check_selector(scope.tag, TAG_DECORATIONS, "tag_selectors")
    if scope.repo_scope_mode not in REPO_SCOPE_MODES:
        raise InvalidInput(
            f"repo_scope_mode must be one of {', '.join(REPO_SCOPE_MODES)}", field="scope_rules"
        )


def _check_selector(selector: Selector, decorations: tuple[str, ...], field: str) -> None:
    if selector.decoration not in decorations:
        raise InvalidInput(f"{field}: decoration must be one of {', '.join(decorations)}", field=field)
    _text(selector.pattern, field, MAX_NAME)
    try:
        compile_doublestar(selector.pattern)
    except (PatternError, re.error) as error:
        message = f"{field}: pattern {selector.pattern[:64]!r} does not compile: {error}"
        raise InvalidInput(message, field=field) from None


def _check_header_list(value: object) -> None:
    """SWR's ``key1:value1;key2:value2``, as the delivery will read it (``parse_auth_header``)."""
    if not isinstance(value, str):
        raise InvalidInput("auth_header must be a string 'key1:value1;key2:value2'", field="auth_header")
    try:
        parse_auth_header(value)
    except ValueError as error:
        raise InvalidInput(str(error), field="auth_header") from None


def _check_paging(offset: int, limit: int) -> None:
    if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"offset must be 0 to {MAX_OFFSET} and limit 1 to {MAX_PAGE}", field="limit")


def _check_query(query: HookQuery, namespace_name: str | None) -> None:
    _check_paging(query.offset, query.limit)
    if query.order not in ORDERS:
        raise InvalidInput(f"order must be one of {', '.join(ORDERS)}", field="order_column")
    if query.name is not None:
        _text(query.name, "name", MAX_NAME)
    if query.repository:
        validate_repository_name(namespace_name or "", query.repository, field="repository")


def _intersect(
    readable: builtins.list[int] | None, wanted: Collection[int] | None
) -> builtins.list[int] | None:
    """The namespaces both the caller's rights and the query select (None: no limit)."""
    if wanted is None:
        return readable
    chosen = [namespace_id for namespace_id in wanted if 1 <= namespace_id <= MAX_ID]
    if readable is None:
        return chosen
    allowed = set(readable)
    return [namespace_id for namespace_id in chosen if namespace_id in allowed]


# -- answers ----------------------------------------------------------------------------------------
def _without_secrets(spec: HookSpec) -> HookSpec:
    return replace(spec, secret=None, auth_header=None)


def _public(hook: Hook) -> Hook:
    """The hook as it leaves the domain: nothing sealed or clear of its secrets."""
    return replace(hook, spec=_without_secrets(hook.spec))


def _missing(hook_id: int) -> NotFound:
    return NotFound(f"webhook {hook_id} not found")
