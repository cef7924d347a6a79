"""Settings: the only place that reads the environment (prefix ``REPOHUB_``, ``.env`` supported)."""

from __future__ import annotations

import ipaddress
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from repohub import defaults
from repohub.private_files import private_dir

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/repohub.db"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting's error names it and why, never its value (database
    # URLs, replica URLs and secrets may carry passwords, and the error goes to the terminal).
    model_config = SettingsConfigDict(
        env_prefix="REPOHUB_", env_file=".env", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    data_dir: Path = Path("data")
    admin_username: str = "admin"
    admin_password: SecretStr | None = None
    # Encrypts access-key secrets at rest. Unset: generated once and kept in ``data_dir``.
    secret_key: SecretStr | None = None
    registry_host: str = "127.0.0.1:5000"
    domain_name: str = "repohub.local"
    root_path: str = ""
    # Comma-separated proxy addresses and CIDR ranges (or ``*``) whose X-Forwarded-* are believed.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    proxy_headers: bool = True
    # The pool and timeouts of every process (serve, migrate, the CLI); why these values: ``defaults``.
    db_pool_size: int = Field(default=defaults.DB_POOL_SIZE, ge=1)
    db_max_overflow: int = Field(default=defaults.DB_MAX_OVERFLOW, ge=0)
    db_connect_timeout: float = Field(default=defaults.DB_CONNECT_TIMEOUT, gt=0)
    db_command_timeout: float = Field(default=defaults.DB_COMMAND_TIMEOUT, gt=0)
    db_pool_timeout: float = Field(default=defaults.DB_POOL_TIMEOUT, gt=0)
    # Streaming standbys of the PostgreSQL primary (comma-separated URLs) that take the lone reads
    # (``store.replicas``); empty: every read on the primary. A replica further behind than
    # ``replica_max_lag`` seconds is skipped until it catches up.
    database_replica_urls: str = ""
    replica_max_lag: float = Field(default=defaults.REPLICA_MAX_LAG, ge=0)
    log_level: str = Field(default="info", pattern="^(debug|info|warning|error)$")
    # FastAPI's own OpenTelemetry (traces, metrics, logs to the globally configured providers). Off,
    # FastAPI skips its per-request check for a configured provider; /metrics is repohub's own.
    opentelemetry: bool = False
    # Abuse limits (0 disables a rate limit); rates are requests per minute per process.
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    login_rate_per_client: int = Field(default=60, ge=0)
    # Failed password checks per username a minute, on every endpoint that checks one (0: no limit).
    login_rate_per_user: int = Field(default=10, ge=0)
    token_rate_per_client: int = Field(default=600, ge=0)
    token_rate_per_user: int = Field(default=300, ge=0)
    # Seconds a password login's API token lives (v1 generate-api-token; also caps SWR's docker-login
    # token); 0: until revoked. At most ten years, so that no expiry overflows a date.
    login_token_ttl: int = Field(
        default=int(defaults.LOGIN_TOKEN_TTL.total_seconds()), ge=0, le=10 * 366 * 86_400
    )
    cors_origins: str = ""  # comma-separated origins allowed by CORS; empty: no CORS headers at all
    # The Distribution registry repohub issues tokens for and hears events from (see README).
    registry_url: str | None = None  # its HTTP API, e.g. http://127.0.0.1:5000; unset: no registry calls
    public_url: str = "http://127.0.0.1:8000"  # how clients and the registry reach repohub (see link_base)
    # Comma-separated host names (``*.example.com``: its subdomains) requests may name in Host, or in a
    # trusted proxy's X-Forwarded-Host; others get a 400. ``*``: any host.
    allowed_hosts: str = "*"
    registry_service: str = "repohub-registry"
    registry_issuer: str = "repohub"
    registry_token_ttl: int = Field(default=300, ge=10, le=86_400)
    registry_key_path: Path | None = None  # default: data_dir/registry-token.key
    registry_cert_path: Path | None = None  # default: data_dir/registry-token.crt
    # The shared secret the registry sends with events. Unset: generated once and kept in data_dir.
    registry_events_secret: SecretStr | None = None
    # The one SWR enterprise-edition instance repohub is (``/v2/{project_id}/instances/{id}/...``).
    # Unset: generated once and kept in data_dir, so every process sharing it answers the same id;
    # set it explicitly for replicas that do not share data_dir. One path segment, as SWR's ids are.
    swr_instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    # Seconds between scheduled retention runs, shared by every replica of the database (one of them
    # runs each time: ``domain.retention.scheduler``); 0: only ``repohub retention run`` applies rules.
    retention_interval: int = Field(default=defaults.RETENTION_INTERVAL, ge=0, le=366 * 86_400)
    # Webhook delivery (``domain.webhooks.delivery``): the first retry after this many seconds,
    # doubling (with jitter) until a delivery is this old; each attempt waits this long for a target.
    webhook_backoff: float = Field(default=defaults.WEBHOOK_BACKOFF, gt=0, le=86_400)
    webhook_max_age: int = Field(default=defaults.WEBHOOK_MAX_AGE, ge=1, le=30 * 86_400)
    webhook_timeout: float = Field(default=defaults.WEBHOOK_TIMEOUT, gt=0, le=300)
    webhook_concurrency: int = Field(default=defaults.WEBHOOK_CONCURRENCY, ge=1, le=1024)
    # Targets on loopback, link-local or private addresses are refused unless this is true.
    webhook_allow_private: bool = False
    # Seconds a settled delivery (delivered, or failed for good) and its attempts are kept for
    # `repohub hooks deliveries` and SWR's jobs list, then deleted by the workers.
    webhook_history: int = Field(default=defaults.WEBHOOK_HISTORY, ge=3600, le=366 * 86_400)
    # Whether this process runs a delivery worker (``repohub serve``); false leaves delivery to the
    # other replicas (and keeps the in-process app of the tests from polling the outbox).
    webhook_delivery: bool = True

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        """A typo must stop the start, not silently trust nobody (or the wrong range)."""
        parse_trusted(value.split(","))  # ValueError names the entry
        return value

    @field_validator("allowed_hosts")
    @classmethod
    def _valid_hosts(cls, value: str) -> str:
        if not _split(value):  # would refuse every request; "*" says "any host"
            raise ValueError("allowed_hosts: give at least one host, or '*'")
        for pattern in _split(value):
            if "*" in pattern[1:] or (pattern.startswith("*") and pattern != "*" and pattern[1] != "."):
                raise ValueError(f"allowed_hosts: {pattern!r} is no host; a wildcard is '*.example.com'")
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _valid_replicas(cls, value: str, info: ValidationInfo) -> str:
        """Replicas are PostgreSQL standbys of a PostgreSQL primary: anything else stops the start.
        The message names the scheme, never the URL (it may carry a password)."""
        urls = _split(value)
        if urls and str(info.data.get("database_url", "")).startswith("sqlite"):
            raise ValueError("read replicas need a PostgreSQL database_url")
        for number, url in enumerate(urls, 1):
            _check_replica_url(number, url)
        return value

    @property
    def replica_url_list(self) -> list[str]:
        return _split(self.database_replica_urls)

    @property
    def allowed_host_list(self) -> list[str]:
        return _split(self.allowed_hosts)

    @property
    def link_base(self) -> str | None:
        """PUBLIC_URL, without a trailing slash, if it was set (environment, ``.env`` or argument);
        None if not: its default promises nothing about where clients reach repohub, so links then
        follow the request's Host and trusted X-Forwarded-*."""
        return self.public_url.rstrip("/") if "public_url" in self.model_fields_set else None

    @property
    def login_token_lifetime(self) -> timedelta | None:
        return timedelta(seconds=self.login_token_ttl) if self.login_token_ttl else None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @cached_property
    def resolved_secret_key(self) -> str:
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _persisted_secret(self.data_dir / "secret.key")

    @cached_property
    def resolved_events_secret(self) -> str:
        if self.registry_events_secret is not None:
            return self.registry_events_secret.get_secret_value()
        return _persisted_secret(self.data_dir / "registry-events.secret")

    @cached_property
    def resolved_swr_instance_id(self) -> str:
        if self.swr_instance_id is not None:
            return self.swr_instance_id
        return _persisted_secret(self.data_dir / "swr-instance.id", make=lambda: str(uuid.uuid4()))

    @property
    def token_key_path(self) -> Path:
        return self.registry_key_path or self.data_dir / "registry-token.key"

    @property
    def token_cert_path(self) -> Path:
        return self.registry_cert_path or self.data_dir / "registry-token.crt"

    @property
    def cors_origin_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    @property
    def trusted_proxies(self) -> frozenset[str]:
        return frozenset(ip.strip() for ip in self.forwarded_allow_ips.split(",") if ip.strip())


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


_REPLICA_URL_HINT = (
    "must be a postgresql URL with a valid host and port (1-65535); percent-encode the password's"
    " special characters (, @ : / %)"
)


def _check_replica_url(number: int, url: str) -> None:
    """Refuse a replica URL SQLAlchemy does not parse as a PostgreSQL database on a sane host:port.
    The message names the URL by its place in the list, never any part of it: an unencoded ``,`` or
    ``@`` in a password splits it elsewhere, and the piece shown would be a piece of the password."""
    # Here, not at the top: the store imports these settings (and SQLAlchemy stays in the store).
    from repohub.store.replicas import is_replica_url

    if not is_replica_url(url):
        raise ValueError(f"replica URL #{number} {_REPLICA_URL_HINT}")


def _split(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def parse_trusted(entries: Iterable[str]) -> tuple[bool, tuple[Network, ...]]:
    """Trusted proxies: ``*`` (trust every peer) and the networks of the other entries (addresses or
    CIDR ranges); a bad entry is a ValueError."""
    cleaned = [entry.strip() for entry in entries if entry.strip()]
    networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in cleaned if entry != "*")
    return "*" in cleaned, networks


def _new_key() -> str:
    return secrets.token_urlsafe(32)


def _persisted_secret(path: Path, make: Callable[[], str] = _new_key) -> str:
    """Read a generated value (a server key, an id), creating it with ``make`` on first use and kept
    so that restarts can still decrypt and every process sharing ``path`` reads the same value."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        private_dir(path.parent)
        key = make()
        # A name of its own per attempt: with one shared name, a loser's unlink could remove the
        # file another process was about to link (its link() would then fail with ENOENT).
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        tmp.write_text(key)
        tmp.chmod(0o600)
        try:
            # link() fails if another process won the race; then its key is the key.
            path.hardlink_to(tmp)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text().strip()
