"""The retention runner over a real database (SQLite and PostgreSQL), without a registry process.

The registry here is a small in-memory gateway (``MemoryRegistry``), for the runner's logic only:
the real registry's behaviour is tested end to end in ``tests/e2e/test_retention.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from repohub.domain.entities import Role
from repohub.domain.errors import UpstreamUnavailable
from repohub.domain.gateway import ManifestInfo, TagDeletion
from repohub.domain.retention.runner import RetentionRunner, RunReport
from repohub.store.tables import AuditRow, NamespaceRow, RepositoryRow, RetentionLogRow, RetentionRow, TagRow
from tests.world import EPOCH, World

NOW = EPOCH + timedelta(days=400)
KEEP_TWO = {
    "algorithm": "or",
    "rules": [
        {
            "template": "tag_rule",
            "params": {"num": 2},
            "tag_selectors": [
                {"kind": "regexp", "pattern": "^release-"},
                {"kind": "label", "pattern": "stable"},
            ],
        }
    ],
}


def older_than(days: int | str) -> dict[str, Any]:
    return {"algorithm": "or", "rules": [{"template": "date_rule", "params": {"days": days}}]}


class MemoryRegistry:
    """Tags → digests per repository; ``down`` makes every call fail as an unreachable registry."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, str]] = {}
        self.down = False
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise UpstreamUnavailable("the registry is unreachable (ConnectError)")

    async def delete_tags(self, path: str, doomed: Mapping[str, str | None]) -> TagDeletion:
        self._check()
        tags = self.repos.setdefault(path, {})
        deleted, skipped = [], []
        for tag, digest in doomed.items():
            if tag in tags and digest is not None and tags[tag] != digest:
                skipped.append(tag)
                continue
            tags.pop(tag, None)
            deleted.append(tag)
        return TagDeletion(deleted=deleted, skipped=skipped)

    async def delete_repository(self, path: str) -> None:
        self._check()
        self.repos.pop(path, None)

    async def delete_tag(self, path: str, tag: str) -> None:
        self._check()
        self.repos.get(path, {}).pop(tag, None)

    async def put_tag(self, path: str, source: str, destination: str) -> ManifestInfo | None:
        raise NotImplementedError

    async def repositories(self) -> list[str]:
        return sorted(self.repos)

    async def tags(self, path: str) -> list[str]:
        return sorted(self.repos.get(path, {}))

    async def tag_digest(self, path: str, tag: str) -> str | None:
        return self.repos.get(path, {}).get(tag)

    async def manifest_info(self, path: str, reference: str) -> ManifestInfo | None:
        return None


@pytest.fixture
async def world(world: World) -> World:
    await world.account("boss")
    await world.account("dev")
    await world.org("acme", owner="boss", members={"dev": Role.MEMBER})
    return world


async def _policy(world: World, path: str, body: dict[str, Any], *, by: str = "boss") -> int:
    namespace, name = path.split("/", 1)
    async with world.service(by) as service:
        repository = await service.catalog.repository(namespace, name)
        return await service.retentions.create(repository, body)


async def _seven_tags(world: World, registry: MemoryRegistry | None = None) -> None:
    """acme/app: v1..v5 pushed a day apart (v4 and v5 share a digest), release-1, stable (exceptions)."""
    await world.repository("acme/app", by="dev")
    names = ["v1", "v2", "release-1", "v3", "stable", "v4", "v5"]
    for day, name in enumerate(names):
        digest = "sha256:" + ("45" if name in ("v4", "v5") else name).encode().hex().ljust(64, "0")
        await world.tag("acme/app", name, digest=digest, at=EPOCH + timedelta(days=day))
        if registry is not None:
            registry.repos.setdefault("acme/app", {})[name] = digest


async def _tags(world: World, path: str) -> list[str]:
    repository_id = await world.repository_id(path)
    async with world.app.state.repohub.sessions() as session:
        rows = await session.execute(select(TagRow.name).where(TagRow.repository_id == repository_id))
        return sorted(rows.scalars())


