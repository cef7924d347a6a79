"""Registry token grants: which of the scopes a caller asks for it gets, and the docker login credential.

Grant rules: the access policy's (``domain.access``, where every permission rule lives); this module
fetches the facts a grant rests on and asks it. A repository pushed by a member enters the catalogue
(private) when its first tagged manifest push event arrives, not at grant time, so a push that fails
half-way leaves no empty repository behind. Unknown actions, other resource types and missing
namespaces are left out, as the token spec says; an empty grant is still a valid token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache, partial

from repohub.auth.registry_token import Scope, merge_scopes
from repohub.domain.access import (
    DELETE,
    PULL,
    PUSH,
    REPOSITORY_ACTIONS,
    AccessFacts,
    creatable,
    may_list_catalog,
)
from repohub.domain.access import registry_actions as allowed_actions
from repohub.domain.accounts import AccountService
from repohub.domain.clock import utcnow
from repohub.domain.entities import IssuedToken, Principal
from repohub.domain.errors import InvalidInput, NotAuthenticated, PermissionDenied
from repohub.domain.grant_facts import GrantFacts
from repohub.store.unit import Store

__all__ = [
    "DELETE",
    "DOCKER_LOGIN_VALIDITY",
    "MAX_SCOPES",
    "PULL",
    "PUSH",
    "REPOSITORY_ACTIONS",
    "Grants",
    "allowed_actions",
    "docker_login",
    "split_path",
]

# Distinct scopes one token request may ask for. Docker and skopeo ask for one to three; each scope
# is a lookup and a line of the signed token (800 scopes made a 133 KB token in 81 ms).
MAX_SCOPES = 32
# A docker-login credential (SWR's temporary login command) lives this long, as on Huawei Cloud.
DOCKER_LOGIN_VALIDITY = timedelta(hours=24)
# Whether a name could be created is the policy's (a pure function of the name): asked once per name
# here rather than on every token, 1.9 us of CPU against 0.2 (a pass of the name grammar's regexes).
_creatable = lru_cache(maxsize=4096)(creatable)


def split_path(path: str) -> tuple[str, str] | None:
    """``namespace/name`` of a registry path; None when it has no namespace part."""
    namespace, sep, name = path.partition("/")
    if not sep or not namespace or not name:
        return None
    return namespace, name


async def docker_login(accounts: AccountService, principal: Principal) -> tuple[IssuedToken, datetime]:
    """A short-lived API token for ``docker login -u <user> -p <token>`` and when it expires: the token
    service takes it as the Basic password, and the grants are the caller's own. It is derived from
    the caller's token or access key (``AccountService.derive_token``). A robot account mints nothing:
    its own secret is what it logs in with."""
    if principal.robot is not None:
        raise PermissionDenied("a robot account cannot mint credentials; log in with its own secret")
    if principal.user is None or principal.credential is None:
        raise NotAuthenticated("an API token or an access key is required for a docker login credential")
    return await accounts.derive_token(
        principal.credential,
        lifetime=DOCKER_LOGIN_VALIDITY,
        description="docker login",
        origin="docker-login",
    )


def _repository_path(scope: Scope) -> tuple[str, str] | None:
    return split_path(scope.name) if scope.type == "repository" else None


def _granted(
    principal: Principal,
    scope: Scope,
    path: tuple[str, str] | None,
    facts: Mapping[tuple[str, str], AccessFacts],
    now: datetime,
) -> Scope | None:
    """What of one scope the caller gets (None: nothing); ``path``: a repository scope's."""
    if scope.type == "registry" and scope.name == "catalog":
        return scope if may_list_catalog(principal) and scope.actions else None
    found = facts.get(path) if path is not None else None
    if path is None or found is None:
        return None
    actions = allowed_actions(principal, found, path[1], scope.actions, now)
    return Scope(scope.type, scope.name, tuple(actions)) if actions else None


