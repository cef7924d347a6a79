"""Domain objects handed between the store, the service and the dialects (plain, immutable data)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")


class Role(StrEnum):
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.VIEWER: 1, Role.MEMBER: 2, Role.ADMIN: 3}


class NamespaceKind(StrEnum):
    USER = "user"
    ORG = "org"


CATEGORIES = ("app_server", "linux", "framework_app", "database", "lang", "other", "windows", "arm")


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    email: str | None
    display_name: str | None
    is_admin: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Namespace:
    id: int
    name: str
    kind: NamespaceKind
    display_name: str | None
    creator_id: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Membership:
    namespace_id: int
    user: User
    role: Role


@dataclass(frozen=True, slots=True)
class Creator:
    """The few user fields dialects show next to a repository or tag."""

    id: int
    username: str
    email: str | None
    display_name: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CreatorFacts:
    """What one caller may learn of the creators shown in an answer about one namespace.

    Their e-mail and role in the namespace are for its own people: members of any role (site admins
    count as members everywhere) and each creator about themself. Anyone else who may read the
    repository learns who made it (id, display name), not how to reach them or what rank they hold.
    Made by ``CatalogService.creator_facts``."""

    roles: Mapping[int, Role]  # the creators' membership roles; creators who are no members are absent
    insider: bool  # the caller belongs to the namespace
    caller_id: int | None = None

    def discloses(self, creator: Creator) -> bool:
        return self.insider or creator.id == self.caller_id

    def email(self, creator: Creator) -> str | None:
        return creator.email if self.discloses(creator) else None

    def role(self, creator: Creator) -> Role | None:
        return self.roles.get(creator.id) if self.discloses(creator) else None


@dataclass(frozen=True, slots=True)
class Repository:
    id: int
    namespace_id: int
    namespace: str
    name: str
    description: str
    full_description: str
    category: str
    is_public: bool
    is_automated: bool
    logo: str
    creator: Creator | None
    size: int
    tag_count: int
    download_count: int
    upload_count: int
    star_count: int
    pulled_at: datetime | None
    pushed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Tag names, newest first; filled only where a dialect shows them with the repository.
    tag_names: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.name}"

    def summary(self) -> RepositorySummary:
        return RepositorySummary(
            id=self.id,
            namespace_id=self.namespace_id,
            namespace=self.namespace,
            name=self.name,
            description=self.description,
            category=self.category,
            is_public=self.is_public,
            size=self.size,
            tag_count=self.tag_count,
            download_count=self.download_count,
            created_at=self.created_at,
            updated_at=self.updated_at,
            tag_names=self.tag_names,
        )


class RepositorySummary(NamedTuple):
    """A repository as a list page across namespaces shows it (SWR's ``GET /v2/manage/repos``): no
    long texts, no creator, so that the hottest page reads and maps half the columns.

    A named tuple rather than a frozen dataclass: a page makes up to a thousand of them straight from
    row tuples, in a fifth of the time."""

    id: int
    namespace_id: int
    namespace: str
    name: str
    description: str
    category: str
    is_public: bool
    size: int
    tag_count: int
    download_count: int
    created_at: datetime
    updated_at: datetime
    tag_names: tuple[str, ...] = ()  # newest first


@dataclass(frozen=True, slots=True)
class Tag:
    id: int
    repository_id: int
    name: str
    digest: str
    image_id: str
    media_type: str
    size: int
    manifest: str | None
    creator: Creator | None
    created_at: datetime
    updated_at: datetime  # the tag's last push (a re-push or a retag moves it)
    pull_count: int  # manifest GETs of this tag by clients (by its name, or by its digest)
    pulled_at: datetime | None  # the last of them


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.items) < self.total


@dataclass(frozen=True, slots=True)
class Credential:
    """A live API token or access key a caller authenticated with (never the secret itself)."""

    id: int
    user: User
    expires_at: datetime | None = None
    parent_id: int | None = None  # the credential it was derived from (a docker-login token's)
    origin: str = "cli"  # how it was issued (``TokenInfo.kind``): "long-term" is SWR's login credential

    @property
    def is_derived(self) -> bool:
        return self.parent_id is not None


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What an operator may know of an API token: ``tokens list`` (never the token or its digest)."""

    id: int
    kind: str  # how it was issued: "cli" | "login" | "docker-login"
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    parent_id: int | None


ROBOT_PREFIX = "robot$"


@dataclass(frozen=True, slots=True)
class Robot:
    """A namespace's robot account: pull (and push, which includes pull) on the repositories of its
    namespace whose names match its patterns (shell globs, ``*`` and ``?``); nothing else."""

    id: int
    namespace_id: int
    namespace: str
    name: str
    pull: tuple[str, ...]  # patterns
    push: tuple[str, ...]
    description: str = ""
    is_disabled: bool = False
    expires_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def username(self) -> str:
        """The name it logs in with: Harbor's ``robot$<namespace>+<name>``."""
        return f"{ROBOT_PREFIX}{self.namespace}+{self.name}"


@dataclass(frozen=True, slots=True)
class LongTermCredential:
    """SWR's long-term docker-login credential: its owner's username and this id's token as the
    password, until deleted; ``enabled`` False while it is disabled (never the token itself)."""

    id: int
    user: User
    name: str
    created_at: datetime
    enabled: bool


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, a robot account, or nobody (anonymous)."""

    user: User | None = None
    via: str = "anonymous"  # "password" | "token" | "access_key" | "robot" | "anonymous"
    # The token or access key it came with, where a credential may be minted from it (SWR).
    credential: Credential | None = None
    robot: Robot | None = None  # set for a robot account (``user`` is then None)

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.robot is None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    @property
    def name(self) -> str | None:
        """Whom logs and registry tokens name: the user's name, a robot's ``robot$<namespace>+<name>``."""
        if self.user is not None:
            return self.user.username
        return self.robot.username if self.robot is not None else None


ANONYMOUS = Principal()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    user: User
    token: str
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccessKey:
    user: User
    access_key: str
    secret_key: str
    project_id: str


@dataclass(frozen=True, slots=True)
class StoredTag:
    """A tag as registry sync compares it with the registry's."""

    name: str
    digest: str
    size: int
    complete: bool  # the manifest was read from the registry (size includes config and layers)


@dataclass(frozen=True, slots=True)
class StoredRetention:
    """A repository's retention policy as stored (``domain.retention.Policy.from_json`` reads it)."""

    id: int
    repository_id: int
    algorithm: str
    rules: str  # JSON text
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DueRetention:
    """A policy a run applies, with the repository it applies to."""

    retention: StoredRetention
    namespace: str
    repository: str
    tag_count: int
    # The namespace's id, for its immutable-tag rules (``RetentionStore.due`` sets it; None only for
    # an entry written without a run, as tests of the log do).
    namespace_id: int | None = None

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.repository}"


