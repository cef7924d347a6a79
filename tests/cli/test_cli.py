"""The ``repohub`` command as scripts use it: names, exit codes and the ``--json`` shapes."""

import asyncio
import json
import os
import re
import string
import subprocess
from collections.abc import Awaitable, Callable

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from repohub.auth.secrets import PASSWORD_ALPHABET, SecretBox, generate_password
from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.domain.service import Service
from repohub.store.engine import create_engine, create_sessionmaker
from tests.postgres import create_database
from tests.server import REPOHUB, settings_env
from tests.world import make_service


def run(env: dict[str, str], *args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPOHUB), *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def ok(env: dict[str, str], *args: str) -> str:
    done = run(env, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def with_service(settings: Settings, action: Callable[[Service], Awaitable]):
    async def go():
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await action(make_service(session, SecretBox(settings.resolved_secret_key)))
        finally:
            await engine.dispose()

    return asyncio.run(go())


@pytest.fixture
def env(settings, clean):
    return settings_env(settings)


def test_users_create_makes_the_user_and_its_namespace(settings, env):
    shown = json.loads(
        ok(env, "users", "create", "carol", "--password", "pw-1", "--email", "c@x.test", "--json")
    )
    assert set(shown) == {"id", "username"} and shown["username"] == "carol" and shown["id"].isdigit()
    assert "created user dave" in ok(env, "users", "create", "dave", "--password", "pw-2", "--admin")

    async def check(service: Service):
        carol, dave = await service.accounts.user("carol"), await service.accounts.user("dave")
        namespace = await service.catalog.namespace("carol")
        role = await service.store.namespaces.role(namespace.id, carol.id)
        logged_in = await service.accounts.authenticate_password("carol", "pw-1")
        return carol, dave, namespace, role, logged_in

    carol, dave, namespace, role, logged_in = with_service(settings, check)
    assert str(carol.id) == shown["id"] and carol.email == "c@x.test" and carol.is_admin is False
    assert dave.is_admin is True and namespace.kind == "user" and role == Role.ADMIN
    assert logged_in.id == carol.id


FAILING = [
    ("users", "create", "carol", "--password", "pw"),  # duplicate
    ("users", "create", "Bad_Name!", "--password", "pw"),
    ("users", "create", "erin", "--password", ""),
    ("orgs", "create", "carol"),  # taken by the user
    ("orgs", "create", "bad-"),
    ("orgs", "create", "team", "--owner", "ghost"),
    ("members", "add", "nowhere", "carol", "--role", "member"),
    ("members", "add", "carol", "ghost", "--role", "member"),
    ("tokens", "create", "ghost"),
    ("tokens", "revoke", "not-a-token"),
    ("access-keys", "create", "ghost"),
]


def test_domain_errors_exit_1_with_a_message_on_stderr(settings, env):
    ok(env, "users", "create", "carol", "--password", "pw")
    for args in FAILING:  # one loop, not one test each: every CLI start costs a second or two
        done = run(env, *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr, (args, done.stderr)
        assert done.stdout == "", args

    async def counts(service: Service):
        return await service.store.users.count(), len(await service.accounts.list_orgs())

    assert with_service(settings, counts) == (1, 0)  # nothing half-written


def test_usage_errors_exit_2(env):
    assert run(env, "members", "add", "a", "b", "--role", "owner").returncode == 2
    assert run(env, "users", "create", "x").returncode == 2  # --password is required
    assert run(env, "frobnicate").returncode == 2


def test_orgs_create_and_list_json(settings, env):
    ok(env, "users", "create", "carol", "--password", "pw")
    team = json.loads(ok(env, "orgs", "create", "team", "--owner", "carol", "--json"))
    lone = json.loads(ok(env, "orgs", "create", "lone", "--json"))
    assert set(team) == {"id", "name"} and team["name"] == "team" and team["id"].isdigit()
    listed = json.loads(ok(env, "orgs", "list", "--json"))
    assert listed == [lone, team]  # by name; personal namespaces are not orgs
    assert ok(env, "orgs", "list").splitlines() == [f"{lone['id']}\tlone", f"{team['id']}\tteam"]

    async def check(service: Service):
        namespace = await service.catalog.namespace("team")
        carol = await service.accounts.user("carol")
        return namespace, await service.store.namespaces.role(namespace.id, carol.id)

    namespace, role = with_service(settings, check)
    assert str(namespace.id) == team["id"] and namespace.kind == "org" and role == Role.ADMIN


def test_members_add_sets_and_changes_roles(settings, env):
    ok(env, "users", "create", "carol", "--password", "pw")
    ok(env, "orgs", "create", "team")
    assert ok(env, "members", "add", "team", "carol", "--role", "viewer").strip() == "carol is viewer of team"
    ok(env, "members", "add", "team", "carol", "--role", "member")

    async def role(service: Service):
        namespace, carol = await service.catalog.namespace("team"), await service.accounts.user("carol")
        return await service.store.namespaces.role(namespace.id, carol.id)

    assert with_service(settings, role) == Role.MEMBER


def test_tokens_create_json_and_revoke(settings, env):
    created = json.loads(ok(env, "users", "create", "carol", "--password", "pw", "--json"))
    issued = json.loads(ok(env, "tokens", "create", "carol", "--json"))
    assert set(issued) == {"user_id", "username", "token"}
    assert issued["user_id"] == created["id"] and issued["username"] == "carol"
    assert issued["token"].startswith("rh_")  # never "-...", which the CLI would read as an option
    plain = ok(env, "tokens", "create", "carol").strip()
    assert plain != issued["token"] and " " not in plain

    user = with_service(settings, lambda service: service.accounts.authenticate_token(issued["token"]))
    assert user.username == "carol"
    assert ok(env, "tokens", "revoke", issued["token"]).strip() == "revoked"
    assert run(env, "tokens", "revoke", issued["token"]).returncode == 1  # already revoked


def test_tokens_list_shows_each_token_s_kind_and_times_never_the_token(settings, env):
    ok(env, "users", "create", "carol", "--password", "pw")
    forever = json.loads(ok(env, "tokens", "create", "carol", "--json"))
    ok(env, "tokens", "create", "carol", "--expires-in", "1h")
    with_service(settings, lambda service: service.accounts.login("carol", "pw"))
    listed = json.loads(ok(env, "tokens", "list", "carol", "--json"))
    assert [set(entry) for entry in listed] == [
        {"id", "kind", "created_at", "last_used_at", "expires_at", "parent_id"}
    ] * 3
    assert [entry["kind"] for entry in listed] == ["cli", "cli", "login"]
    assert listed[0]["expires_at"] is None and listed[1]["expires_at"] and listed[2]["expires_at"]
    assert all(entry["id"].isdigit() and entry["last_used_at"] is None for entry in listed)
    text = ok(env, "tokens", "list", "carol")
    assert forever["token"] not in text and len(text.splitlines()) == 4  # a header and three tokens
    assert run(env, "tokens", "list", "ghost").returncode == 1


def test_tokens_revoke_by_id_by_user_or_by_the_token(settings, env):
    ok(env, "users", "create", "carol", "--password", "pw")
    ok(env, "users", "create", "dave", "--password", "pw")
    tokens = [json.loads(ok(env, "tokens", "create", "carol", "--json"))["token"] for _ in range(3)]
    dave = ok(env, "tokens", "create", "dave").strip()
    ids = [entry["id"] for entry in json.loads(ok(env, "tokens", "list", "carol", "--json"))]
    assert ok(env, "tokens", "revoke", "--id", ids[0]).strip() == "revoked"
    assert run(env, "tokens", "revoke", "--id", ids[0]).returncode == 1  # already revoked
    assert run(env, "tokens", "revoke", "--id", "999999").returncode == 1
    assert ok(env, "tokens", "revoke", tokens[1]).strip() == "revoked"
    assert ok(env, "tokens", "revoke", "--user", "carol").strip() == "revoked 1 token(s)"
    assert ok(env, "tokens", "revoke", "--user", "carol").strip() == "revoked 0 token(s)"
    assert json.loads(ok(env, "tokens", "list", "carol", "--json")) == []
    assert run(env, "tokens", "revoke", "--user", "ghost").returncode == 1

    async def alive(service: Service) -> str:
        return (await service.accounts.authenticate_token(dave)).username

    assert with_service(settings, alive) == "dave"


def test_tokens_revoke_takes_exactly_one_of_its_three_forms(env):
    for args in [(), ("tok", "--id", "1"), ("--id", "1", "--user", "carol"), ("tok", "--user", "carol")]:
        done = run(env, "tokens", "revoke", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr


def test_access_keys_create_json(settings, env):
    ok(env, "users", "create", "carol", "--password", "pw")
    key = json.loads(ok(env, "access-keys", "create", "carol", "--json"))
    assert set(key) == {"access_key", "secret_key", "project_id", "instance_id"}
    assert key["instance_id"] == settings.resolved_swr_instance_id  # the one in the data directory
    assert re.fullmatch(r"[A-Z0-9]{20}", key["access_key"]) and re.fullmatch(
        r"[0-9a-f]{32}", key["project_id"]
    )
    user, secret = with_service(
        settings, lambda service: service.accounts.access_key_secret(key["access_key"])
    )
    assert user.username == "carol" and secret == key["secret_key"]
    again = json.loads(ok(env, "access-keys", "create", "carol", "--json"))
    assert again["project_id"] == key["project_id"] and again["access_key"] != key["access_key"]
    assert again["instance_id"] == key["instance_id"]
    chosen = json.loads(
        ok({**env, "REPOHUB_SWR_INSTANCE_ID": "replicas-1"}, "access-keys", "create", "carol", "--json")
    )
    assert chosen["instance_id"] == "replicas-1"
    text = ok(env, "access-keys", "create", "carol")
    assert f"instance_id: {key['instance_id']}" in text.splitlines()


# -- registry config ------------------------------------------------------------------------------


def test_registry_config_prints_a_fragment_the_registry_can_use(tmp_path):
    """No database is touched; the key, the certificate and the events secret are made on first use."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("REPOHUB_")}
    environment.update(
        REPOHUB_DATA_DIR=str(tmp_path / "data"),
        REPOHUB_REGISTRY_KEY_PATH=str(tmp_path / "keys" / "token.key"),
        REPOHUB_REGISTRY_CERT_PATH="certs/token.crt",  # relative: the registry needs it absolute
        REPOHUB_REGISTRY_SERVICE="hub-registry",
        REPOHUB_REGISTRY_ISSUER="hub-issuer",
    )
    args = (
        "registry",
        "config",
        "--url",
        "https://hub.example.test/",
        "--registry-url",
        "http://127.0.0.1:5055",
    )
    done = run(environment, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)

    key, cert = tmp_path / "keys" / "token.key", tmp_path / "certs" / "token.crt"
    assert config["http"] == {"addr": "127.0.0.1:5055"}
    assert config["auth"]["token"] == {
        "realm": "https://hub.example.test/registry/token",
        "service": "hub-registry",
        "issuer": "hub-issuer",
        "rootcertbundle": str(cert),
    }
    (endpoint,) = config["notifications"]["endpoints"]
    assert endpoint["url"] == "https://hub.example.test/registry/events"
    secret = (tmp_path / "data" / "registry-events.secret").read_text().strip()
    assert endpoint["headers"] == {"Authorization": [f"Bearer {secret}"]} and len(secret) >= 32
    # The files exist, the certificate is a real one for the key, and the key is private.
    private_key = load_pem_private_key(key.read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    assert certificate.public_key().public_numbers() == private_key.public_key().public_numbers()
    assert key.stat().st_mode & 0o777 == 0o600

    # Run again (as a deploy script does on every start): same key, same secret, same output.
    again = run(environment, *args, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == done.stdout
    no_port = run(environment, "registry", "config", "--registry-url", "http://127.0.0.1", cwd=tmp_path)
    assert no_port.returncode == 1 and no_port.stderr.startswith("error: ")


# -- migrate and the admin bootstrap on a fresh database ------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request, tmp_path):
    """The environment of a machine that has never run repohub: a new database, no admin password."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'repohub.db'}" if request.param == "sqlite" else None
    environment = {key: value for key, value in os.environ.items() if not key.startswith("REPOHUB_")}
    environment.update(
        REPOHUB_DATABASE_URL=url or create_database(),
        REPOHUB_DATA_DIR=str(tmp_path / "data"),
        REPOHUB_SECRET_KEY="fresh-secret",
    )
    settings = Settings(
        database_url=environment["REPOHUB_DATABASE_URL"], data_dir=tmp_path / "data", _env_file=None
    )
    return environment, settings


def test_first_migrate_creates_the_admin_and_prints_the_password_once(fresh, tmp_path):
    environment, settings = fresh
    first = run(environment, "migrate", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    found = re.findall(r"created admin user 'admin' with password: (\S+)", first.stderr)
    assert len(found) == 1, first.stderr
    password = found[0]
    assert re.fullmatch(r"[A-Za-z0-9]{24}", password)  # `docker login -p PASSWORD` takes it as is
    assert password not in first.stdout  # stderr only, never in the data stream
    second = run(environment, "migrate", cwd=tmp_path)
    assert second.returncode == 0 and "password" not in second.stderr + second.stdout

    async def check(service: Service):
        admin = await service.accounts.authenticate_password("admin", password)
        return admin, await service.store.users.count()

    admin, users = with_service(settings, check)
    assert admin.is_admin is True and users == 1


def test_a_generated_password_never_starts_with_a_dash():
    # token_urlsafe's alphabet holds "-", and one in 64 of its passwords began with it; the
    # alphabet now has no character that a command line would read as an option.
    assert set(PASSWORD_ALPHABET) == set(string.ascii_letters + string.digits)
    drawn = [generate_password() for _ in range(2000)]
    assert all(re.fullmatch(r"[A-Za-z0-9]{24}", password) for password in drawn)
    assert len(set(drawn)) == len(drawn)


def test_a_chosen_admin_password_is_used_and_not_printed(fresh, tmp_path):
    environment, settings = fresh
    environment = {**environment, "REPOHUB_ADMIN_USERNAME": "chief", "REPOHUB_ADMIN_PASSWORD": "chosen-pw-1"}
    done = run(environment, "migrate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "chosen-pw-1" not in done.stderr + done.stdout and "password" not in done.stderr
    admin = with_service(
        settings, lambda service: service.accounts.authenticate_password("chief", "chosen-pw-1")
    )
    assert admin.is_admin is True


def test_no_admin_is_bootstrapped_when_users_exist(fresh, tmp_path):
    environment, settings = fresh
    assert run(environment, "migrate", cwd=tmp_path).returncode == 0
    # A second database where a user exists before the first migrate-with-bootstrap would be contrived;
    # instead: changing the admin name later must not create a second admin.
    again = run({**environment, "REPOHUB_ADMIN_USERNAME": "other"}, "migrate", cwd=tmp_path)
    assert again.returncode == 0 and "password" not in again.stderr
    assert with_service(settings, lambda service: service.store.users.count()) == 1


def test_migrate_fails_clearly_when_the_database_is_unreachable(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("REPOHUB_")}
    environment.update(
        REPOHUB_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:1/nothing",
        REPOHUB_DATA_DIR=str(tmp_path / "data"),
    )
    done = run(environment, "migrate", cwd=tmp_path)
    assert done.returncode != 0
