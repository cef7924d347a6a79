"""Typed SQLAlchemy models: the schema of the catalogue. Only ``store`` imports this module."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from repohub.domain.clock import utcnow

# Stable constraint names keep Alembic diffs identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite would otherwise hand back naive ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY, so big ids are BIGINT elsewhere only.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UserRow(Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    display_name: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)


class NamespaceRow(Timestamps, Base):
    __tablename__ = "namespaces"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # "user" (personal) or "org"
    display_name: Mapped[str | None] = mapped_column(String(128))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class MembershipRow(Base):
    __tablename__ = "memberships"

    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(8))  # admin | member | viewer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_memberships_user_id", "user_id"),)


class RepositoryRow(Timestamps, Base):
    __tablename__ = "repositories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    full_description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(16), default="other")
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    is_automated: Mapped[bool] = mapped_column(Boolean, default=False)
    logo: Mapped[str] = mapped_column(String(255), default="default-icon.jpg")
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    tag_count: Mapped[int] = mapped_column(Integer, default=0)
    download_count: Mapped[int] = mapped_column(BigInteger, default=0)
    upload_count: Mapped[int] = mapped_column(BigInteger, default=0)
    star_count: Mapped[int] = mapped_column(Integer, default=0)
    pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # An index for every order a list offers (``pg_pages._ORDER_COLUMNS``), across namespaces and
    # within one, each ending in the id that breaks ties: the first page of any order is a top-N walk
    # of an index, not a sort of every visible row (834 ms at 1M repositories before, issue 19).
    # Name within a namespace is the unique key's order; (namespace_id, id) is v3's keyset walk.
    __table_args__ = (
        UniqueConstraint("namespace_id", "name"),
        Index("ix_repositories_is_public", "is_public"),
        Index("ix_repositories_name_id", "name", "id"),
        Index("ix_repositories_updated_at_id", "updated_at", "id"),
        Index("ix_repositories_created_at_id", "created_at", "id"),
        Index("ix_repositories_tag_count_id", "tag_count", "id"),
        Index("ix_repositories_download_count_id", "download_count", "id"),
        Index("ix_repositories_namespace_id_id", "namespace_id", "id"),
        Index("ix_repositories_namespace_id_updated_at_id", "namespace_id", "updated_at", "id"),
        Index("ix_repositories_namespace_id_created_at_id", "namespace_id", "created_at", "id"),
        Index("ix_repositories_namespace_id_tag_count_id", "namespace_id", "tag_count", "id"),
        Index("ix_repositories_namespace_id_download_count_id", "namespace_id", "download_count", "id"),
    )


class NamespaceCountRow(Base):
    """What a namespace holds: kept by triggers on ``repositories`` in the transaction of every change
    (migration 0010), so that SWR's overview and quota usage are one indexed read instead of a count
    of every row. ``repohub counts check`` recomputes them."""

    __tablename__ = "namespace_counts"

    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    repositories: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    public_repositories: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    tags: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class CatalogueCountRow(Base):
    """The whole catalogue's repositories (all, public) per category, striped over a few rows by
    repository id (creates do not queue on one lock); kept by the same triggers as
    ``NamespaceCountRow``. The total of a list across namespaces is a sum of these rows."""

    __tablename__ = "catalogue_counts"

    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    stripe: Mapped[int] = mapped_column(Integer, primary_key=True)
    repositories: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    public_repositories: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class MemberCountRow(Base):
    """A user's private repositories in the namespaces it belongs to, per category: what its list
    across namespaces shows beyond the public ones. Kept by triggers on ``repositories`` and
    ``memberships`` (migration 0010)."""

    __tablename__ = "member_counts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(16), primary_key=True)
    private_repositories: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class NamespaceQuotaRow(Timestamps, Base):
    """A namespace's limit of one kind (``repositories``), set with ``repohub quotas set``; no row
    means no limit."""

    __tablename__ = "namespace_quotas"

    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), primary_key=True
    )
    quota_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    quota_limit: Mapped[int] = mapped_column(BigInteger)


# The fuzzy name filter (``lower(name) LIKE '%...%'``) uses a trigram index on PostgreSQL (pg_trgm,
# migration 0004), so it costs the matches, not a scan of every repository. SQLite scans.
Index(
    "ix_repositories_name_trgm",
    func.lower(RepositoryRow.name).label("name_lower"),
    postgresql_using="gin",
    postgresql_ops={"name_lower": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


class TagRow(Timestamps, Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(80))
    image_id: Mapped[str] = mapped_column(String(80), default="")  # config digest, sans "sha256:"
    media_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    manifest: Mapped[str | None] = mapped_column(Text)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # ``updated_at`` is the tag's last push (a re-push or a retag moves it; repohub putting a manifest
    # back under a kept tag does not). Pulls are the registry's manifest GETs of this tag.
    pull_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    pulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("repository_id", "name"),
        Index("ix_tags_repository_id_digest", "repository_id", "digest"),
        Index("ix_tags_repository_id_id", "repository_id", "id"),  # v3's keyset walk of tags
        # A list page's tag names, newest first, read off the index: SQLite otherwise sorted each
        # row's tags in a temporary B-tree (a namespace page: 5,600 VM steps, 4,200 with the index).
        Index("ix_tags_repository_id_created_at_id", "repository_id", "created_at", "id"),
    )


class RetentionRow(Timestamps, Base):
    """A repository's retention policy (SWR's "aging rule"): at most one per repository, as in SWR.

    ``rules`` is the policy's rules as JSON text, in the canonical form ``domain.retention`` writes.
    """

    __tablename__ = "retentions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), unique=True)
    algorithm: Mapped[str] = mapped_column(String(8), default="or")
    rules: Mapped[str] = mapped_column(Text)


class RetentionLogRow(Base):
    """One tag a retention run deleted. Names are copied: the entry outlives the rule (no foreign key
    to it); it goes with its repository."""

    __tablename__ = "retention_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    retention_id: Mapped[int] = mapped_column(BigInteger)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    namespace: Mapped[str] = mapped_column(String(64))
    repo: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(String(128))
    rule_type: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # "deleted", or "kept" for a tag the policy chose that an immutable-tag rule (this id) protects.
    outcome: Mapped[str] = mapped_column(String(16), default="deleted", server_default="deleted")
    immutable_rule_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_retention_log_repository_id_id", "repository_id", "id"),)


class ImmutableRuleRow(Timestamps, Base):
    """A namespace's immutable-tag rule (SWR's ``immutabletagrules``, Harbor's shape): one tag selector
    and one repository selector, each a decoration and a doublestar pattern. Two rules of a namespace
    may not say the same (the unique constraint, a 409 as Harbor's); the push check reads a
    namespace's enabled rules by its prefix."""

    __tablename__ = "immutable_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    tag_decoration: Mapped[str] = mapped_column(String(16))
    tag_pattern: Mapped[str] = mapped_column(String(256))
    repo_decoration: Mapped[str] = mapped_column(String(16))
    repo_pattern: Mapped[str] = mapped_column(String(256))

    __table_args__ = (
        UniqueConstraint(
            "namespace_id",
            "tag_decoration",
            "tag_pattern",
            "repo_decoration",
            "repo_pattern",
            name="uq_immutable_rules_selectors",  # the convention's name is longer than PostgreSQL's 63
        ),
    )


class ScheduleRow(Base):
    """A background job every replica runs on a schedule (``retention``): the replica whose UPDATE
    moves ``next_due_at`` forward runs it, so a schedule runs once per interval however many replicas
    share the database. ``lease_until`` marks a run in progress (a crashed holder's lease lapses)."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    holder: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StarRow(Base):
    __tablename__ = "stars"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_stars_repository_id", "repository_id"),)


class RepositoryGrantRow(Timestamps, Base):
    """A user's role on one repository alone (SWR's per-repository access, ``auth`` 7/3/1): the
    caller's effective role there is the stronger of this and its namespace role (``domain.access``)."""

    __tablename__ = "repository_grants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(8))  # admin | member | viewer

    __table_args__ = (
        UniqueConstraint("repository_id", "user_id"),
        Index("ix_repository_grants_user_id", "user_id"),
    )


