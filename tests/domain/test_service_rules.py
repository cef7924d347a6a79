"""The domain service's rules, exercised directly (no HTTP) on SQLite and on PostgreSQL."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from repohub.domain.catalog import RepositoryChanges
from repohub.domain.entities import Principal, Role
from repohub.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from repohub.domain.queries import RepoQuery, TagQuery
from repohub.store.tables import MembershipRow, NamespaceRow, RepositoryRow, UserRow
from tests.world import OCI_MANIFEST, World, open_service

ANONYMOUS = None


@pytest.fixture
async def world(world: World) -> World:
    """A namespace ``acme`` with one user per role, an outsider, a site admin and two repositories."""
    for name in ("boss", "dev", "guest", "stranger", "root"):
        await world.account(name, admin=name == "root")
    await world.org("acme", owner="boss", members={"dev": Role.MEMBER, "guest": Role.VIEWER})
    await world.repository("acme/secret", by="boss", description="private one")
    await world.repository("acme/open", by="boss", public=True)
    return world


# -- accounts -------------------------------------------------------------------------------------


async def test_create_user_makes_personal_namespace_owned_by_the_user(world):
    async with world.service() as service:
        user = await service.accounts.create_user("newbie", "pw", email="n@example.test")
        namespace = await service.catalog.namespace("newbie")
        assert namespace.kind == "user"
        assert await service.store.namespaces.role(namespace.id, user.id) == Role.ADMIN
        assert user.email == "n@example.test" and user.is_admin is False


@pytest.mark.parametrize("name", ["Bad", "1x", "x" * 65, "a..b", ""])
async def test_create_user_rejects_bad_names_and_writes_nothing(world, name):
    users_before = await world.count(UserRow)
    async with world.service() as service:
        with pytest.raises(InvalidInput) as caught:
            await service.accounts.create_user(name, "pw")
    assert caught.value.field == "username"
    assert await world.count(UserRow) == users_before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"password": ""}, "password"), ({"password": "x" * 1025}, "password"), ({"email": "nope"}, "email")],
)
async def test_create_user_rejects_bad_password_or_email(world, kwargs, field):
    async with world.service() as service:
        with pytest.raises(InvalidInput) as caught:
            await service.accounts.create_user(
                "valid", kwargs.get("password", "pw"), email=kwargs.get("email")
            )
    assert caught.value.field == field
    assert await world.count(UserRow) == 5


async def test_user_and_org_names_share_one_namespace_space(world):
    async with world.service() as service:
        with pytest.raises(Conflict):
            await service.accounts.create_user("acme", "pw")  # an org's name
        with pytest.raises(Conflict):
            await service.accounts.create_user("dev", "pw")  # a user's name
        with pytest.raises(Conflict):
            await service.accounts.create_org("dev")
        with pytest.raises(Conflict):
            await service.accounts.create_org("acme")
        with pytest.raises(InvalidInput):
            await service.accounts.create_org("Acme")
        with pytest.raises(NotFound):
            await service.accounts.create_org("neworg", owner="ghost")
    assert await world.count(NamespaceRow) == 6  # 5 personal + acme: nothing half-written


async def test_orgs_list_and_members(world):
    async with world.service() as service:
        assert [org.name for org in await service.accounts.list_orgs()] == ["acme"]
        with pytest.raises(NotFound):
            await service.accounts.add_member("nowhere", "dev", Role.VIEWER)
        with pytest.raises(NotFound):
            await service.accounts.add_member("acme", "ghost", Role.VIEWER)
        await service.accounts.add_member("acme", "guest", Role.MEMBER)  # changes the role
        acme = await service.catalog.namespace("acme")
        guest = await service.accounts.user("guest")
        assert await service.store.namespaces.role(acme.id, guest.id) == Role.MEMBER
    assert await world.count(MembershipRow) == 5 + 3


async def test_password_login_and_tokens(world):
    async with world.service() as service:
        issued = await service.accounts.login("dev", "password-1")
        assert (await service.accounts.authenticate_token(issued.token)).username == "dev"
        for username, password in [("dev", "wrong"), ("ghost", "password-1"), ("dev", "x" * 2000)]:
            with pytest.raises(NotAuthenticated):
                await service.accounts.login(username, password)
        with pytest.raises(NotAuthenticated):
            await service.accounts.authenticate_token("not-a-token")
        assert await service.accounts.revoke_token(issued.token) is True
        assert await service.accounts.revoke_token(issued.token) is False
        with pytest.raises(NotAuthenticated):
            await service.accounts.authenticate_token(issued.token)


async def test_expired_token_is_refused(world):
    async with world.service() as service:
        soon = datetime.now(UTC) + timedelta(hours=1)
        issued = await service.accounts.create_token("dev", expires_at=soon)
        assert (await service.accounts.authenticate_token(issued.token)).username == "dev"
        with pytest.raises(NotAuthenticated):
            await service.accounts.authenticate_token(issued.token, now=soon + timedelta(seconds=1))


async def test_access_key_secret_round_trip(world):
    async with world.service() as service:
        key = await service.accounts.create_access_key("dev")
        user, secret = await service.accounts.access_key_secret(key.access_key)
        assert user.username == "dev" and secret == key.secret_key
        assert len(key.project_id) == 32
        with pytest.raises(NotAuthenticated):
            await service.accounts.access_key_secret("AKNOTKNOWN")


async def test_bootstrap_admin_only_when_no_user_exists(app, clean):
    async with open_service(app) as service:
        generated = await service.accounts.bootstrap_admin("admin", None)
        assert generated is not None and len(generated) >= 16
        admin = await service.accounts.user("admin")
        assert admin.is_admin is True
        assert (await service.accounts.authenticate_password("admin", generated)).id == admin.id
        assert await service.accounts.bootstrap_admin("admin", None) is None  # only once
        assert await service.accounts.bootstrap_admin("other", "chosen-pw") is None
        assert await service.store.users.count() == 1


async def test_bootstrap_admin_with_a_chosen_password_prints_nothing(app, clean):
    async with open_service(app) as service:
        assert await service.accounts.bootstrap_admin("boss", "chosen-pw") is None
        assert (await service.accounts.authenticate_password("boss", "chosen-pw")).is_admin is True


# -- permissions ----------------------------------------------------------------------------------

READERS = ["boss", "dev", "guest", "root"]


@pytest.mark.parametrize("who", READERS)
async def test_members_and_site_admins_read_private_repositories(world, who):
    async with world.service(who) as service:
        assert (await service.catalog.repository("acme", "secret")).description == "private one"
        page = await service.catalog.list_repositories(RepoQuery(namespace="acme"))
        assert [repo.name for repo in page.items] == ["open", "secret"] and page.total == 2


@pytest.mark.parametrize("who", ["stranger", ANONYMOUS])
async def test_private_repository_is_not_found_for_outsiders(world, who):
    async with world.service(who) as service:
        with pytest.raises(NotFound):
            await service.catalog.repository("acme", "secret")
        assert (await service.catalog.repository("acme", "open")).is_public is True
        page = await service.catalog.list_repositories(RepoQuery(namespace="acme"))
        assert [repo.name for repo in page.items] == ["open"] and page.total == 1


@pytest.mark.parametrize("who", ["boss", "dev", "root"])
async def test_members_and_up_create_and_update(world, who):
    async with world.service(who) as service:
        created = await service.catalog.create_repository("acme", f"by-{who}/app", description="x")
        assert created.path == f"acme/by-{who}/app" and created.creator.username == who
        changed = await service.catalog.update_repository(
            created, RepositoryChanges(description="changed", is_public=True, full_description="long")
        )
        assert (changed.description, changed.is_public, changed.full_description) == ("changed", True, "long")
        assert changed.updated_at >= created.updated_at


@pytest.mark.parametrize(("who", "error"), [("guest", PermissionDenied), ("stranger", PermissionDenied)])
async def test_viewers_and_outsiders_may_not_create(world, who, error):
    async with world.service(who) as service:
        with pytest.raises(error):
            await service.catalog.create_repository("acme", "nope")
    assert await world.count(RepositoryRow) == 2


async def test_anonymous_may_not_create_update_delete_or_star(world):
    async with world.service(ANONYMOUS) as service:
        with pytest.raises(NotAuthenticated):
            await service.catalog.create_repository("acme", "nope")
        public = await service.catalog.repository("acme", "open")
        with pytest.raises(NotAuthenticated):
            await service.catalog.update_repository(public, RepositoryChanges(description="x"))
        with pytest.raises(NotAuthenticated):
            await service.catalog.delete_repository(public)
        with pytest.raises(NotAuthenticated):
            await service.catalog.set_star(public, True)
        assert await service.catalog.is_starred(public) is False


async def test_viewer_is_read_only(world):
    async with world.service("guest") as service:
        repo = await service.catalog.repository("acme", "secret")
        with pytest.raises(PermissionDenied):
            await service.catalog.update_repository(repo, RepositoryChanges(description="x"))
        with pytest.raises(PermissionDenied):
            await service.catalog.delete_repository(repo)
    async with world.service("boss") as service:
        assert (await service.catalog.repository("acme", "secret")).description == "private one"


async def test_outsider_may_read_but_not_change_a_public_repository(world):
    async with world.service("stranger") as service:
        repo = await service.catalog.repository("acme", "open")
        with pytest.raises(PermissionDenied):
            await service.catalog.update_repository(repo, RepositoryChanges(description="x"))
        with pytest.raises(PermissionDenied):
            await service.catalog.delete_repository(repo)
        starred = await service.catalog.set_star(repo, True)  # anyone who can read may star
        assert starred.star_count == 1


async def test_member_may_not_delete_but_namespace_admin_and_site_admin_may(world):
    async with world.service("dev") as service:
        repo = await service.catalog.repository("acme", "secret")
        with pytest.raises(PermissionDenied):
            await service.catalog.delete_repository(repo)
    async with world.service("boss") as service:
        await service.catalog.delete_repository(await service.catalog.repository("acme", "secret"))
    async with world.service("root") as service:
        await service.catalog.delete_repository(await service.catalog.repository("acme", "open"))
        with pytest.raises(NotFound):
            await service.catalog.repository("acme", "open")
    assert await world.count(RepositoryRow) == 0


async def test_site_admin_sees_every_namespace(world):
    async with world.service("root") as service:
        page = await service.catalog.list_repositories(RepoQuery())
        assert page.total == 2
    async with world.service("stranger") as service:
        assert (await service.catalog.list_repositories(RepoQuery())).total == 1


# -- repositories: validation and uniqueness ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "field"),
    [
        ("Bad", {}, "name"),
        ("a//b", {}, "name"),
        ("x" * 129, {}, "name"),
        ("ok", {"description": "d" * 1025}, "description"),
        ("ok", {"full_description": "f" * 100_001}, "full_description"),
        ("ok", {"category": "toys"}, "category"),
    ],
)
async def test_create_repository_rejects_bad_input_and_writes_nothing(world, name, kwargs, field):
    async with world.service("dev") as service:
        with pytest.raises(InvalidInput) as caught:
            await service.catalog.create_repository("acme", name, **kwargs)
    assert caught.value.field == field
    assert await world.count(RepositoryRow) == 2


async def test_update_rejects_too_long_text_and_keeps_the_old_values(world):
    async with world.service("dev") as service:
        repo = await service.catalog.repository("acme", "secret")
        with pytest.raises(InvalidInput):
            await service.catalog.update_repository(repo, RepositoryChanges(description="d" * 1025))
        with pytest.raises(InvalidInput):
            await service.catalog.update_repository(repo, RepositoryChanges(category="toys"))
        assert (await service.catalog.repository("acme", "secret")).description == "private one"


async def test_duplicate_repository_is_a_conflict(world):
    async with world.service("dev") as service:
        with pytest.raises(Conflict):
            await service.catalog.create_repository("acme", "secret")
        with pytest.raises(NotFound):
            await service.catalog.create_repository("nowhere", "app")


async def test_multi_level_names_are_separate_repositories(world):
    async with world.service("dev") as service:
        await service.catalog.create_repository("acme", "team/app")
        await service.catalog.create_repository("acme", "team/app/v2")
        assert (await service.catalog.repository("acme", "team/app")).path == "acme/team/app"
        assert (await service.catalog.repository("acme", "team/app/v2")).name == "team/app/v2"


async def test_stars_are_counted_once_per_user(world):
    for who in ("dev", "guest"):
        async with world.service(who) as service:
            repo = await service.catalog.repository("acme", "secret")
            await service.catalog.set_star(repo, True)
            repo = await service.catalog.set_star(repo, True)  # idempotent
            assert await service.catalog.is_starred(repo) is True
    async with world.service("dev") as service:
        repo = await service.catalog.set_star(await service.catalog.repository("acme", "secret"), False)
        assert repo.star_count == 1 and await service.catalog.is_starred(repo) is False


async def test_tags_are_listed_newest_first(world):
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for offset, name in enumerate(["old", "middle", "new"]):
        await world.tag(
            "acme/secret",
            name,
            digest=f"sha256:{offset:064x}",
            image_id=f"{offset:064x}",
            media_type=OCI_MANIFEST,
            at=start + timedelta(minutes=offset),
        )
    async with world.service("dev") as service:
        repo = await service.catalog.repository("acme", "secret")
        tags = await service.catalog.list_tags(repo, TagQuery())
        assert [tag.name for tag in tags.items] == ["new", "middle", "old"] and tags.total == 3
        assert (await service.catalog.repository("acme", "secret")).tag_count == 3
        with pytest.raises(InvalidInput):
            await service.catalog.list_tags(repo, TagQuery(limit=0))
        with pytest.raises(InvalidInput):
            await service.catalog.list_repositories(RepoQuery(offset=-1))


# -- concurrency ----------------------------------------------------------------------------------


async def _race(world, attempts, make):
    async def attempt(index):
        async with world.service(make.username) as service:
            try:
                await make(service, index)
                return "ok"
            except Conflict:
                return "conflict"

    return await asyncio.gather(*(attempt(index) for index in range(attempts)))


async def test_concurrent_user_creation_gives_one_user(world):
    async def make(service, _index):
        await service.accounts.create_user("racer", "password-1")

    make.username = None
    outcomes = await _race(world, 20, make)
    assert sorted(outcomes).count("ok") == 1 and outcomes.count("conflict") == 19
    assert await world.count(UserRow) == 6
    assert await world.count(NamespaceRow) == 7  # the winner's namespace only


async def test_concurrent_repository_creation_gives_one_repository(world):
    async def make(service, _index):
        await service.catalog.create_repository("acme", "raced")

    make.username = "dev"
    outcomes = await _race(world, 20, make)
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 19
    assert await world.count(RepositoryRow) == 3


# -- token lifetimes, listing and revocation ------------------------------------------------------


async def test_tokens_are_listed_with_their_kind_and_times_but_never_the_token(world):
    async with world.service() as service:
        soon = datetime.now(UTC) + timedelta(hours=1)
        made = await service.accounts.create_token("dev", expires_at=soon)
        logged_in = await service.accounts.login("dev", "password-1")
        await service.accounts.create_token("boss")
        listed = await service.accounts.list_tokens("dev")
        assert [(entry.kind, entry.expires_at) for entry in listed] == [
            ("cli", soon),
            ("login", listed[1].expires_at),
        ]
        assert listed[1].expires_at is not None and listed[1].created_at <= listed[1].expires_at
        assert all(entry.last_used_at is None and entry.parent_id is None for entry in listed)
        assert made.token not in repr(listed) and logged_in.token not in repr(listed)
        await service.accounts.revoke_token(made.token)
        assert [entry.kind for entry in await service.accounts.list_tokens("dev")] == ["login"]
        with pytest.raises(NotFound):
            await service.accounts.list_tokens("ghost")


async def test_a_token_s_last_use_is_written_at_most_once_a_minute(world):
    async with world.service() as service:
        token = (await service.accounts.create_token("dev")).token
        start = datetime.now(UTC)
        for offset, recorded in [(0, 0), (30, 0), (59, 0), (61, 61)]:
            service.store.memory.verified_tokens.clear()  # as after the verified-token memory's few seconds
            await service.accounts.authenticate_token(token, now=start + timedelta(seconds=offset))
            (entry,) = await service.accounts.list_tokens("dev")
            assert entry.last_used_at == start + timedelta(seconds=recorded), offset


async def test_revoking_by_id_or_by_user_takes_the_derived_tokens_along(world):
    from repohub.domain.registry import docker_login

    async with world.service() as service:
        accounts = service.accounts
        first, second = (await accounts.create_token("dev")).token, (await accounts.create_token("dev")).token
        kept = (await accounts.create_token("boss")).token
        derived = []
        for parent in (first, second):
            credential = await accounts.verify_token(parent)
            issued, _ = await docker_login(
                accounts, Principal(credential.user, via="token", credential=credential)
            )
            derived.append(issued.token)
            assert (await accounts.authenticate_token(issued.token)).username == "dev"  # remembered now
        listed = await accounts.list_tokens("dev")  # by id, oldest first
        first_id = listed[0].id
        assert [entry.parent_id for entry in listed] == [None, None, first_id, listed[1].id]
        assert await accounts.revoke_token_id(first_id) == 2  # the token and its docker-login token
        assert await accounts.revoke_token_id(first_id) == 0
        for token in (first, derived[0]):
            with pytest.raises(NotAuthenticated):
                await accounts.authenticate_token(token)
        assert (await accounts.authenticate_token(derived[1])).username == "dev"
        assert await accounts.revoke_user_tokens("dev") == 2
        for token in (second, derived[1]):
            with pytest.raises(NotAuthenticated):
                await accounts.authenticate_token(token)
        assert (await accounts.authenticate_token(kept)).username == "boss"
        assert await accounts.list_tokens("dev") == []


async def test_both_namespace_services_answer_a_non_member_alike(world):
    """``CatalogService`` and ``NamespaceService`` ask one rule (``domain.access.discloses``): a
    namespace without anything the caller may read answers as a missing one in both, word for word;
    one with a public repository is known to exist, and what needs a role is PermissionDenied."""
    async with world.service("boss") as service:
        await service.namespaces.create("quiet")
        await service.catalog.create_repository("quiet", "hush")  # private
    async with world.service("stranger") as service:
        quiet = await service.catalog.namespace("quiet")
        with pytest.raises(NotFound) as by_catalog:
            await service.catalog.shown_namespace_by_id(quiet.id)
        with pytest.raises(NotFound) as by_namespaces:
            await service.namespaces.get("quiet")
        with pytest.raises(NotFound) as missing:
            await service.namespaces.get("ghost")
        assert str(by_namespaces.value) == str(missing.value).replace("ghost", "quiet")
        assert str(by_catalog.value) == f"namespace {quiet.id} not found"
        acme = await service.catalog.namespace("acme")  # holds the public "open"
        assert await service.catalog.shown_namespace_by_id(acme.id) == acme
        for refused in (service.namespaces.get("acme"), service.namespaces.access("acme")):
            with pytest.raises(PermissionDenied, match="needs the viewer role"):
                await refused
        for refused in (service.namespaces.delete("acme"), service.namespaces.revoke("acme", [1])):
            with pytest.raises(PermissionDenied, match="needs the admin role"):
                await refused
        with pytest.raises(PermissionDenied):
            await service.catalog.create_repository("acme", "intruder")


async def test_one_path_creates_organisations(world):
    """The CLI's ``create_org`` and a caller's ``namespaces.create`` check and write alike."""
    async with world.service("dev") as service:
        made = await service.namespaces.create("team")
        assert await service.store.namespaces.role(made.id, made.creator_id) == Role.ADMIN
        for create in (service.namespaces.create, service.accounts.create_org):
            with pytest.raises(Conflict, match="namespace 'team' already exists"):
                await create("team")
            with pytest.raises(InvalidInput, match="invalid namespace name 'Bad'") as caught:
                await create("Bad")
            assert caught.value.field == "namespace"
        orphan = await service.accounts.create_org("orphan")  # no owner: no member either
        assert orphan.creator_id is None and await service.store.namespaces.members(orphan.id) == []
