"""Query objects built once at the edge of a dialect and handed down to the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class RepoOrder(StrEnum):
    NAME = "name"
    UPDATED_AT = "updated_at"
    CREATED_AT = "created_at"
    TAG_COUNT = "tag_count"
    DOWNLOADS = "download_count"  # pulls: the web catalogue's sort (issue 20); no dialect offers it


class TagOrder(StrEnum):
    NAME = "name"
    UPDATED_AT = "updated_at"
    CREATED_AT = "created_at"


@dataclass(frozen=True, slots=True)
class RepoQuery:
    namespace: str | None = None
    name_contains: str | None = None  # case-insensitive substring
    category: str | None = None
    # None: both; True: the public ones; False: the private ones the caller may see. Within the
    # visibility rule either way: a filter narrows what a caller sees, never widens it.
    is_public: bool | None = None
    offset: int = 0
    limit: int = 20
    order: RepoOrder = RepoOrder.NAME
    descending: bool = False


@dataclass(frozen=True, slots=True)
class TagQuery:
    name: str | None = None  # exact tag name filter
    offset: int = 0
    limit: int = 20
    order: TagOrder = TagOrder.CREATED_AT
    descending: bool = True


@dataclass(frozen=True, slots=True)
class Visibility:
    """Which repositories a caller may see (made by ``domain.access.visibility``, the policy; the
    store encodes it in SQL): all; the public ones plus those of a user's namespaces, its grants and
    the shares reaching it at ``now``; the public ones plus those a robot's patterns match; or the
    public ones."""

    everything: bool = False
    member_id: int | None = None
    now: datetime | None = None  # shares end at their deadline: compared with this
    robot_id: int | None = None
    robot_namespace_id: int | None = None


@dataclass(frozen=True, slots=True)
class RepoWalk:
    """A keyset page of repositories (SWR v3's marker): the visible ones with an id above ``after``,
    by id, at most ``limit``. The id never changes for a row, so a walk page by page sees each
    repository once however many others are created or deleted meanwhile."""

    namespace: str | None = None
    name_contains: str | None = None  # case-insensitive substring, as RepoQuery's
    category: str | None = None
    is_public: bool | None = None
    after: int = 0
    limit: int = 100


@dataclass(frozen=True, slots=True)
class TagWalk:
    """A keyset page of one repository's tags: those with an id above ``after``, by id."""

    name: str | None = None  # exact tag name filter, as TagQuery's
    after: int = 0
    limit: int = 100