class RepositoryShareRow(Timestamps, Base):
    """A repository shared with another namespace (SWR's "access domain"): the members of
    ``namespace_id`` may read and pull it until ``expires_at`` (None: forever). Nothing runs at the
    deadline; the policy compares it at each decision."""

    __tablename__ = "repository_shares"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    permit: Mapped[str] = mapped_column(String(8), default="read")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    description: Mapped[str] = mapped_column(String(1024), default="")
    creator: Mapped[str] = mapped_column(String(64), default="")  # a username: outlives its user

    __table_args__ = (
        UniqueConstraint("repository_id", "namespace_id"),
        Index("ix_repository_shares_namespace_id", "namespace_id"),
    )


class RobotRow(Timestamps, Base):
    """A namespace's robot account, ``robot$<namespace>+<name>``: a machine credential limited to
    pull and push on its patterns (``RobotAccessRow``); ``lookup`` = SHA-256 of its secret."""

    __tablename__ = "robots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    lookup: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    is_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("namespace_id", "name"),)


class RobotAccessRow(Base):
    """One of a robot's grants: ``action`` (pull | push) on the repositories of its namespace whose
    names match ``pattern`` (a shell glob, ``*`` and ``?``); ``like_pattern`` is the same as a LIKE pattern,
    so that a list's SQL can apply it (``store.pg_pages``)."""

    __tablename__ = "robot_access"

    robot_id: Mapped[int] = mapped_column(ForeignKey("robots.id", ondelete="CASCADE"), primary_key=True)
    action: Mapped[str] = mapped_column(String(8), primary_key=True)
    pattern: Mapped[str] = mapped_column(String(255), primary_key=True)
    like_pattern: Mapped[str] = mapped_column(String(512))


