"""SQL behind the registry adapter: access facts for tokens, event ids, batched tag and counter writes.

Tag writes here do not recompute the repository summary each time (``TagStore`` does); the caller
applies a whole envelope and then calls :meth:`RegistryStore.update_repository` once per repository.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    bindparam,
    delete,
    select,
    text,
    update,
)

from repohub.domain.access import FOREVER, AccessFacts
from repohub.domain.entities import Role, StoredTag
from repohub.domain.grant_facts import MemberFacts
from repohub.store.audit import learn_namespaces
from repohub.store.readers import Reader, Reads
from repohub.store.repositories import later, update_summary
from repohub.store.session import LazySession
from repohub.store.tables import (
    NamespaceRow,
    RegistryEventRow,
    RepositoryRow,
    TagRow,
    UTCDateTime,
)

__all__ = ["GuardedTag", "KnownRepository", "RegistryStore", "TagPulls", "TouchedTag"]

# What a caller reaches in a repository beyond its namespace role (``AccessFacts.grant``,
# ``shared_until``): its grant there, and the latest end of a share with a namespace it belongs to
# (forever: no deadline), each a probe of a unique index; $2 is the caller's user id.
_BEYOND_COLUMNS = (
    "(SELECT g.role FROM repository_grants g WHERE g.repository_id = r.id AND g.user_id = $2) AS grant_role,"
    " (SELECT max(CASE WHEN s.expires_at IS NULL THEN 1 ELSE 0 END) FROM repository_shares s"
    " JOIN memberships d ON d.namespace_id = s.namespace_id AND d.user_id = $2"
    " WHERE s.repository_id = r.id) AS share_forever,"
    " (SELECT max(s.expires_at) FROM repository_shares s"
    " JOIN memberships d ON d.namespace_id = s.namespace_id AND d.user_id = $2"
    " WHERE s.repository_id = r.id) AS share_ends_at"
)
# Whether the namespace is at its repository quota (``AccessFacts.full``): a probe of the quota's
# primary key, and only where there is a quota, a sum of its counts rows (their key's prefix).
_FULL_COLUMN = (
    "EXISTS (SELECT 1 FROM namespace_quotas q WHERE q.namespace_id = n.id"
    " AND q.quota_key = 'repositories' AND q.quota_limit <= (SELECT coalesce(sum(c.repositories), 0)"
    " FROM namespace_counts c WHERE c.namespace_id = n.id)) AS full_namespace"
)
# The access facts of one repository, the query of a ``GET /registry/token`` scope (``access_facts``).
_ACCESS_FACTS_SQL = (
    f"SELECT n.id, m.role, r.id, r.is_public, {_BEYOND_COLUMNS}, {_FULL_COLUMN} FROM namespaces n"
    " LEFT OUTER JOIN memberships m ON m.namespace_id = n.id AND m.user_id = $2"
    " LEFT OUTER JOIN repositories r ON r.namespace_id = n.id AND r.name = $3"
    " WHERE n.name = $1"
)
# The access facts of several repositories at once (``access_facts_of``): each wanted namespace with
# the caller's role, and whichever of the wanted names exist in it. One statement text per database
# whatever the count (the lists are one array or JSON parameter each).
_ACCESS_FACTS_OF_SQL = {
    "postgresql": (
        f"SELECT n.name, r.name, n.id, m.role, r.id, r.is_public, {_BEYOND_COLUMNS}, {_FULL_COLUMN}"
        " FROM namespaces n"
        " LEFT OUTER JOIN memberships m ON m.namespace_id = n.id AND m.user_id = $2"
        " LEFT OUTER JOIN repositories r ON r.namespace_id = n.id AND r.name = ANY($3::varchar[])"
        " WHERE n.name = ANY($1::varchar[])"
    ),
    "sqlite": (
        f"SELECT n.name, r.name, n.id, m.role, r.id, r.is_public, {_BEYOND_COLUMNS}, {_FULL_COLUMN}"
        " FROM namespaces n"
        " LEFT OUTER JOIN memberships m ON m.namespace_id = n.id AND m.user_id = $2"
        " LEFT OUTER JOIN repositories r ON r.namespace_id = n.id"
        " AND r.name IN (SELECT value FROM json_each($3))"
        " WHERE n.name IN (SELECT value FROM json_each($1))"
    ),
}
# A user's facts as a member, for ``member_facts``: a row of each namespace it belongs to (its role,
# whether the namespace is full; no repository), then a row of each repository granted to it in one of
# them, with that repository's whole facts (``access_facts``' columns): a grant may be stronger than
# the role, a share never is (it gives what any role gives). Before, the namespaces of its grants were
# left out, and their every token read its repository's facts from the database: 61 of the bench
# user's 100 namespaces, about 4 in 10 token requests. $1 and $2 are both the user's id
# (``_BEYOND_COLUMNS`` names it $2). The grants' namespaces are no longer joined to the memberships
# (as a NOT EXISTS under an OR, PostgreSQL had costed a probe per membership: 540 ms against 40 at
# 10,000 of them, review of issue 18); the second part is driven by the user's grants alone.
_MEMBER_FACTS_SQL = (
    f"SELECT n.name, NULL, n.id, m.role, NULL, NULL, NULL, NULL, NULL, {_FULL_COLUMN}"
    " FROM memberships m JOIN namespaces n ON n.id = m.namespace_id WHERE m.user_id = $1"
    f" UNION ALL SELECT n.name, r.name, n.id, m.role, r.id, r.is_public, {_BEYOND_COLUMNS}, {_FULL_COLUMN}"
    " FROM repository_grants g0 JOIN repositories r ON r.id = g0.repository_id"
    " JOIN namespaces n ON n.id = r.namespace_id"
    " JOIN memberships m ON m.namespace_id = n.id AND m.user_id = $2"
    " WHERE g0.user_id = $2"
)


# An envelope's event ids and repository paths go in as one array (PostgreSQL) or JSON text (SQLite)
# parameter, so that each statement is the same text whatever the envelope's size: compiled once by
# SQLAlchemy, prepared once per connection. A VALUES list or a row-value IN of 100 pairs was compiled
# anew for every envelope (a third of its CPU), and the IN made PostgreSQL test every pair against
# every repository of each namespace (30 ms at 100k repositories); here each pair is two probes of
# unique indexes.
_CLAIM_EVENTS = {
    "postgresql": text(
        "INSERT INTO registry_events (id, received_at)"
        " SELECT unnest(CAST(:ids AS VARCHAR[])), CAST(:at AS TIMESTAMP WITH TIME ZONE)"
        " ON CONFLICT (id) DO NOTHING RETURNING id"
    ).bindparams(bindparam("at", type_=UTCDateTime())),
    "sqlite": text(
        "INSERT INTO registry_events (id, received_at)"
        " SELECT value, :at FROM json_each(:ids) WHERE true"  # WHERE: SQLite's upsert-after-SELECT rule
        " ON CONFLICT (id) DO NOTHING RETURNING id"
    ).bindparams(bindparam("at", type_=UTCDateTime())),
}
# Whether the namespace has an enabled webhook: asked with the ids, so that an envelope of a
# namespace without hooks (most) costs the outbox no statement (``domain.webhooks.outbox``).
_HOOKED = "EXISTS (SELECT 1 FROM webhooks w WHERE w.namespace_id = n.id AND w.enabled)"
_REPOSITORY_IDS = {
    "postgresql": text(
        "SELECT n.name, r.name, r.id, r.is_public, " + _HOOKED + ", n.id"
        " FROM unnest(CAST(:namespaces AS VARCHAR[]), CAST(:names AS VARCHAR[])) AS wanted(namespace, name)"
        " JOIN namespaces n ON n.name = wanted.namespace"
        " JOIN repositories r ON r.namespace_id = n.id AND r.name = wanted.name"
    ),
    "sqlite": text(
        "SELECT n.name, r.name, r.id, r.is_public, " + _HOOKED + ", n.id FROM json_each(:pairs) AS wanted"
        " JOIN namespaces n ON n.name = json_extract(wanted.value, '$[0]')"
        " JOIN repositories r ON r.namespace_id = n.id AND r.name = json_extract(wanted.value, '$[1]')"
    ),
}
# The tags on each wanted (repository id, digest) pair, for pulls by digest (``add_tag_pulls``): one
# statement text whatever the count, like ``_REPOSITORY_IDS``; each pair is one probe of the
# (repository_id, digest) index.
_TAGS_ON_DIGESTS = {
    "postgresql": text(
        "SELECT t.repository_id, t.digest, t.name"
        " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:digests AS VARCHAR[])) AS wanted(repository_id, digest)"
        " JOIN tags t ON t.repository_id = wanted.repository_id AND t.digest = wanted.digest"
    ),
    "sqlite": text(
        "SELECT t.repository_id, t.digest, t.name FROM json_each(:pairs) AS wanted"
        " JOIN tags t ON t.repository_id = json_extract(wanted.value, '$[0]')"
        " AND t.digest = json_extract(wanted.value, '$[1]')"
    ),
}

# The existing tags an envelope's pushes and deletes would change, in namespaces with an enabled
# immutable-tag rule (``tags_under_rules``): each wanted row names a tag (a push, a delete by tag) or a
# digest (a delete by digest; the other is ''), and is probes of unique indexes and the (repository_id,
# digest) index. A namespace without an enabled rule answers nothing, whatever its tags.
_TAGS_UNDER_RULES = {
    "postgresql": text(
        "SELECT n.id, n.name, p.name, p.id, t.name, t.digest"
        " FROM unnest(CAST(:namespaces AS VARCHAR[]), CAST(:names AS VARCHAR[]),"
        " CAST(:tags AS VARCHAR[]), CAST(:digests AS VARCHAR[])) AS wanted(namespace, name, tag, digest)"
        " JOIN namespaces n ON n.name = wanted.namespace"
        " JOIN repositories p ON p.namespace_id = n.id AND p.name = wanted.name"
        " JOIN tags t ON t.repository_id = p.id AND (t.name = wanted.tag OR t.digest = wanted.digest)"
        " WHERE EXISTS (SELECT 1 FROM immutable_rules r WHERE r.namespace_id = n.id AND NOT r.disabled)"
    ),
    "sqlite": text(
        "SELECT n.id, n.name, p.name, p.id, t.name, t.digest FROM json_each(:rows) AS wanted"
        " JOIN namespaces n ON n.name = json_extract(wanted.value, '$[0]')"
        " JOIN repositories p ON p.namespace_id = n.id AND p.name = json_extract(wanted.value, '$[1]')"
        " JOIN tags t ON t.repository_id = p.id AND (t.name = json_extract(wanted.value, '$[2]')"
        " OR t.digest = json_extract(wanted.value, '$[3]'))"
        " WHERE EXISTS (SELECT 1 FROM immutable_rules r WHERE r.namespace_id = n.id AND NOT r.disabled)"
    ),
}

# ``add_tag_pulls`` on PostgreSQL: one statement whatever the pulls, by name or by digest. The inner
# SELECT resolves each pull to tag ids (a pull by name is one probe of (repository_id, name), one by
# digest of (repository_id, digest): no separate round trip for those) and sums them per tag; the
# middle one locks those rows in the lock order (the repository's first position in the pulls, then
# the tag name) before the UPDATE writes them by primary key. Measured in-process on the bench
# envelopes (100 pulls by tag, 50x200x10, 9 alternating runs): 11.4 ms CPU per envelope against 12.7
# for the executemany UPDATE it replaces (median ratio 0.90, paired 0.85: SQLAlchemy and asyncpg no
# longer bind ~90 rows one by one); its wall time in PostgreSQL is about the same (4-5 ms).
_ADD_TAG_PULLS_PG = text(
    "UPDATE tags AS t SET pull_count = t.pull_count + s.n,"
    " pulled_at = CASE WHEN t.pulled_at IS NULL OR t.pulled_at < s.at THEN s.at ELSE t.pulled_at END"
    " FROM ("
    "SELECT x.id, w.n, w.at FROM ("
    "SELECT m.id, sum(m.n) AS n, max(m.at) AS at, min(m.pos) AS pos FROM ("
    "SELECT x.id, p.n, p.at, p.pos FROM unnest(CAST(:ids AS BIGINT[]), CAST(:names AS VARCHAR[]),"
    " CAST(:digests AS VARCHAR[]), CAST(:counts AS BIGINT[]), CAST(:ats AS TIMESTAMP WITH TIME ZONE[]),"
    " CAST(:positions AS INTEGER[])) AS p(rid, name, digest, n, at, pos)"
    " JOIN tags x ON x.repository_id = p.rid AND x.name = p.name"
    " UNION ALL SELECT x.id, p.n, p.at, p.pos FROM unnest(CAST(:ids AS BIGINT[]), CAST(:names AS VARCHAR[]),"
    " CAST(:digests AS VARCHAR[]), CAST(:counts AS BIGINT[]), CAST(:ats AS TIMESTAMP WITH TIME ZONE[]),"
    " CAST(:positions AS INTEGER[])) AS p(rid, name, digest, n, at, pos)"
    " JOIN tags x ON x.repository_id = p.rid AND x.digest = p.digest WHERE p.name IS NULL"
    ") AS m GROUP BY m.id"
    ") AS w JOIN tags x ON x.id = w.id ORDER BY w.pos, x.name FOR UPDATE OF x"
    ") AS s WHERE t.id = s.id"
)

# (repository id, tag name or None for a pull by digest, digest, pulls, last pull): ``add_tag_pulls``.
TagPulls = tuple[int, str | None, str, int, datetime]
# (namespace, repository name, tag or "", digest or ""): a tag an event would change, by name or digest.
TouchedTag = tuple[str, str, str, str]
# (namespace id, namespace, repository name, repository id, tag, its digest): ``tags_under_rules``.
GuardedTag = tuple[int, str, str, int, str, str]


@dataclass(frozen=True, slots=True)
class KnownRepository:
    """An existing repository an envelope names: its id, whether it is public, and whether its
    namespace has an enabled webhook."""

    id: int
    public: bool
    hooked: bool


class RegistryStore:
    def __init__(self, session: LazySession, reader: Reader | None = None) -> None:
        self._session = session
        self._reads = Reads(session, reader)

    def _dialect(self) -> str:
        return self._session.dialect

    def _list_param(self, items: Sequence[str]) -> list[str] | str:
        """A list as one parameter: an array on PostgreSQL, JSON text for SQLite's json_each."""
        return list(items) if self._dialect() == "postgresql" else orjson.dumps(list(items)).decode()

    async def access_facts(
        self, namespace: str, name: str, user_id: int | None, *, remembered: bool = False
    ) -> AccessFacts | None:
        """Namespace, the caller's role and the repository in one query; None when no such namespace.
        ``remembered``: the answer is kept beyond the request (``domain.grant_facts``), so it is read
        on the primary, never on a replica that may not have the latest change yet."""
        member_id = user_id if user_id is not None else -1
        fetch = self._reads.fetch_primary if remembered else self._reads.fetch
        rows = await fetch(_ACCESS_FACTS_SQL, (namespace, member_id, name))
        if not rows:
            return None
        row = rows[0]
        return AccessFacts(
            namespace_id=row[0],
            role=Role(row[1]) if row[1] else None,
            repository_id=row[2],
            is_public=bool(row[3]),
            grant=Role(row[4]) if row[4] else None,
            shared_until=shared_until(row[5], row[6]),
            full=bool(row[7]),
        )

    async def access_facts_of(
        self, paths: Sequence[tuple[str, str]], user_id: int | None, *, remembered: bool = False
    ) -> dict[tuple[str, str], AccessFacts]:
        """``access_facts`` of several (namespace, name) paths in one query; paths whose namespace
        does not exist are left out. ``remembered``: as ``access_facts``'s."""
        namespaces = sorted({namespace for namespace, _ in paths})
        names = sorted({name for _, name in paths})
        member_id = user_id if user_id is not None else -1
        sql = _ACCESS_FACTS_OF_SQL[self._dialect()]
        params = (self._list_param(namespaces), member_id, self._list_param(names))
        fetch = self._reads.fetch_primary if remembered else self._reads.fetch
        return _facts_of_paths(paths, await fetch(sql, params))

    async def member_facts(self, user_id: int) -> MemberFacts:
        """What the user's memberships settle for its tokens (``MemberFacts``), in one read.
        Read on the primary: the token server remembers them (``domain.grant_facts``)."""
        rows = await self._reads.fetch_primary(_MEMBER_FACTS_SQL, (user_id, user_id))
        roles: dict[str, AccessFacts] = {}
        granted: dict[tuple[str, str], AccessFacts] = {}
        for namespace, name, namespace_id, role, repository_id, is_public, grant, forever, ends, full in rows:
            if name is None:
                roles[namespace] = AccessFacts(namespace_id, Role(role), None, False, full=bool(full))
            else:
                granted[(namespace, name)] = AccessFacts(
                    namespace_id,
                    Role(role),
                    repository_id,
                    bool(is_public),
                    Role(grant) if grant else None,
                    shared_until(forever, ends),
                    bool(full),
                )
        return MemberFacts(roles, granted)

    # -- event ids ------------------------------------------------------------------------------
    async def seen_events(self, ids: Iterable[str]) -> set[str]:
        wanted = list(ids)
        if not wanted:
            return set()
        result = await self._session.execute(
            select(RegistryEventRow.id).where(RegistryEventRow.id.in_(wanted))
        )
        return set(result.scalars())

    async def claim_events(self, ids: Sequence[str], at: datetime) -> set[str]:
        """Record the ids not recorded yet and return those: the events this transaction applies.

        A concurrent delivery of the same ids waits for this transaction on the primary key, then
        claims none of them."""
        if not ids:
            return set()
        statement = _CLAIM_EVENTS[self._dialect()]
        result = await self._session.execute(statement, {"ids": self._list_param(ids), "at": at})
        return set(result.scalars())

    async def prune_events(self, before: datetime) -> None:
        await self._session.execute(delete(RegistryEventRow).where(RegistryEventRow.received_at < before))

    # -- repositories and tags ------------------------------------------------------------------
    async def repository_id(self, namespace_id: int, name: str) -> int | None:
        result = await self._session.execute(
            select(RepositoryRow.id).where(
                RepositoryRow.namespace_id == namespace_id, RepositoryRow.name == name
            )
        )
        return result.scalar_one_or_none()

    async def tags_of(self, repository_id: int) -> dict[str, StoredTag]:
        result = await self._session.execute(
            select(TagRow.name, TagRow.digest, TagRow.size, TagRow.manifest.is_not(None)).where(
                TagRow.repository_id == repository_id
            )
        )
        return {row[0]: StoredTag(row[0], row[1], row[2], bool(row[3])) for row in result}

    async def tagged_repositories(self) -> list[tuple[int, str]]:
        """Ids and ``namespace/name`` paths of repositories that have at least one tag."""
        result = await self._session.execute(
            select(RepositoryRow.id, NamespaceRow.name, RepositoryRow.name)
            .join(NamespaceRow, NamespaceRow.id == RepositoryRow.namespace_id)
            .where(RepositoryRow.tag_count > 0)
            .order_by(RepositoryRow.id)
        )
        return [(repository_id, f"{namespace}/{name}") for repository_id, namespace, name in result]

    async def delete_tags(self, repository_id: int, names: Iterable[str]) -> None:
        await self._session.execute(
            delete(TagRow).where(TagRow.repository_id == repository_id, TagRow.name.in_(list(names)))
        )

    async def delete_digest(self, repository_id: int, digest: str, *, keep: Iterable[str] = ()) -> None:
        """Delete the repository's tags on ``digest``, but those named in ``keep``."""
        wanted = [TagRow.repository_id == repository_id, TagRow.digest == digest]
        kept = list(keep)
        if kept:
            wanted.append(TagRow.name.not_in(kept))
        await self._session.execute(delete(TagRow).where(*wanted))

    async def tags_under_rules(self, touched: Sequence[TouchedTag]) -> list[GuardedTag]:
        """The existing tags ``touched`` names (by tag, or by digest) in namespaces that have an
        enabled immutable-tag rule: one statement for a whole envelope (``_TAGS_UNDER_RULES``)."""
        wanted = sorted(set(touched))
        if not wanted:
            return []
        params: dict[str, list[str] | str]
        if self._dialect() == "postgresql":
            params = {
                key: [row[i] for row in wanted]
                for i, key in enumerate(("namespaces", "names", "tags", "digests"))
            }
        else:
            params = {"rows": orjson.dumps(wanted).decode()}
        result = await self._session.execute(_TAGS_UNDER_RULES[self._dialect()], params)
        return sorted({(int(row[0]), row[1], row[2], int(row[3]), row[4], row[5]) for row in result})

    async def repository_ids(
        self, paths: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], KnownRepository]:
        """Existing repositories (id, visibility, hooks) by (namespace, name), for a whole envelope
        in one query."""
        pairs = sorted(set(paths))
        if not pairs:
            return {}
        params: dict[str, list[str] | str]
        if self._dialect() == "postgresql":
            params = {"namespaces": [pair[0] for pair in pairs], "names": [pair[1] for pair in pairs]}
        else:
            params = {"pairs": orjson.dumps(pairs).decode()}
        rows = (await self._session.execute(_REPOSITORY_IDS[self._dialect()], params)).all()
        # The audit entries of the envelope's tag writes name these repositories: told their
        # namespaces, the commit's INSERT looks none up (a subquery a row cost 30-50% of the commit).
        learn_namespaces(self._session, {row[2]: row[5] for row in rows})
        return {
            (namespace, name): KnownRepository(repository_id, bool(public), bool(hooked))
            for namespace, name, repository_id, public, hooked, _ in rows
        }

    async def add_downloads(self, counts: Sequence[tuple[int, int, datetime]]) -> None:
        """(repository id, downloads, last pull) of many repositories: one statement, run per row.

        The same change ``update_repository`` makes for a pull-only group; rows are updated in the
        order given, so callers keep one lock order across concurrent envelopes.
        """
        if not counts:
            return
        statement = (
            update(RepositoryRow)
            .where(RepositoryRow.id == bindparam("repository_id"))
            .values(
                download_count=RepositoryRow.download_count + bindparam("downloads"),
                pulled_at=_later_bound(RepositoryRow.pulled_at, "pulled"),
            )
        )
        connection = await self._session.connection()
        await connection.execute(
            statement,
            [{"repository_id": rid, "downloads": n, "pulled": at} for rid, n, at in counts],
        )

    async def add_tag_pulls(self, pulls: Sequence[TagPulls]) -> None:
        """Count pulls on tags: by name, or (name None) on every tag of the repository on the digest.

        Whatever the number of pulls, on PostgreSQL one set-based statement (``_ADD_TAG_PULLS_PG``,
        pulls by digest resolved in it); on SQLite (one writer) one UPDATE run over every tag row and,
        when some pulls are by digest only, one SELECT first that names their tags. Tags are locked
        in the order their repositories first appear in ``pulls``, by name within one, so that
        callers keep one lock order across concurrent envelopes. A tag that does not exist counts
        nothing.
        """
        if not pulls:
            return
        if self._dialect() == "postgresql":
            await self._session.execute(_ADD_TAG_PULLS_PG, _tag_pull_arrays(pulls))
            return
        by_digest = [(rid, digest) for rid, tag, digest, _, _ in pulls if tag is None]
        rows = _tag_pull_rows(pulls, await self._tags_on_digests(by_digest))
        if not rows:
            return
        statement = (
            update(TagRow)
            .where(TagRow.repository_id == bindparam("of_repository"), TagRow.name == bindparam("of_name"))
            .values(
                pull_count=TagRow.pull_count + bindparam("pulls"),
                pulled_at=_later_bound(TagRow.pulled_at, "pulled"),
            )
        )
        connection = await self._session.connection()
        await connection.execute(
            statement,
            [{"of_repository": rid, "of_name": name, "pulls": n, "pulled": at} for rid, name, n, at in rows],
        )

    async def _tags_on_digests(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], list[str]]:
        """The tag names on each (repository id, digest), in one query."""
        wanted = sorted(set(pairs))
        if not wanted:
            return {}
        params: dict[str, list[int] | list[str] | str]
        if self._dialect() == "postgresql":
            params = {"ids": [pair[0] for pair in wanted], "digests": [pair[1] for pair in wanted]}
        else:
            params = {"pairs": orjson.dumps(wanted).decode()}
        result = await self._session.execute(_TAGS_ON_DIGESTS[self._dialect()], params)
        names: dict[tuple[int, str], list[str]] = {}
        for repository_id, digest, name in result:
            names.setdefault((repository_id, digest), []).append(name)
        return names

    async def update_repository(
        self,
        repository_id: int,
        *,
        downloads: int = 0,
        uploads: int = 0,
        pulled_at: datetime | None = None,
        pushed_at: datetime | None = None,
        tags_changed: bool = False,
    ) -> None:
        """One UPDATE: add the counters, move the times forward only, recount tags and size if needed
        (``repositories.update_summary``, which ``TagStore.refresh_summary`` runs too)."""
        await update_summary(
            self._session,
            repository_id,
            downloads=downloads,
            uploads=uploads,
            pulled_at=pulled_at,
            pushed_at=pushed_at,
            tags_changed=tags_changed,
        )