async def _run(world: World, registry: MemoryRegistry | None = None, **options: Any) -> RunReport:
    async with world.service() as service:
        return await RetentionRunner(service.store, registry).run(now=NOW, **options)


async def test_tag_rule_keeps_the_two_newest_and_never_deletes_exceptions(world: World) -> None:
    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    retention_id = await _policy(world, "acme/app", KEEP_TWO)

    report = await _run(world, registry)

    assert await _tags(world, "acme/app") == ["release-1", "stable", "v4", "v5"]
    assert sorted(registry.repos["acme/app"]) == ["release-1", "stable", "v4", "v5"]
    [repository] = report.repositories
    assert repository.path == "acme/app" and repository.error is None
    assert [(t.name, t.rule) for t in repository.deleted] == [(n, "tag_rule") for n in ("v1", "v2", "v3")]
    assert report.deleted == 3 and report.policies == 1
    async with world.service("dev") as service:
        app = await service.catalog.repository("acme", "app")
        assert app.tag_count == 4
        history = await service.retentions.history(app, 0, 10)
    assert history.total == 3
    assert {(e.retention_id, e.namespace, e.repo, e.tag, e.rule_type) for e in history.items} == {
        (retention_id, "acme", "app", tag, "tag_rule") for tag in ("v1", "v2", "v3")
    }


async def test_a_second_run_finds_nothing_more_to_delete(world: World) -> None:
    await _seven_tags(world)
    await _policy(world, "acme/app", KEEP_TWO)
    assert (await _run(world)).deleted == 3  # no registry configured: the catalogue alone
    again = await _run(world)
    assert again.repositories == [] and again.policies == 1
    assert await _tags(world, "acme/app") == ["release-1", "stable", "v4", "v5"]


async def test_date_rule_deletes_what_was_pushed_before_the_cut_off(world: World) -> None:
    await world.repository("acme/old", by="dev")
    for name, age in (("ancient", 40), ("older", 31), ("edge", 30), ("fresh", 2)):
        await world.tag("acme/old", name, at=NOW - timedelta(days=age))
    await _policy(world, "acme/old", older_than("30"))  # a decimal string, as SWR's documents show

    report = await _run(world)

    # "More than 30 days ago": a tag pushed exactly 30 days before the run stays.
    assert await _tags(world, "acme/old") == ["edge", "fresh"]
    assert [(t.name, t.rule) for t in report.repositories[0].deleted] == [
        ("ancient", "date_rule"),
        ("older", "date_rule"),
    ]


async def test_dry_run_reports_and_changes_nothing(world: World) -> None:
    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    await _policy(world, "acme/app", KEEP_TWO)
    audited = await world.count(AuditRow)

    report = await _run(world, registry, dry_run=True)

    assert report.dry_run and [t.name for t in report.repositories[0].deleted] == ["v1", "v2", "v3"]
    assert await _tags(world, "acme/app") == ["release-1", "stable", "v1", "v2", "v3", "v4", "v5"]
    assert len(registry.repos["acme/app"]) == 7 and registry.calls == 0
    assert await world.count(RetentionLogRow) == 0
    assert await world.count(AuditRow) == audited