class Grants:
    """The token use case. Its attributes are set by ``RegistryService`` (which inherits this)."""

    _store: Store
    _grant_facts: GrantFacts | None  # the serving process's memo; None: always ask the store

    def __init__(self, store: Store, grant_facts: GrantFacts | None = None) -> None:
        self._store = store
        self._grant_facts = grant_facts

    async def grant(self, principal: Principal, scopes: Sequence[Scope]) -> list[Scope]:
        """What of ``scopes`` the caller gets; ungranted actions and scopes are simply absent.
        A resource asked for more than once is granted once; more than ``MAX_SCOPES`` distinct
        ones are refused as a whole."""
        if len(scopes) > 1:
            scopes = merge_scopes(scopes)
            if len(scopes) > MAX_SCOPES:
                raise InvalidInput(
                    f"ask for at most {MAX_SCOPES} distinct scopes at a time, not {len(scopes)}",
                    field="scope",
                )
        user_id = principal.user.id if principal.user else None
        wanted = [(scope, _repository_path(scope)) for scope in scopes]
        paths = [path for _, path in wanted if path is not None]
        facts = await self._access_facts(paths, user_id) if paths else {}
        now = utcnow()  # a share's deadline is compared at each grant
        granted = [
            kept
            for scope, path in wanted
            if (kept := _granted(principal, scope, path, facts, now)) is not None
        ]
        return granted

    async def _access_facts(
        self, paths: list[tuple[str, str]], user_id: int | None
    ) -> dict[tuple[str, str], AccessFacts]:
        """The facts of each path (left out: paths whose namespace does not exist): remembered ones,
        and the others read together, in one query."""
        memo = self._grant_facts
        commits = self._store.memory.commits
        found: dict[tuple[str, str], AccessFacts] = {}
        missing = paths
        if memo is not None:
            missing = []
            for path in paths:
                remembered = await self._remembered(memo, path, user_id, commits)
                if remembered is None:
                    missing.append(path)
                else:
                    found[path] = remembered
        if not missing:
            return found
        loaded = await self._read_facts(missing, user_id, remembered=memo is not None)
        if memo is not None:  # an unknown namespace is asked again: it may be created any moment
            for path, facts in loaded.items():
                memo.facts.put((*path, user_id), commits, facts)
        found.update(loaded)
        return found

    async def _remembered(
        self, memo: GrantFacts, path: tuple[str, str], user_id: int | None, commits: int
    ) -> AccessFacts | None:
        namespace, name = path
        # A caller with a role in the namespace gets what the role allows on any repository there
        # whose name could be created, whether it exists yet or not, and on those granted to it what
        # the grant adds: one read of the caller's memberships answers a whole push into its
        # namespaces. Outsiders' pulls rest on each repository.
        if user_id is not None and _creatable(name):
            member = memo.members.get(user_id, commits)  # as get_or_load's first step, minus a coroutine
            if member is None:
                member = await memo.members.get_or_load(
                    user_id, commits, partial(self._store.registry.member_facts, user_id)
                )
            in_namespace = member.roles.get(namespace)
            # A full namespace's role settles nothing for a name that may not exist: its own facts do.
            if in_namespace is not None and not in_namespace.full:
                return member.granted.get(path, in_namespace)
        return memo.facts.get((namespace, name, user_id), commits)

    async def _read_facts(
        self, paths: list[tuple[str, str]], user_id: int | None, *, remembered: bool
    ) -> dict[tuple[str, str], AccessFacts]:
        """``remembered``: the facts go into the memo, so they are read on the primary."""
        registry = self._store.registry
        if len(paths) > 1:
            return await registry.access_facts_of(paths, user_id, remembered=remembered)
        # One path, the usual docker request: its own prepared statement, the fastest read there is.
        facts = await registry.access_facts(*paths[0], user_id, remembered=remembered)
        return {paths[0]: facts} if facts is not None else {}