@dataclass(frozen=True, slots=True)
class RetentionEntry:
    """One tag a retention run deleted, or kept because an immutable-tag rule protects it (SWR's
    ``retention_log`` entry, with repohub's ``outcome`` and ``reason``)."""

    id: int
    retention_id: int
    namespace: str
    repo: str
    tag: str
    rule_type: str
    created_at: datetime
    outcome: str = "deleted"  # or "kept"
    immutable_rule_id: int | None = None  # the rule that kept it

    @property
    def reason(self) -> str | None:
        """Why a chosen tag was kept (None: it was deleted)."""
        if self.outcome != "kept" or self.immutable_rule_id is None:
            return None
        return kept_reason(self.immutable_rule_id)


def kept_reason(rule_id: int, shares: str | None = None) -> str:
    """Why retention kept a tag it chose, the one wording of the run's report and the history: an
    immutable-tag rule protects it, or (``shares``) it shares its image with a tag one protects, which
    deleting it would delete in the registry (Distribution deletes a manifest, not a tag)."""
    if shares is None:
        return f"immutable (rule {rule_id})"
    return f"shares its image with immutable tag {shares!r} (rule {rule_id})"


@dataclass(frozen=True, slots=True)
class TagFacts:
    """What a retention rule looks at of a tag (``domain.retention.rules``)."""

    name: str
    digest: str
    pushed_at: datetime


@dataclass(frozen=True, slots=True)
class Walk(Generic[T]):
    """One keyset page (``queries.RepoWalk``/``TagWalk``): its rows, and whether rows follow the last."""

    items: list[T]
    more: bool