async def test_registry_down_deletes_nothing_reports_it_and_the_next_run_retries(world: World) -> None:
    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    await world.repository("acme/other", by="dev")
    for day in range(3):
        await world.tag("acme/other", f"t{day}", at=EPOCH + timedelta(days=day))
    await _policy(world, "acme/app", KEEP_TWO)
    await _policy(
        world, "acme/other", {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 1}}]}
    )
    registry.down = True

    failed = await _run(world, registry)

    assert [(item.path, item.deleted) for item in failed.repositories] == [
        ("acme/app", []),
        ("acme/other", []),
    ]
    assert all("unreachable" in (item.error or "") for item in failed.failed)
    assert len(failed.failed) == 2  # the first failure did not stop the run: the second was tried too
    assert await _tags(world, "acme/app") == ["release-1", "stable", "v1", "v2", "v3", "v4", "v5"]
    assert await world.count(RetentionLogRow) == 0

    registry.down = False
    retried = await _run(world, registry)
    assert retried.failed == [] and retried.deleted == 5
    assert await _tags(world, "acme/app") == ["release-1", "stable", "v4", "v5"]
    assert await _tags(world, "acme/other") == ["t2"]


async def test_a_tag_moved_in_the_registry_is_skipped_and_kept(world: World) -> None:
    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    await _policy(world, "acme/app", KEEP_TWO)
    registry.repos["acme/app"]["v2"] = "sha256:" + "f" * 64  # re-pushed after the catalogue saw it

    report = await _run(world, registry)

    assert report.repositories[0].skipped == ["v2"]
    assert [t.name for t in report.repositories[0].deleted] == ["v1", "v3"]
    assert "v2" in await _tags(world, "acme/app")
    assert await world.count(RetentionLogRow) == 2


async def test_runs_are_limited_to_a_namespace_or_one_repository(world: World) -> None:
    await _seven_tags(world)
    await world.account("zed")
    await world.repository("zed/mine", by="zed")
    for day in range(4):
        await world.tag("zed/mine", f"t{day}", at=EPOCH + timedelta(days=day))
    await _policy(world, "acme/app", KEEP_TWO)
    await _policy(world, "zed/mine", KEEP_TWO, by="zed")

    only_zed = await _run(world, namespace="zed", repository="mine")
    assert [item.path for item in only_zed.repositories] == ["zed/mine"] and only_zed.policies == 1
    assert await _tags(world, "zed/mine") == ["t2", "t3"]
    assert len(await _tags(world, "acme/app")) == 7
    assert (await _run(world, namespace="acme")).deleted == 3


async def test_deletes_are_audited_as_retention_and_the_log_is_not(world: World) -> None:
    from repohub.observability import context

    await _seven_tags(world)
    await _policy(world, "acme/app", KEEP_TWO)
    token = context.begin(context.RequestContext(request_id="r-1", client="retention", user="retention"))
    try:
        await _run(world)
    finally:
        context.end(token)
    async with world.app.state.repohub.sessions() as session:
        rows = (await session.execute(select(AuditRow).where(AuditRow.actor == "retention"))).scalars().all()
    actions = sorted({row.action for row in rows})
    assert actions == ["delete tags", "update repositories"]
    assert all(row.source == "retention" for row in rows)


# -- what a run costs the database ------------------------------------------------------------------


@contextmanager
def counted(world: World) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = world.app.state.repohub.engine.sync_engine

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def _many_repositories(world: World, count: int, rules: str) -> None:
    """``count`` repositories of acme with five tags each and a policy, written in bulk (on the
    engine: not a use case's write, so not audited either)."""
    async with world.app.state.repohub.engine.begin() as connection:
        of_acme = select(NamespaceRow.id).where(NamespaceRow.name == "acme")
        namespace_id = (await connection.execute(of_acme)).scalar_one()
        rows = [{"namespace_id": namespace_id, "name": f"r{i:04d}", "tag_count": 5} for i in range(count)]
        await connection.execute(insert(RepositoryRow.__table__), rows)
        ids = (await connection.execute(select(RepositoryRow.id))).scalars().all()
        tags = [
            {
                "repository_id": rid,
                "name": f"t{n}",
                "digest": "sha256:" + f"{rid}x{n}".ljust(64, "0"),
                "media_type": "application/vnd.oci.image.manifest.v1+json",
                "updated_at": NOW - timedelta(days=n),
            }
            for rid in ids
            for n in range(5)
        ]
        await connection.execute(insert(TagRow.__table__), tags)
        policies = [{"repository_id": rid, "algorithm": "or", "rules": rules} for rid in ids]
        await connection.execute(insert(RetentionRow.__table__), policies)


