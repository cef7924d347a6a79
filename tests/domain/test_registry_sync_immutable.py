"""``registry sync`` and immutable-tag rules, over a real database (SQLite and PostgreSQL): where the
registry disagrees with the catalogue about a protected tag (another digest, or no such tag), sync
leaves the catalogue's tag as it is and reports it; everything else syncs as before.

The registry here is the in-memory gateway of the runner's tests, answering manifests too; sync
against the real registry (and an overwrite behind repohub's back) is in
``tests/e2e/test_immutable_tags.py``.
"""

from __future__ import annotations

import pytest

from repohub.domain.gateway import ManifestInfo
from repohub.domain.registry.sync import ImmutableDisagreement
from tests.domain.test_retention_runner import MemoryRegistry
from tests.immutable_rules import add_rule, delete_rule, rule
from tests.world import World

OLD, NEW, OTHER = ("sha256:" + c * 64 for c in "abc")


class Registry(MemoryRegistry):
    """The in-memory registry, describing each manifest by its digest."""

    async def manifest_info(self, path: str, reference: str) -> ManifestInfo | None:
        return ManifestInfo(reference, "application/vnd.oci.image.manifest.v1+json", 10, "f" * 64, "{}")


@pytest.fixture
async def world(world: World) -> World:
    """acme/app in the catalogue: v1 and latest on OLD, v2 on OTHER; acme/gone: v1 on OLD."""
    await world.account("boss")
    await world.org("acme", owner="boss")
    for path in ("acme/app", "acme/gone"):
        await world.repository(path, by="boss")
    for path, tag, digest in [
        ("acme/app", "v1", OLD),
        ("acme/app", "latest", OLD),
        ("acme/app", "v2", OTHER),
        ("acme/gone", "v1", OLD),
    ]:
        await world.tag(path, tag, digest=digest, manifest="{}")  # complete: nothing to fill in
    return world


async def _catalogue(world: World, path: str) -> dict[str, str]:
    async with world.service() as service:
        repository_id = await world.repository_id(path)
        return {
            name: tag.digest for name, tag in (await service.store.registry.tags_of(repository_id)).items()
        }


async def _sync(world: World, registry: Registry) -> object:
    async with world.service(registry=registry) as service:
        return await service.registry.sync()


async def test_sync_keeps_and_reports_protected_tags_the_registry_disagrees_about(world: World) -> None:
    registry = Registry()
    # Behind repohub's back: v1 and latest pushed to NEW, v2 deleted, v3 new; acme/gone is gone.
    registry.repos["acme/app"] = {"v1": NEW, "latest": NEW, "v3": NEW}
    rule_id = await add_rule(world.app, "acme", rule("v*"))

    report = await _sync(world, registry)

    assert report.immutable == [
        ImmutableDisagreement("acme/app", "v1", rule_id, OLD, NEW),
        ImmutableDisagreement("acme/app", "v2", rule_id, OTHER, None),
        ImmutableDisagreement("acme/gone", "v1", rule_id, OLD, None),
    ]
    assert "the registry has " + NEW in str(report.immutable[0])
    assert "no longer has it" in str(report.immutable[1])
    # latest is not protected: synced; v3 is a first push of a protected name: added.
    assert (report.moved_tags, report.added_tags, report.removed_tags) == (
        ["acme/app:latest"],
        ["acme/app:v3"],
        [],
    )
    assert await _catalogue(world, "acme/app") == {"v1": OLD, "v2": OTHER, "latest": NEW, "v3": NEW}
    assert await _catalogue(world, "acme/gone") == {"v1": OLD}
    assert registry.calls == 0  # no write to the registry (reads do not count here)

    again = await _sync(world, registry)  # reported each run until resolved
    assert [item.tag for item in again.immutable] == ["v1", "v2", "v1"] and not again.changed

    await delete_rule(world.app, rule_id)  # lifted: sync makes the catalogue match
    lifted = await _sync(world, registry)
    assert lifted.immutable == [] and lifted.moved_tags == ["acme/app:v1"]
    assert sorted(lifted.removed_tags) == ["acme/app:v2", "acme/gone:v1"]
    assert await _catalogue(world, "acme/app") == {"v1": NEW, "latest": NEW, "v3": NEW}


async def test_a_disabled_or_unmatched_rule_lets_sync_change_the_tag(world: World) -> None:
    registry = Registry()
    registry.repos["acme/app"] = {"v1": NEW, "latest": OLD, "v2": OTHER}
    registry.repos["acme/gone"] = {"v1": OLD}
    await add_rule(world.app, "acme", rule("v*", disabled=True))
    await add_rule(world.app, "acme", rule("v*", "gone"))  # another repository's

    report = await _sync(world, registry)

    assert report.immutable == [] and report.moved_tags == ["acme/app:v1"]
    assert (await _catalogue(world, "acme/app"))["v1"] == NEW