class CredentialRow(Base):
    """API tokens (``lookup`` = SHA-256 of the token) and access keys (``lookup`` = the AK).

    A derived credential (SWR's docker-login token) names the credential it was minted from in
    ``parent_id``: it expires no later than its parent and is revoked with it.
    """

    __tablename__ = "credentials"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "token" | "access_key"
    lookup: Mapped[str] = mapped_column(String(128), unique=True)
    encrypted_secret: Mapped[str | None] = mapped_column(Text)  # access keys only
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # How it was issued: "cli" (tokens create, access-keys create) | "login" | "docker-login".
    origin: Mapped[str] = mapped_column(String(16), default="cli", server_default="cli")
    parent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("credentials.id", ondelete="CASCADE"))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # at most a minute stale
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # SWR's long-term credentials

    __table_args__ = (
        Index("ix_credentials_user_id", "user_id"),
        Index("ix_credentials_parent_id", "parent_id"),
    )


class RegistryEventRow(Base):
    """Ids of registry notification events already applied: the registry retries, we count once."""

    __tablename__ = "registry_events"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_registry_events_received_at", "received_at"),)


class AuditRow(Base):
    """One write: who (user or the CLI), what (statement and identifying values), when, from where.

    ``actor`` is a username, not a foreign key: the trail outlives the users it names.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))  # e.g. "insert repositories"
    target: Mapped[str] = mapped_column(Text, default="")  # identifying values, never secrets
    source: Mapped[str] = mapped_column(String(64), default="")  # client address, or "cli"
    request_id: Mapped[str] = mapped_column(String(128), default="")
    # The namespace the write belongs to, where one does (SWR's audit log for namespace admins). No
    # foreign key: the trail outlives the namespaces it names.
    namespace_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_namespace_id", "namespace_id", "id"),
    )


class WebhookRow(Timestamps, Base):
    """A namespace's webhook: an Alauda hook (``format`` "alauda": its ``repository``, or the whole
    namespace when None) or an SWR webhook policy (``format`` "harbor": its ``scope``, the policy's
    ``scope_rules`` as canonical JSON). ``events`` is a comma-joined set of push, pull, delete.
    ``secret`` (the Alauda signing key) and ``auth_header`` (SWR's header list) are sealed
    (``auth.secrets.SecretBox``): never stored, returned or logged in clear."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(256), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(String(64))
    repository: Mapped[str | None] = mapped_column(String(255))
    scope: Mapped[str | None] = mapped_column(Text)
    secret: Mapped[str | None] = mapped_column(Text)
    auth_header: Mapped[str | None] = mapped_column(Text)
    skip_cert_verify: Mapped[bool] = mapped_column(Boolean, default=False)
    address_type: Mapped[str] = mapped_column(String(16), default="internet")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    creator: Mapped[str] = mapped_column(String(64), default="")


class WebhookDeliveryRow(Base):
    """The outbox: one event to deliver to one webhook, written in the transaction of the change that
    caused it. ``delivery_id`` is the stable ``X-Repohub-Delivery`` of every attempt. A worker claims a
    pending row due at ``next_attempt_at`` by moving that time on (its lease: the target's timeout), so
    a worker that died leaves a row due again seconds later; the value it set is its claim's token
    (a late outcome of an earlier claim changes nothing). Retried until ``created_at`` plus
    REPOHUB_WEBHOOK_MAX_AGE (the workers' setting). ``event`` is the event as JSON
    (``domain.webhooks.outbox.Notice``), rendered into the hook's format at delivery."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    hook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(8))
    event: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_status: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        # What the workers' claim reads: the pending rows by due time, nothing else.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
    )


class WebhookJobRow(Base):
    """One delivery attempt (SWR's webhook "job"): ``status`` Succeed or Failed, ``status_text`` the
    receiver's HTTP status code or the connection error, how long it took."""

    __tablename__ = "webhook_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    # No foreign key to ``webhooks``: the delivery's cascade removes the jobs with their hook, and a
    # key checked at each job INSERT locked the hook against its own DELETE (a deadlock on
    # PostgreSQL between a recording worker and a hook's deletion).
    hook_id: Mapped[int] = mapped_column(BigId)
    action: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12))
    status_text: Mapped[str] = mapped_column(String(255), default="")
    response_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_webhook_jobs_hook_id_id", "hook_id", "id"),)
