"""``Immutability``, the one decision on whether a tag may change, on SQLite and PostgreSQL: which
tags a namespace's rules protect, and the proxy's push check (a re-push refused like an overwrite,
a first push and a push by digest passing, a delete by digest refused for a protected tag on it)."""

from __future__ import annotations

from typing import Any

import pytest

from repohub.domain.immutability import TagImmutable, parse_rule
from tests.immutable_rules import rule
from tests.world import World

D1, D2 = ("sha256:" + digit * 64 for digit in "12")


async def _acme(world: World, *rules: dict[str, Any]) -> list[int]:
    await world.account("ann")
    await world.org("acme", owner="ann")
    for path in ("acme/app", "acme/team/api"):
        await world.repository(path, by="ann")
        await world.tag(path, "v1", digest=D1)
        await world.tag(path, "shared", digest=D1)
        await world.tag(path, "latest", digest=D2)
    ids = []
    async with world.service() as service:
        namespace = await service.store.namespaces.by_name("acme")
        assert namespace is not None
        async with service.store.transaction():
            for body in rules:
                ids.append(await service.store.immutables.add(namespace.id, parse_rule(body)))
    return ids


async def test_enabled_rules_protect_the_tags_and_repositories_they_select(world: World) -> None:
    (first, _) = await _acme(world, rule("v*", "app"), rule("latest", disabled=True))
    async with world.service("ann") as service:
        app = await service.catalog.repository("acme", "app")
        api = await service.catalog.repository("acme", "team/api")
        assert await service.immutability.protected(app) == {"v1": first}
        assert await service.immutability.protected(app, ["latest", "v9"]) == {"v9": first}
        assert await service.immutability.protected(api) == {}  # "app" does not select team/api
        with pytest.raises(TagImmutable) as refused:
            await service.immutability.refuse(app, ["latest", "v1"])
        await service.immutability.refuse(api)  # nothing protected: no error
    assert refused.value.tag == "v1" and refused.value.rule_id == first
    assert "immutable" in refused.value.message


async def test_deleting_a_tag_on_a_protected_tags_image_is_refused_naming_both(world: World) -> None:
    (first,) = await _acme(world, rule("v*", "app"))  # "shared" is on v1's digest, "latest" is not
    async with world.service("ann") as service:
        app = await service.catalog.repository("acme", "app")
        api = await service.catalog.repository("acme", "team/api")
        with pytest.raises(TagImmutable) as refused:
            await service.catalog.delete_tag(app, "shared")
        await service.immutability.refuse(app, ["shared"])  # moving it elsewhere is no delete: allowed
        await service.immutability.refuse(app, ["latest"], deleting=True)  # alone on its image
        await service.catalog.delete_tag(api, "shared")  # the rule does not select team/api's v1
        assert await service.store.tags.names(app.id) == ["latest", "shared", "v1"]
        assert await service.store.tags.names(api.id) == ["latest", "v1"]
    assert (refused.value.tag, refused.value.shares, refused.value.rule_id) == ("shared", "v1", first)
    assert f"tag 'shared' shares its image with immutable tag 'v1' (rule {first})" in refused.value.message
    assert "push another image onto 'shared' first" in refused.value.message


async def test_the_store_reads_the_other_tags_on_each_given_tags_image(world: World) -> None:
    await _acme(world)
    async with world.service("ann") as service:
        app = await service.catalog.repository("acme", "app")
        api = await service.catalog.repository("acme", "team/api")
        found = await service.store.tags.sharing({app.id: ["v1", "latest"], api.id: ["shared"], 999: []})
        assert await service.store.tags.sharing({}) == {}
    assert found == {app.id: {"v1": ["shared"]}, api.id: {"shared": ["v1"]}}


async def test_one_repositorys_siblings_are_what_sharing_reads_for_it(world: World) -> None:
    # The repository page's lone read (SQL text) and the guard's statement agree, on both databases.
    await _acme(world)
    async with world.service("ann") as service:
        app = await service.catalog.repository("acme", "app")
        names = ["latest", "shared", "v1", "missing", "v1"]
        siblings = await service.store.tags.siblings(app.id, names)
        shared = await service.store.tags.sharing({app.id: names})
        assert await service.store.tags.siblings(app.id, []) == {}
    assert siblings == shared[app.id] == {"shared": ["v1"], "v1": ["shared"]}


async def test_excludes_protects_every_tag_but_the_matching_ones(world: World) -> None:
    (only,) = await _acme(world, rule("v*", tag_decoration="excludes"))
    async with world.service("ann") as service:
        app = await service.catalog.repository("acme", "team/api")
        assert await service.immutability.protected(app) == {"latest": only, "shared": only}


async def test_the_push_check_refuses_existing_protected_tags_and_passes_new_ones(world: World) -> None:
    (first,) = await _acme(world, rule("v*"))
    async with world.service() as service:
        check = service.immutability.push_refusal
        overwrite = await check("acme", "app", "v1", delete=False)
        assert overwrite is not None and (overwrite.tag, overwrite.rule_id) == ("v1", first)
        assert await check("acme", "app", "v2", delete=False) is None  # a first push
        assert await check("acme", "app", "latest", delete=False) is None  # not selected
        assert await check("acme", "app", D1, delete=False) is None  # a PUT by digest moves no tag
        by_digest = await check("acme", "team/api", D1, delete=True)  # "v1" is on D1
        assert by_digest is not None and by_digest.tag == "v1"
        assert await check("acme", "app", D2, delete=True) is None  # only "latest" is on D2
        assert await check("acme", "nothing", "v1", delete=False) is None
        assert await check("other", "app", "v1", delete=False) is None
        assert "immutable" in overwrite.message("acme/app")


async def test_deleting_or_disabling_the_rule_lifts_it_at_once(world: World) -> None:
    (first,) = await _acme(world, rule("v*"))
    async with world.service() as service:
        namespace = await service.store.namespaces.by_name("acme")
        assert namespace is not None and await service.immutability.push_refusal(
            "acme", "app", "v1", delete=False
        )
        async with service.store.transaction():
            await service.store.immutables.update(first, parse_rule(rule("v*", disabled=True)))
        assert await service.immutability.push_refusal("acme", "app", "v1", delete=False) is None
        async with service.store.transaction():
            await service.store.immutables.update(first, parse_rule(rule("v*")))
            await service.store.immutables.delete(first)
        assert await service.immutability.push_refusal("acme", "app", "v1", delete=False) is None
