"""Defaults that both ``Settings`` and the layers below it need, kept once and importing nothing.

``config.Settings`` reads them as its field defaults; the store's engine factory and the domain's
account service fall back to the same values when a caller (a test, a script) gives none, so a
command run without settings behaves as ``repohub serve`` would with an empty environment.
"""

from __future__ import annotations

from datetime import timedelta

__all__ = [
    "DB_COMMAND_TIMEOUT",
    "DB_CONNECT_TIMEOUT",
    "DB_MAX_OVERFLOW",
    "DB_POOL_SIZE",
    "DB_POOL_TIMEOUT",
    "LOGIN_TOKEN_TTL",
    "REPLICA_MAX_LAG",
    "RETENTION_INTERVAL",
    "SQLITE_READ_BUSY_TIMEOUT",
    "SQLITE_WRITE_BUSY_TIMEOUT",
    "SWR_MAX_OFFSET",
    "WEBHOOK_BACKOFF",
    "WEBHOOK_CONCURRENCY",
    "WEBHOOK_HISTORY",
    "WEBHOOK_MAX_AGE",
    "WEBHOOK_TIMEOUT",
]

# A password login's token lives this long unless REPOHUB_LOGIN_TOKEN_TTL says otherwise: a working
# week of a client's session without typing the password again, and a leaked one dies within a week.
LOGIN_TOKEN_TTL = timedelta(days=7)

DB_POOL_SIZE = 10
DB_MAX_OVERFLOW = 10
# Fail fast when PostgreSQL is gone instead of hanging requests: a stopped server refuses at once
# (503 at once); an unreachable host costs at most the connect timeout. New connections on a busy
# small machine can take over a second, so the connect timeout is not tighter.
DB_CONNECT_TIMEOUT = 3.0
DB_COMMAND_TIMEOUT = 10.0  # seconds, the default per statement (asyncpg)
DB_POOL_TIMEOUT = 2.0  # seconds a request waits for a pooled connection before its 503
# Seconds a read replica may be behind its primary and still take reads (``store.replicas``): a
# page a few seconds old is what a list behind a cache would show; a caller's own writes are read
# from the primary regardless (the read-your-writes window).
REPLICA_MAX_LAG = 5.0
# SQLite has one writer at a time: a writer queues on the database's lock for up to this long
# rather than failing at once under concurrent requests...
SQLITE_WRITE_BUSY_TIMEOUT = 30.0
# ...while a lone read (WAL: it never waits for a writer, only for a checkpoint) gives up sooner.
SQLITE_READ_BUSY_TIMEOUT = 5.0

# Seconds between retention runs (REPOHUB_RETENTION_INTERVAL; 0: no scheduled runs): daily, as SWR
# applies its aging rules; ``repohub retention run`` applies them at once in between.
RETENTION_INTERVAL = 86_400

# Webhooks (``domain.webhooks.delivery``): seconds before the first retry (then doubling), seconds a
# delivery is retried for (24 h), seconds an attempt waits for its target, attempts in flight at once.
WEBHOOK_BACKOFF = 10.0
WEBHOOK_MAX_AGE = 86_400
WEBHOOK_TIMEOUT = 10.0
WEBHOOK_CONCURRENCY = 64
WEBHOOK_HISTORY = 7 * 86_400  # seconds settled deliveries and their attempts are kept

# Every statement repohub runs is a millisecond index read or write; PostgreSQL's JIT, on by default,
# compiles whatever its planner costs above 100,000 (a generic plan of a page across namespaces, a
# token's roles at 10,000 memberships) and took 0.5–1.4 s doing so, for queries that run in 40 ms
# without it (review of issue 18, PostgreSQL 15). Both the sessions' engine and the reader's pool set these.
PG_SESSION_SETTINGS = (("jit", "off"),)  # (name, value) pairs: a constant no caller can change

# The deepest offset SWR's v2 repository and tag lists take (``offset`` above it: a 400 pointing to
# v3's marker). An offset page reads and throws away every row before it, so its cost grows with its
# depth; a keyset page (v3's marker, ``store.keyset``) costs its own rows at any depth. Measured for
# issue 19 (PostgreSQL, 100,000 rows, a name-ordered page of 100 by its index, a shared 2-core host):
# offset 0 0.05 ms, 10,000 3-9 ms, 50,000 30-34 ms; the keyset page at 50,000 0.04-0.06 ms. At
# 10,000 (a hundred pages of the default size, past what a console pages through) a page still costs
# a few milliseconds, and no offset request reads more than 11,000 rows (at most 1,000 a page).
SWR_MAX_OFFSET = 10_000