def _stored(body: dict[str, Any]) -> str:
    from repohub.domain.retention.rules import parse_policy

    return parse_policy(body).to_json()


async def test_a_thousand_repositories_without_matches_cost_one_statement_per_page(world: World) -> None:
    keep_ten = {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 10}}]}
    await _many_repositories(world, 1000, _stored(keep_ten))
    async with world.service() as service:
        runner = RetentionRunner(service.store, MemoryRegistry())
        with counted(world) as statements:
            report = await runner.run(now=NOW)
    assert report.policies == 1000 and report.repositories == []
    # Ten pages of 100, one statement each (the policies with their repositories' tag counts); a
    # tag_rule keeping 10 of 5 tags needs no tag read at all.
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 10, statements[:3]
    assert not any("FROM tags" in s for s in statements)


async def test_date_rules_without_matches_read_each_pages_tags_in_one_statement(world: World) -> None:
    await _many_repositories(world, 1000, _stored(older_than(30)))  # the tags are 0 to 4 days old
    async with world.service() as service:
        with counted(world) as statements:
            report = await RetentionRunner(service.store, None).run(now=NOW)
    assert report.policies == 1000 and report.repositories == []
    tag_reads = [s for s in statements if "FROM tags" in s]
    assert len(tag_reads) == 10  # one per page of 100 repositories, none per repository or tag
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 20


async def test_every_page_is_applied_when_policies_span_several(world: World) -> None:
    keep_one = {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 1}}]}
    for name in ("a", "b", "c"):
        await world.repository(f"acme/{name}", by="dev")
        for day in range(3):
            await world.tag(f"acme/{name}", f"t{day}", at=EPOCH + timedelta(days=day))
        await _policy(world, f"acme/{name}", keep_one)
    async with world.service() as service:
        report = await RetentionRunner(service.store, None, page=2).run(now=NOW)
    assert [item.path for item in report.repositories] == ["acme/a", "acme/b", "acme/c"]
    for name in ("a", "b", "c"):
        assert await _tags(world, f"acme/{name}") == ["t2"]


