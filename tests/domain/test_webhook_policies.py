"""Webhook management (``domain.webhooks.policies``) exercised directly, on SQLite and PostgreSQL:
who may manage which hooks, what a valid hook is, and that secrets are sealed and never returned."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from repohub.domain.clock import utcnow
from repohub.domain.entities import Principal, Role
from repohub.domain.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from repohub.domain.immutability.rules import Selector
from repohub.domain.service import Service
from repohub.domain.webhooks.hooks import FORMAT_ALAUDA, FORMAT_HARBOR, HookSpec, NewDelivery, Scope
from repohub.domain.webhooks.outbox import Notice, Resource
from repohub.domain.webhooks.payloads import parse_auth_header, render
from repohub.domain.webhooks.policies import WebhookPolicies
from repohub.domain.webhooks.targets import UnsafeTarget
from repohub.store.tables import WebhookDeliveryRow, WebhookJobRow, WebhookRow
from repohub.store.unit import Store
from repohub.store.webhooks import HookQuery
from tests.world import World

PUBLIC_URL = "http://93.184.215.14/hook"  # a global address literal: checked without DNS
OTHER_URL = "https://93.184.215.15/other"
SPEC = HookSpec(format=FORMAT_ALAUDA, url=PUBLIC_URL, events=frozenset({"push"}), secret="s3cret")
HARBOR = HookSpec(
    format=FORMAT_HARBOR,
    url=PUBLIC_URL,
    events=frozenset({"push", "delete"}),
    name="ci",
    scope=Scope(Selector("repoMatches", "team/**"), Selector("excludes", "*-rc")),
    auth_header="Authorization:Bearer abc;X-Team:ops",
    address_type="internal",
)


@pytest.fixture
async def world(world: World) -> World:
    """``acme`` (boss admin, dev member, guest viewer; a public repository discloses it to anyone),
    ``vault`` (boss admin, nothing public: undisclosed to outsiders), a stranger and a site admin."""
    for name in ("boss", "dev", "guest", "stranger", "root"):
        await world.account(name, admin=name == "root")
    await world.org("acme", owner="boss", members={"dev": Role.MEMBER, "guest": Role.VIEWER})
    await world.org("vault", owner="boss")
    await world.repository("acme/open", by="boss", public=True)
    return world


@asynccontextmanager
async def policies(
    world: World, username: str | None, *, allow_private: bool = False
) -> AsyncIterator[WebhookPolicies]:
    async with world.service(username) as service:
        box = world.app.state.repohub.secret_box
        yield WebhookPolicies(service.store, service.principal, box, allow_private=allow_private)


async def create(world: World, username: str = "boss", namespace: str = "acme", spec: HookSpec = SPEC) -> int:
    async with world.service(username) as service:
        return (await service.webhooks.create(namespace, spec)).id


async def stored(world: World, hook_id: int) -> HookSpec:
    """The spec as the table holds it (secrets sealed)."""
    async with world.service() as service:
        hook = await service.store.webhooks.get(hook_id)
    assert hook is not None
    return hook.spec


def opened(world: World, sealed: str | None) -> str | None:
    return None if sealed is None else world.app.state.repohub.secret_box.open(sealed)


# -- create ---------------------------------------------------------------------------------------


async def test_namespace_admin_creates_a_hook_whose_secret_is_stored_sealed_and_never_returned(world):
    async with world.service("boss") as service:
        hook = await service.webhooks.create("acme", replace(HARBOR, secret="k"))
    assert (hook.namespace, hook.creator, hook.spec.name, hook.spec.scope) == (
        "acme",
        "boss",
        "ci",
        HARBOR.scope,
    )
    assert hook.spec.secret is None and hook.spec.auth_header is None
    kept = await stored(world, hook.id)
    assert "abc" not in (kept.auth_header or "") and kept.secret != "k"
    assert opened(world, kept.auth_header) == HARBOR.auth_header and opened(world, kept.secret) == "k"


async def test_a_header_list_accepted_at_creation_is_sent_as_the_parser_reads_it(world):
    given = " Authorization: Bearer a:b ;;X-Team:ops\t;x-empty:"
    async with world.service("boss") as service:
        hook = await service.webhooks.create("acme", replace(HARBOR, auth_header=given))
    kept = await stored(world, hook.id)
    notice = Notice(
        "push", "acme", "team/app", (Resource("v1", "sha256:" + "1" * 64),), "boss", utcnow(), False
    )
    request = render(
        replace(hook, spec=kept),
        notice,
        "d",
        secret=None,
        auth_header=opened(world, kept.auth_header),
        registry_host="r",
    )
    expected = [("Authorization", "Bearer a:b"), ("X-Team", "ops"), ("x-empty", "")]
    assert parse_auth_header(given) == expected
    assert [header for header in request.headers if header[0] not in ("Content-Type", "User-Agent")] == [
        *expected,
        ("X-Repohub-Delivery", "d"),
    ]


async def test_site_admin_creates_in_any_namespace(world):
    async with world.service("root") as service:
        hook = await service.webhooks.create("vault", SPEC)
    assert (hook.namespace, hook.creator) == ("vault", "root")


async def test_a_hook_may_name_a_repository_that_does_not_exist_yet(world):
    async with world.service("boss") as service:
        hook = await service.webhooks.create("acme", replace(SPEC, repository="not/yet"))
    assert hook.subject == "acme/not/yet"


@pytest.mark.parametrize(
    ("username", "namespace", "error"),
    [
        (None, "acme", NotAuthenticated),
        ("dev", "acme", PermissionDenied),  # a member, not an admin
        ("guest", "acme", PermissionDenied),
        ("stranger", "acme", PermissionDenied),  # disclosed by its public repository
        ("stranger", "vault", NotFound),  # undisclosed: as a missing one
        ("boss", "nowhere", NotFound),
    ],
)
async def test_only_namespace_admins_create_hooks(world, username, namespace, error):
    async with world.service(username) as service:
        with pytest.raises(error):
            await service.webhooks.create(namespace, SPEC)
    assert await world.count(WebhookRow) == 0


async def test_an_undisclosed_namespace_answers_as_a_missing_one(world):
    messages = []
    for namespace in ("vault", "nowhere"):
        async with world.service("stranger") as service:
            with pytest.raises(NotFound) as caught:
                await service.webhooks.create(namespace, SPEC)
        messages.append(caught.value.message.replace(namespace, "X"))
    assert messages[0] == messages[1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"events": frozenset()}, "events"),
        ({"events": frozenset({"push", "tag"})}, "events"),
        ({"format": "slack"}, "format"),
        ({"name": "n" * 257}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"description": "d" * 1025}, "description"),
        ({"repository": "Bad Name"}, "repository"),
        ({"secret": "s" * 1025}, "secret"),
        ({"scope": Scope(Selector("matches", "**"), Selector("matches", "**"))}, "scope_selectors"),
        ({"scope": Scope(Selector("repoMatches", "**"), Selector("repoMatches", "**"))}, "tag_selectors"),
        ({"scope": Scope(Selector("repoMatches", "{a"), Selector("matches", "**"))}, "scope_selectors"),
        ({"scope": Scope(Selector("repoMatches", "**"), Selector("matches", "**"), "all")}, "scope_rules"),
        ({"auth_header": "no colon here"}, "auth_header"),
        ({"auth_header": "X-A:1\r\nX-B:2"}, "auth_header"),
        ({"auth_header": "Bad Name:1"}, "auth_header"),
        ({"auth_header": "Host:evil.example"}, "auth_header"),
        ({"auth_header": "content-length:0"}, "auth_header"),
        ({"auth_header": "X-A:€"}, "auth_header"),  # the sender could not encode it
        ({"auth_header": "X-Repohub-Delivery:x"}, "auth_header"),  # the delivery's own id
        ({"auth_header": "Content-Type:text/plain"}, "auth_header"),  # sent twice otherwise
        ({"auth_header": "User-Agent:me"}, "auth_header"),
        ({"auth_header": "X-Alauda-Signature:sha1=00"}, "auth_header"),  # no forged signature
        ({"auth_header": "X-A:1;x-a:2"}, "auth_header"),
        ({"auth_header": "X-A:" + "v" * 4096}, "auth_header"),
        ({"auth_header": 7}, "auth_header"),
        ({"address_type": "moon"}, "address_type"),
        ({"url": "ftp://93.184.215.14/x"}, "url"),
        ({"url": "http://user:pw@93.184.215.14/x"}, "url"),
        ({"url": "not a url"}, "url"),
    ],
)
async def test_a_bad_spec_is_invalid_input_naming_its_field_and_writes_nothing(world, change, field):
    async with world.service("boss") as service:
        with pytest.raises(InvalidInput) as caught:
            await service.webhooks.create("acme", replace(SPEC, **change))
    assert caught.value.field == field
    assert await world.count(WebhookRow) == 0


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/"]
)
async def test_a_private_target_is_refused_unless_the_operator_allows_it(world, url):
    async with policies(world, "boss") as hooks:
        with pytest.raises(UnsafeTarget):
            await hooks.create("acme", replace(SPEC, url=url))
    async with policies(world, "boss", allow_private=True) as hooks:
        assert (await hooks.create("acme", replace(SPEC, url=url))).spec.url == url


async def test_the_service_hands_allow_private_to_its_hooks(world):
    state = world.app.state.repohub
    async with state.sessions() as session:
        service = Service(Store(session), state.secret_box, allow_private=True)
        service.acting_as(Principal(await service.accounts.user("boss"), via="token"))
        hook = await service.webhooks.create("acme", replace(SPEC, url="http://127.0.0.1:9/"))
    assert hook.spec.url == "http://127.0.0.1:9/"


# -- get ------------------------------------------------------------------------------------------


async def test_admins_get_their_hooks_and_everyone_else_a_not_found_naming_only_the_id(world):
    hook_id = await create(world)
    async with world.service("boss") as service:
        hook = await service.webhooks.get(hook_id)
        assert (hook.id, hook.spec.secret) == (hook_id, None)
        assert (await service.webhooks.get(hook_id, "acme")).id == hook_id
    async with world.service("root") as service:
        assert (await service.webhooks.get(hook_id)).id == hook_id
    for username, namespace in [
        ("dev", None),
        ("guest", None),
        ("stranger", None),
        ("boss", "vault"),
        ("boss", "nowhere"),
    ]:
        async with world.service(username) as service:
            with pytest.raises(NotFound) as caught:
                await service.webhooks.get(hook_id, namespace)
        assert caught.value.message == f"webhook {hook_id} not found"


@pytest.mark.parametrize("hook_id", [0, -1, 999_999, 2**63, 2**70])
async def test_an_id_naming_no_hook_is_not_found(world, hook_id):
    await create(world)
    async with world.service("root") as service:
        with pytest.raises(NotFound):
            await service.webhooks.get(hook_id)


async def test_anonymous_callers_must_authenticate_for_every_call(world):
    hook_id = await create(world)
    async with world.service() as service:
        hooks = service.webhooks
        calls = [
            hooks.get(hook_id),
            hooks.update(hook_id, lambda spec: spec),
            hooks.delete(hook_id),
            hooks.list(HookQuery()),
            hooks.jobs(hook_id, None, 0, 10),
        ]
        for call in calls:
            with pytest.raises(NotAuthenticated):
                await call


# -- update ---------------------------------------------------------------------------------------


async def test_revise_never_sees_a_secret_and_none_keeps_the_stored_one(world):
    hook_id = await create(world, spec=HARBOR)
    before = await stored(world, hook_id)
    seen = []

    def revise(spec: HookSpec) -> HookSpec:
        seen.append(spec)
        return replace(spec, url=OTHER_URL, enabled=False)

    async with world.service("boss") as service:
        hook = await service.webhooks.update(hook_id, revise)
    assert seen[0].auth_header is None and seen[0].secret is None
    assert seen[0].scope == HARBOR.scope  # the fields this caller did not change are there to keep
    assert (hook.spec.url, hook.spec.enabled, hook.spec.scope, hook.spec.auth_header) == (
        OTHER_URL,
        False,
        HARBOR.scope,
        None,
    )
    assert (await stored(world, hook_id)).auth_header == before.auth_header  # not even re-sealed


async def test_an_empty_secret_removes_it_and_a_new_one_is_sealed(world):
    hook_id = await create(world)
    async with world.service("boss") as service:
        await service.webhooks.update(hook_id, lambda spec: replace(spec, secret="fresh"))
    assert opened(world, (await stored(world, hook_id)).secret) == "fresh"
    async with world.service("boss") as service:
        await service.webhooks.update(hook_id, lambda spec: replace(spec, secret=""))
    assert (await stored(world, hook_id)).secret is None


async def test_an_update_through_the_other_dialect_keeps_the_fields_only_it_knows(world):
    """An Alauda-style revise (url, events, secret) of an SWR policy keeps its scope and headers."""
    hook_id = await create(world, spec=HARBOR)

    def alauda(spec: HookSpec) -> HookSpec:
        return replace(spec, url=OTHER_URL, events=frozenset({"pull"}), secret="k")

    async with world.service("boss") as service:
        hook = await service.webhooks.update(hook_id, alauda)
    kept = await stored(world, hook_id)
    assert (hook.spec.format, hook.spec.scope, hook.spec.address_type) == (
        FORMAT_HARBOR,
        HARBOR.scope,
        "internal",
    )
    assert opened(world, kept.auth_header) == HARBOR.auth_header and opened(world, kept.secret) == "k"


async def test_an_update_is_checked_as_a_create_is_and_changes_nothing_when_refused(world):
    hook_id = await create(world)
    for revise in (
        lambda spec: replace(spec, events=frozenset()),
        lambda spec: replace(spec, url="http://127.0.0.1/"),
        lambda spec: replace(spec, auth_header="X-Repohub-Delivery:forged"),
    ):
        async with world.service("boss") as service:
            with pytest.raises(InvalidInput):
                await service.webhooks.update(hook_id, revise)
    assert (await stored(world, hook_id)).url == PUBLIC_URL
    assert (await stored(world, hook_id)).auth_header is None


async def test_only_admins_update_and_others_get_not_found(world):
    hook_id = await create(world)
    for username in ("dev", "guest", "stranger"):
        async with world.service(username) as service:
            with pytest.raises(NotFound):
                await service.webhooks.update(hook_id, lambda spec: replace(spec, url=OTHER_URL))
    async with world.service("boss") as service:
        with pytest.raises(NotFound):  # the right admin, the wrong namespace
            await service.webhooks.update(hook_id, lambda spec: spec, "vault")
    assert (await stored(world, hook_id)).url == PUBLIC_URL


# -- delete ---------------------------------------------------------------------------------------


async def test_delete_removes_the_hook_once(world):
    hook_id = await create(world)
    for username in ("dev", "stranger"):
        async with world.service(username) as service:
            with pytest.raises(NotFound):
                await service.webhooks.delete(hook_id)
    assert await world.count(WebhookRow) == 1
    async with world.service("boss") as service:
        await service.webhooks.delete(hook_id, "acme")
        with pytest.raises(NotFound):
            await service.webhooks.delete(hook_id, "acme")
    assert await world.count(WebhookRow) == 0


# -- list -----------------------------------------------------------------------------------------


async def ids(
    world: World, username: str, query: HookQuery = HookQuery(), namespace: str | None = None
) -> list[int]:
    async with world.service(username) as service:
        page = await service.webhooks.list(query, namespace)
    assert all(hook.spec.secret is None and hook.spec.auth_header is None for hook in page.items)
    assert page.total >= len(page.items)
    return [hook.id for hook in page.items]


async def test_the_list_shows_the_hooks_of_the_namespaces_the_caller_administers(world):
    acme = await create(world, spec=HARBOR)
    vault = await create(world, namespace="vault")
    own = await create(world, "dev", namespace="dev")
    assert await ids(world, "boss") == [vault, acme]  # newest first
    assert await ids(world, "dev") == [own]  # a member of acme sees none of acme's
    assert await ids(world, "guest") == []
    assert await ids(world, "root") == [own, vault, acme]


async def test_the_list_narrowed_to_a_namespace_not_administered_is_empty_not_an_error(world):
    acme = await create(world)
    assert await ids(world, "boss", namespace="acme") == [acme]
    assert await ids(world, "root", namespace="acme") == [acme]
    for username, namespace in [
        ("dev", "acme"),
        ("stranger", "acme"),
        ("stranger", "vault"),
        ("boss", "nowhere"),
    ]:
        assert await ids(world, username, namespace=namespace) == []


async def test_the_query_namespace_ids_only_narrow_what_the_caller_may_see(world):
    acme = await create(world)
    vault = await create(world, namespace="vault")
    dev = await create(world, "dev", namespace="dev")
    async with world.service() as service:
        vault_id = (await service.store.namespaces.by_name("vault")).id
        dev_id = (await service.store.namespaces.by_name("dev")).id
    assert await ids(world, "boss", HookQuery(namespace_ids=[vault_id, dev_id, 2**70])) == [vault]
    assert await ids(world, "root", HookQuery(namespace_ids=[vault_id, dev_id, 2**70])) == [dev, vault]
    assert await ids(world, "boss", HookQuery(namespace_ids=[])) == []
    assert acme not in await ids(world, "boss", HookQuery(namespace_ids=[vault_id]))


async def test_the_list_filters_pages_and_orders(world):
    first = await create(world, spec=replace(SPEC, name="Alpha build"))
    second = await create(world, spec=replace(SPEC, name="beta", repository="web"))
    third = await create(world, spec=replace(SPEC, name="gamma", repository="web"))
    assert await ids(world, "boss", HookQuery(name="ALPHA")) == [first]
    assert await ids(world, "boss", HookQuery(repository="web")) == [third, second]
    assert await ids(world, "boss", HookQuery(repository="")) == [first]
    assert await ids(world, "boss", HookQuery(order="name", descending=False)) == [first, second, third]
    assert await ids(world, "boss", HookQuery(offset=1, limit=1)) == [second]
    async with world.service("boss") as service:
        assert (await service.webhooks.list(HookQuery(limit=1))).total == 3


@pytest.mark.parametrize(
    "query",
    [
        HookQuery(limit=0),
        HookQuery(limit=101),
        HookQuery(offset=-1),
        HookQuery(offset=10**12),
        HookQuery(order="url"),
        HookQuery(name="x\x00"),
        HookQuery(repository="Bad/Name"),
    ],
)
async def test_bad_list_queries_are_invalid_input(world, query):
    async with world.service("boss") as service:
        with pytest.raises(InvalidInput):
            await service.webhooks.list(query)


# -- jobs -----------------------------------------------------------------------------------------


async def record_attempts(world: World, hook_id: int, statuses: list[str]) -> str:
    """One delivery of ``hook_id`` with an attempt per status, as the worker records them."""
    now = utcnow()
    delivery = NewDelivery(hook_id, "push", '{"action":"push"}', now)
    async with world.service() as service:
        store = service.store
        async with store.transaction():
            await store.outbox.add([delivery])
            row_id = (
                await store.session.execute(
                    select(WebhookDeliveryRow.id).where(
                        WebhookDeliveryRow.delivery_id == delivery.delivery_id
                    )
                )
            ).scalar_one()
            for number, status in enumerate(statuses):
                await store.session.execute(
                    insert(WebhookJobRow.__table__).values(
                        delivery_id=row_id,
                        hook_id=hook_id,
                        action="push",
                        status=status,
                        status_text="500" if status == "Failed" else "200",
                        response_code=500 if status == "Failed" else 200,
                        duration_ms=number,
                        created_at=now + timedelta(seconds=number),
                    )
                )
    return delivery.delivery_id


async def test_jobs_are_the_hooks_attempts_newest_first_filtered_by_status(world):
    hook_id = await create(world)
    other = await create(world, namespace="vault")
    delivery_id = await record_attempts(world, hook_id, ["Failed", "Failed", "Succeed"])
    await record_attempts(world, other, ["Succeed"])
    async with world.service("boss") as service:
        jobs = await service.webhooks.jobs(hook_id, "acme", 0, 10)
        failed = await service.webhooks.jobs(hook_id, None, 0, 1, status="Failed")
        stopped = await service.webhooks.jobs(hook_id, None, 0, 10, status="Stopped")
    assert [(job.status, job.status_text, job.duration_ms) for job in jobs.items] == [
        ("Succeed", "200", 2),
        ("Failed", "500", 1),
        ("Failed", "500", 0),
    ]
    assert {(job.delivery_id, job.hook_id, job.action, job.event) for job in jobs.items} == {
        (delivery_id, hook_id, "push", '{"action":"push"}')
    }
    assert (failed.total, [job.duration_ms for job in failed.items]) == (2, [1])
    assert stopped.total == 0 and stopped.items == []


async def test_jobs_of_a_hook_the_caller_does_not_administer_are_not_found(world):
    hook_id = await create(world)
    for username, namespace in [("dev", None), ("stranger", None), ("boss", "vault")]:
        async with world.service(username) as service:
            with pytest.raises(NotFound):
                await service.webhooks.jobs(hook_id, namespace, 0, 10)


@pytest.mark.parametrize(
    ("offset", "limit", "status"), [(0, 0, None), (0, 101, None), (-1, 10, None), (0, 10, "Done")]
)
async def test_bad_job_queries_are_invalid_input(world, offset, limit, status):
    hook_id = await create(world)
    async with world.service("boss") as service:
        with pytest.raises(InvalidInput):
            await service.webhooks.jobs(hook_id, None, offset, limit, status)
