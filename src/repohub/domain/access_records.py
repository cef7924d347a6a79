"""The records of access given beyond a namespace role, as the store hands them out (no I/O): a
user's role on one repository (SWR's per-repository ``auth``), a repository shared with another
namespace until a deadline (SWR's "access domain"), and the queries of shared repositories.

What a record means for a caller is the policy's (``domain.access``); these are its facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from repohub.domain.entities import Role, User
from repohub.domain.queries import RepoOrder

__all__ = ["PERMITS", "READ_PERMIT", "RepositoryGrant", "Share", "ShareChanges", "SharedBy", "SharedQuery"]

READ_PERMIT = "read"
PERMITS = (READ_PERMIT,)  # SWR: "currently only read"


@dataclass(frozen=True, slots=True)
class RepositoryGrant:
    """``user``'s role on one repository alone."""

    repository_id: int
    user: User
    role: Role


@dataclass(frozen=True, slots=True)
class Share:
    """Repository ``namespace/repository`` shared with the namespace ``access_domain`` until
    ``expires_at`` (None: forever). ``creator``: the username of whoever shared it (it outlives its
    user); ``creator_id`` that user's id while the user exists."""

    id: int
    repository_id: int
    namespace: str
    repository: str
    access_domain_id: int
    access_domain: str
    permit: str
    expires_at: datetime | None
    description: str
    creator: str
    creator_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ShareChanges:
    """What an update sets: every field, as SWR's update sends them all (``description`` None: left)."""

    permit: str
    expires_at: datetime | None
    description: str | None = None


class SharedBy(StrEnum):
    """Which side of a share a list of shared repositories is from (SWR's ``center``/``shared_by``)."""

    SELF = "self"  # repositories of the caller's namespaces that are shared with others
    THIRDPARTY = "thirdparty"  # repositories shared with a namespace the caller belongs to


@dataclass(frozen=True, slots=True)
class SharedQuery:
    """A page of shared repositories. ``name_contains``: case-insensitive substring; ``name``: exact
    name; ``from_id``: keyset paging, by repository id from this id on (v3's marker; ``order`` and
    ``offset`` are then unused), else ``offset`` in ``order``."""

    shared_by: SharedBy
    namespace: str | None = None
    name_contains: str | None = None
    name: str | None = None
    order: RepoOrder = RepoOrder.NAME
    descending: bool = False
    offset: int = 0
    limit: int = 100
    from_id: int | None = None