class RepushingRegistry(MemoryRegistry):
    """Deletes as asked, then a client re-pushes ``v2`` to a new digest and its event is applied
    before the runner's catalogue write: the window between the registry's delete and the catalogue's."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world

    async def delete_tags(self, path: str, doomed: Mapping[str, str | None]) -> TagDeletion:
        deletion = await super().delete_tags(path, doomed)
        self.repos[path]["v2"] = "sha256:" + "9" * 64
        await self.world.tag(path, "v2", digest=self.repos[path]["v2"], at=NOW)
        return deletion


async def test_a_tag_re_pushed_while_the_registry_deleted_it_stays_in_the_catalogue(world: World) -> None:
    registry = RepushingRegistry(world)
    await _seven_tags(world, registry)
    await _policy(world, "acme/app", KEEP_TWO)

    report = await _run(world, registry)

    assert await _tags(world, "acme/app") == ["release-1", "stable", "v2", "v4", "v5"]
    assert sorted(registry.repos["acme/app"]) == ["release-1", "stable", "v2", "v4", "v5"]
    [repository] = report.repositories
    assert [t.name for t in repository.deleted] == ["v1", "v3"] and repository.skipped == ["v2"]
    async with world.service("dev") as service:
        app = await service.catalog.repository("acme", "app")
        assert {e.tag for e in (await service.retentions.history(app, 0, 10)).items} == {"v1", "v3"}


# -- immutable tags ---------------------------------------------------------------------------------


async def _rule(world: World, body: dict[str, Any]) -> int:
    from tests.immutable_rules import add_rule

    return await add_rule(world.app, "acme", body)


async def _log(world: World) -> list[tuple[str, str, str, int | None]]:
    async with world.service("dev") as service:
        app = await service.catalog.repository("acme", "app")
        history = await service.retentions.history(app, 0, 100)
    return sorted((e.tag, e.rule_type, e.outcome, e.immutable_rule_id) for e in history.items)


async def test_chosen_tags_an_immutable_rule_protects_are_kept_and_logged_as_kept(world: World) -> None:
    from tests.immutable_rules import rule

    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    await _policy(world, "acme/app", KEEP_TWO)
    rule_id = await _rule(world, rule("v1", "app"))
    await _rule(world, rule("v2", "other"))  # another repository's: v2 goes

    report = await _run(world, registry)

    # The policy chooses first (v4, v5 are the two it keeps; v1 is not counted on top), then the
    # protected v1 stays, in the registry and the catalogue.
    assert await _tags(world, "acme/app") == ["release-1", "stable", "v1", "v4", "v5"]
    assert sorted(registry.repos["acme/app"]) == ["release-1", "stable", "v1", "v4", "v5"]
    [repository] = report.repositories
    assert [t.name for t in repository.deleted] == ["v2", "v3"]
    assert [(t.name, t.rule, t.immutable_rule, t.reason) for t in repository.kept] == [
        ("v1", "tag_rule", rule_id, f"immutable (rule {rule_id})")
    ]
    assert (report.deleted, report.kept) == (2, 1)
    shown = report.as_json()
    assert shown["kept"] == 1 and shown["repositories"][0]["kept"][0]["immutable_rule"] == rule_id
    assert await _log(world) == [
        ("v1", "tag_rule", "kept", rule_id),
        ("v2", "tag_rule", "deleted", None),
        ("v3", "tag_rule", "deleted", None),
    ]


async def test_when_every_chosen_tag_is_immutable_the_registry_is_not_called(world: World) -> None:
    from tests.immutable_rules import delete_rule, rule

    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    await _policy(world, "acme/app", KEEP_TWO)
    rule_id = await _rule(world, rule("v*"))
    await _rule(world, rule("v2", disabled=True))

    report = await _run(world, registry)

    assert registry.calls == 0 and report.deleted == 0
    assert [t.name for t in report.repositories[0].kept] == ["v1", "v2", "v3"]
    assert len(await _tags(world, "acme/app")) == 7
    assert await _log(world) == [(tag, "tag_rule", "kept", rule_id) for tag in ("v1", "v2", "v3")]

    await delete_rule(world.app, rule_id)  # lifted: the next run deletes them
    assert (await _run(world, registry)).deleted == 3
    assert await _tags(world, "acme/app") == ["release-1", "stable", "v4", "v5"]


async def test_a_dry_run_reports_kept_tags_and_writes_nothing(world: World) -> None:
    from tests.immutable_rules import rule

    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    await _policy(world, "acme/app", KEEP_TWO)
    rule_id = await _rule(world, rule("v3"))

    report = await _run(world, registry, dry_run=True)

    [repository] = report.repositories
    assert [t.name for t in repository.deleted] == ["v1", "v2"]
    assert [(t.name, t.immutable_rule) for t in repository.kept] == [("v3", rule_id)]
    assert registry.calls == 0 and await world.count(RetentionLogRow) == 0
    assert len(await _tags(world, "acme/app")) == 7


async def test_rules_are_read_once_per_namespace_per_page_and_only_where_a_policy_chose(world: World) -> None:
    from tests.immutable_rules import rule

    await _rule(world, rule("t0"))
    await _many_repositories(world, 250, _stored(older_than(30)))  # nothing older than 30 days
    async with world.service() as service:
        with counted(world) as statements:
            await RetentionRunner(service.store, None).run(now=NOW)
    assert not any("immutable_rules" in s for s in statements)

    later = NOW + timedelta(days=32)  # every tag is older than 30 days now: three pages choose
    async with world.service() as service:
        with counted(world) as statements:
            report = await RetentionRunner(service.store, None).run(now=later, dry_run=True)
    assert len(report.repositories) == 250 and report.kept == 250  # each repository's t0
    # Three pages of 100, 100 and 50: the rules once a page (a rule created meanwhile holds on the
    # next page), and the tags sharing the chosen tags' images once a page.
    assert len([s for s in statements if "immutable_rules" in s]) == 3
    assert len([s for s in statements if "tags_1" in s]) == 3


async def test_a_chosen_tag_sharing_its_image_with_a_protected_tag_is_kept(world: World) -> None:
    """Distribution would delete the image, so the protected tag too: the chosen tag on it stays."""
    from tests.immutable_rules import rule

    registry = MemoryRegistry()
    await _seven_tags(world, registry)
    v1 = registry.repos["acme/app"]["v1"]
    await world.tag("acme/app", "prod", digest=v1, at=NOW - timedelta(days=1))  # newer: not chosen
    registry.repos["acme/app"]["prod"] = v1
    await _policy(world, "acme/app", older_than(30))
    rule_id = await _rule(world, rule("prod"))

    report = await _run(world, registry)

    [repository] = report.repositories
    assert [(t.name, t.immutable_rule, t.shares) for t in repository.kept] == [("v1", rule_id, "prod")]
    assert repository.kept[0].reason == f"shares its image with immutable tag 'prod' (rule {rule_id})"
    assert report.as_json()["repositories"][0]["kept"][0]["shares"] == "prod"
    assert await _tags(world, "acme/app") == ["prod", "v1"]
    assert sorted(registry.repos["acme/app"]) == ["prod", "v1"]
    assert ("v1", "date_rule", "kept", rule_id) in await _log(world)


async def test_a_kept_tag_is_logged_once_not_on_every_run(world: World) -> None:
    from tests.immutable_rules import rule

    await _seven_tags(world)
    await _policy(world, "acme/app", KEEP_TWO)
    first = await _rule(world, rule("v1"))
    second = await _rule(world, rule("v{1,2}"))  # v1 kept by the first rule (by id), v2 by this one

    for _ in range(3):
        assert (await _run(world)).kept == 2  # the report says so every run
    kept_v1, kept_v2 = ("v1", "tag_rule", "kept", first), ("v2", "tag_rule", "kept", second)
    assert await _log(world) == [kept_v1, kept_v2, ("v3", "tag_rule", "deleted", None)]

    from tests.immutable_rules import delete_rule

    await delete_rule(world.app, first)  # another rule keeps v1 now: that is news, logged once
    for _ in range(2):
        assert (await _run(world)).kept == 2
    assert await _log(world) == [
        kept_v1,
        ("v1", "tag_rule", "kept", second),
        kept_v2,
        ("v3", "tag_rule", "deleted", None),
    ]


async def test_a_rule_created_during_a_run_holds_from_the_next_page_on(world: World) -> None:
    from tests.immutable_rules import rule

    await _many_repositories(world, 3, _stored(older_than(30)))
    later = NOW + timedelta(days=32)  # every tag is older than 30 days: each page chooses all five
    async with world.service() as service:
        store = service.store
        due, pages = store.retentions.due, []

        async def due_then_a_new_rule(*args: Any, **options: Any) -> Any:
            pages.append(await due(*args, **options))
            if len(pages) == 2:  # the first page is applied; a rule arrives before the second's
                await _rule(world, rule("t0"))
            return pages[-1]

        store.retentions.due = due_then_a_new_rule  # type: ignore[method-assign]
        report = await RetentionRunner(store, None, page=1).run(now=later)

    assert [len(item.deleted) for item in report.repositories] == [5, 4, 4]
    assert [[t.name for t in item.kept] for item in report.repositories] == [[], ["t0"], ["t0"]]
