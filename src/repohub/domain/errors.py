"""One hierarchy of domain errors. Each dialect's ``errors.py`` maps them to its status and body."""

from __future__ import annotations


class DomainError(Exception):
    """Base class. ``code`` is a stable machine-readable name; the message is for humans."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The client sent something the rules reject (bad name, too long, unknown field, bad paging)."""

    code = "invalid_input"


class NotAuthenticated(DomainError):
    """No credentials, or credentials that do not check out."""

    code = "not_authenticated"


class PermissionDenied(DomainError):
    """Authenticated, can see the resource, but may not do this to it."""

    code = "permission_denied"


class NotFound(DomainError):
    """Does not exist, or exists but the caller may not know that (private repositories)."""

    code = "not_found"


class Conflict(DomainError):
    """Would break uniqueness or another invariant (duplicate name, non-empty namespace)."""

    code = "conflict"


class QuotaExceeded(DomainError):
    """The namespace is at a limit an operator set (``repohub quotas set``): nothing was created."""

    code = "quota_exceeded"


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` is the seconds until they are allowed again, when known."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class UpstreamUnavailable(DomainError):
    """A dependency (database, registry) is down; the client may retry later."""

    code = "unavailable"


class UpstreamFailed(DomainError):
    """A dependency answered, but refused or failed the operation."""

    code = "upstream_error"
