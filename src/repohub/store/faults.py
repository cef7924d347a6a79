"""Tell "the database is unavailable" apart from a real bug among driver errors.

PostgreSQL going away surfaces in many shapes: connection refused (OSError), SQLAlchemy's
OperationalError/InterfaceError, and plain DBAPIError wrapping asyncpg's AdminShutdownError,
ConnectionDoesNotExistError or a protocol left mid-operation by a dropped socket. All of those mean
"retry later" (503), not "internal error" (500).

The api's error handlers are registered for the types named here, so that no module outside the
store names a driver's or SQLAlchemy's exception classes.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["DATABASE_ERROR", "UNAVAILABLE_ERRORS", "is_bad_character", "is_unavailable"]

# What the database's driver raises when it is unreachable or has no free connection within
# DB_POOL_TIMEOUT (PoolTimeout): always "retry later".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)
# Every other statement failure: unavailable in another disguise, the client's bad characters, or a bug.
DATABASE_ERROR: type[Exception] = DBAPIError

# SQLSTATE classes: 08 connection exception, 57 operator intervention (shutdown, cannot connect now),
# 53 insufficient resources (too many connections).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57", "53")
_UNAVAILABLE_DRIVER_ERRORS = frozenset(
    {"ConnectionDoesNotExistError", "InternalClientError", "ConnectionFailureError", "InterfaceError"}
)


def _chain(error: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(found) < 8:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    for link in _chain(error):
        if isinstance(link, (OSError, TimeoutError, PoolTimeout)):  # PoolTimeout: no free connection
            return True
        sqlstate = getattr(link, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return True
        if type(link).__name__ in _UNAVAILABLE_DRIVER_ERRORS:
            return True
    return False


# PostgreSQL cannot hold NUL (SQLSTATE 22021) or untranslatable characters (22P05): a path or body
# carrying one is the client's mistake, whichever dialect's lookup reached the database with it.
_BAD_CHARACTER_STATES = frozenset({"22021", "22P05"})


def is_bad_character(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in _BAD_CHARACTER_STATES
