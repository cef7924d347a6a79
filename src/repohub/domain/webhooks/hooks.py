"""What a webhook is, for both dialects that manage them, and which events it selects.

An Alauda hook (``FORMAT_ALAUDA``) subscribes to one repository (``repository``) or to every
repository of its namespace (None). An SWR webhook policy (``FORMAT_HARBOR``: its payload is Harbor's)
subscribes through one scope rule: a doublestar repository selector and a doublestar tag selector,
the selectors immutable-tag rules use (``domain.immutability.rules``), matched against the
repository's name within the namespace. Events are repohub's three repository actions, ``push``,
``pull`` and ``delete``; each dialect names them its own way (``image:push``, ``PUSH_ARTIFACT``).

A hook holds its secret and header list in clear only in memory: the store keeps them sealed
(``policies`` seals, ``delivery`` opens), and no answer carries them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from repohub.domain import access
from repohub.domain.access import DELETE, PULL, PUSH
from repohub.domain.entities import Role
from repohub.domain.immutability.rules import Selector

__all__ = [
    "EVENTS",
    "FORMATS",
    "FORMAT_ALAUDA",
    "FORMAT_HARBOR",
    "JOB_FAILED",
    "JOB_STATUSES",
    "JOB_SUCCEEDED",
    "Hook",
    "HookSpec",
    "Job",
    "NewDelivery",
    "Scope",
    "Subscriber",
    "join_events",
    "split_events",
]

FORMAT_ALAUDA = "alauda"
FORMAT_HARBOR = "harbor"
FORMATS = (FORMAT_ALAUDA, FORMAT_HARBOR)
EVENTS = (PUSH, PULL, DELETE)


@dataclass(frozen=True, slots=True)
class Scope:
    """An SWR policy's scope rule: both selectors must select (a tagless resource: the repository's)."""

    repository: Selector
    tag: Selector
    repo_scope_mode: str = "regular"

    def selects(self, repository: str, tag: str | None) -> bool:
        if not self.repository.selects(repository):
            return False
        return tag is None or self.tag.selects(tag)


@dataclass(frozen=True, slots=True)
class HookSpec:
    """A webhook as its manager states it (the stored one adds id, namespace, creator, times)."""

    format: str
    url: str
    events: frozenset[str]
    name: str = ""
    description: str = ""
    enabled: bool = True
    repository: str | None = None  # Alauda: the one repository (name within the namespace), or all
    scope: Scope | None = None  # SWR: the scope rule
    secret: str | None = None  # Alauda: the HMAC-SHA1 key of X-Alauda-Signature
    auth_header: str | None = None  # SWR: "key1:value1;key2:value2", each header sent as given
    skip_cert_verify: bool = False
    address_type: str = "internet"

    def selects(self, action: str, repository: str, tag: str | None) -> bool:
        """Whether an event ``action`` on ``tag`` (None: the repository's) of ``repository`` (its name
        within the namespace) is this hook's to deliver."""
        if not self.enabled or action not in self.events:
            return False
        if self.repository is not None and self.repository != repository:
            return False
        return self.scope is None or self.scope.selects(repository, tag)


@dataclass(frozen=True, slots=True)
class Hook:
    id: int
    namespace_id: int
    namespace: str
    spec: HookSpec
    creator: str
    created_at: datetime
    updated_at: datetime

    @property
    def subject(self) -> str:
        """Alauda's ``subject``: ``namespace/repository``, or the namespace for all its repositories."""
        repository = self.spec.repository
        return f"{self.namespace}/{repository}" if repository is not None else self.namespace


@dataclass(frozen=True, slots=True)
class Subscriber:
    """An enabled hook and what its owner (its creator) may read in the hook's namespace: a site
    admin everything, else its membership role (None: none, or the creator is gone)."""

    hook: Hook
    owner_is_admin: bool
    owner_role: Role | None

    def may_read(self, *, is_public: bool) -> bool:
        role = Role.ADMIN if self.owner_is_admin else self.owner_role
        return access.may_read(role, is_public=is_public)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """An outbox row to write: ``event`` is the notice's JSON, its ``delivery_id`` the stable
    ``X-Repohub-Delivery`` of every attempt."""

    hook_id: int
    action: str
    event: str
    due: datetime
    delivery_id: str = field(default_factory=lambda: str(uuid.uuid4()))


JOB_SUCCEEDED = "Succeed"  # SWR's job status words (its jobs list filters by them)
JOB_FAILED = "Failed"
# Every status SWR's jobs list may be filtered by; repohub's attempts are only ever the first two
# (an attempt is recorded when it is over), so a filter by another selects nothing rather than a 400.
JOB_STATUSES = (JOB_SUCCEEDED, JOB_FAILED, "Initialized", "Pending", "InProgress", "Stopped")


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery attempt of a hook (a ``webhook_jobs`` row; SWR's webhook "job"): ``status``
    Succeed or Failed, ``status_text`` the receiver's HTTP status code or the connection error.
    ``delivery_id`` is the delivery's ``X-Repohub-Delivery`` (shared by its retries), ``event`` the
    notice it carried (``outbox.Notice`` JSON)."""

    id: int
    hook_id: int
    delivery_id: str
    action: str
    status: str
    status_text: str
    response_code: int | None
    duration_ms: int
    event: str
    created_at: datetime


def join_events(events: Iterable[str]) -> str:
    """The stored form of an event set (in ``EVENTS`` order)."""
    chosen = set(events)
    return ",".join(event for event in EVENTS if event in chosen)


def split_events(stored: str) -> frozenset[str]:
    return frozenset(event for event in stored.split(",") if event)