def _facts_of_paths(
    paths: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> dict[tuple[str, str], AccessFacts]:
    """``access_facts_of``'s rows (namespace, repository name or None, namespace id, role, repository
    id, is_public) as facts of each wanted path: a namespace's rows are the wanted names it has."""
    namespaces: dict[str, tuple[int, Role | None, bool]] = {}
    repositories: dict[tuple[str, str], tuple[int, bool, Role | None, datetime | None]] = {}
    for namespace, name, namespace_id, role, repository_id, is_public, grant, forever, ends, full in rows:
        namespaces[namespace] = (namespace_id, Role(role) if role else None, bool(full))
        if name is not None:
            until = shared_until(forever, ends)
            repositories[(namespace, name)] = (
                repository_id,
                bool(is_public),
                Role(grant) if grant else None,
                until,
            )
    facts: dict[tuple[str, str], AccessFacts] = {}
    for path in paths:
        if path[0] not in namespaces:
            continue
        namespace_id, role, full = namespaces[path[0]]
        repository_id, is_public, grant, until = repositories.get(path, (None, False, None, None))
        facts[path] = AccessFacts(namespace_id, role, repository_id, is_public, grant, until, full)
    return facts


def shared_until(forever: Any, ends: datetime | str | None) -> datetime | None:
    """``AccessFacts.shared_until`` from the facts' share columns (``_BEYOND_COLUMNS``). SQLite's
    reader hands an aggregate's time over as text: ``max()`` has no declared type to convert by."""
    if forever:
        return FOREVER
    if isinstance(ends, str):
        return datetime.fromisoformat(ends).replace(tzinfo=UTC)
    return ends


def _tag_pull_rows(
    pulls: Sequence[TagPulls], named: dict[tuple[int, str], list[str]]
) -> list[tuple[int, str, int, datetime]]:
    """(repository id, tag name, pulls, last pull) of every tag pulled, a pull by digest counted on
    each tag ``named`` on it; in the order the repositories first appear in ``pulls``, by name within
    one (the lock order)."""
    merged: dict[tuple[int, str], tuple[int, datetime]] = {}
    position: dict[int, int] = {}
    for rid, tag, digest, count, at in pulls:
        position.setdefault(rid, len(position))
        for name in (tag,) if tag is not None else named.get((rid, digest), ()):
            was_count, was_at = merged.get((rid, name), (0, at))
            merged[(rid, name)] = (was_count + count, max(was_at, at))
    ordered = sorted(merged.items(), key=lambda item: (position[item[0][0]], item[0][1]))
    return [(rid, name, count, at) for (rid, name), (count, at) in ordered]


def _tag_pull_arrays(pulls: Sequence[TagPulls]) -> dict[str, list[Any]]:
    """``pulls`` as ``_ADD_TAG_PULLS_PG``'s arrays, each with its repository's first position."""
    position: dict[int, int] = {}
    for rid, *_ in pulls:
        position.setdefault(rid, len(position))
    return {
        "ids": [pull[0] for pull in pulls],
        "names": [pull[1] for pull in pulls],
        "digests": [pull[2] for pull in pulls],
        "counts": [pull[3] for pull in pulls],
        "ats": [pull[4] for pull in pulls],
        "positions": [position[pull[0]] for pull in pulls],
    }


def _later_bound(column: Any, name: str) -> Any:
    """``later`` with the moment as a named bind parameter, for one statement run over many rows."""
    return later(column, bindparam(name, type_=UTCDateTime()))
