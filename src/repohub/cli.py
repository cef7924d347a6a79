"""The ``repohub`` command: serve, migrate, and manage accounts and credentials.

Scripts and tests depend on these command names and on the ``--json`` output shapes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

import typer
from pydantic import ValidationError

from repohub.auth.registry_token import registry_config_fragment
from repohub.auth.secrets import SecretBox
from repohub.config import Settings
from repohub.domain import quotas as quota_rules
from repohub.domain.entities import ROBOT_PREFIX, Robot, Role, TokenInfo
from repohub.domain.errors import DomainError
from repohub.domain.retention.runner import RunReport
from repohub.domain.retention.scheduler import ACTOR as RETENTION_ACTOR
from repohub.domain.robots import IssuedRobot
from repohub.domain.service import Service
from repohub.nginx import DEFAULT_STATE_DIR, Limits, ProxyConfigError, render
from repohub.observability import context
from repohub.registry.keys import registry_client, signing_key
from repohub.store import migrate as migrations
from repohub.store.counts import Drift, QuotaUse
from repohub.store.database import Database
from repohub.store.outbox import DeliveryInfo
from repohub.store.unit import Store
from repohub.store.webhooks import AttemptInfo

T = TypeVar("T")

app = typer.Typer(help="repohub: container-image repositories in three API dialects.", no_args_is_help=True)
users = typer.Typer(help="Manage users.", no_args_is_help=True)
orgs = typer.Typer(help="Manage organisations (namespaces of kind org).", no_args_is_help=True)
members = typer.Typer(help="Manage namespace memberships.", no_args_is_help=True)
tokens = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
access_keys = typer.Typer(help="Manage SWR access keys (AK/SK).", no_args_is_help=True)
robots = typer.Typer(
    help="Manage robot accounts: robot$<namespace>+<name>, pull and push on matching repositories.",
    no_args_is_help=True,
)
app.add_typer(users, name="users")
app.add_typer(orgs, name="orgs")
app.add_typer(members, name="members")
app.add_typer(tokens, name="tokens")
app.add_typer(access_keys, name="access-keys")
app.add_typer(robots, name="robots")
registry_cli = typer.Typer(help="Pair with a Distribution registry (tokens, events).", no_args_is_help=True)
app.add_typer(registry_cli, name="registry")
proxy_cli = typer.Typer(help="The nginx in front of repohub and the registry.", no_args_is_help=True)
app.add_typer(proxy_cli, name="proxy")

JsonFlag = Annotated[bool, typer.Option("--json", help="print machine-readable JSON")]


def _with_service(action: Callable[[Service], Awaitable[T]], *, actor: str | None = None) -> T:
    """Run one use case against the configured database and exit non-zero on a domain error.
    ``actor``: whom the audit trail names for the writes (source "cli"); none: the CLI itself."""
    settings = Settings()

    async def run() -> T:
        audit_actor = None
        if actor is not None:  # ``store.audit`` reads the request context
            context.begin(context.RequestContext(request_id=f"{actor}-cli", client="cli", user=actor))
            audit_actor = context.current
        # The pool and timeouts of Settings, as the server's; one use case needs no lone reader.
        database = await Database.open(settings, actor=audit_actor, lone_reads=False)
        registry = registry_client(settings)  # deletes and sync talk to the registry when it is set
        try:
            async with database.sessions() as session:
                box = SecretBox(settings.resolved_secret_key)
                service = Service(
                    Store(session), box, registry=registry, allow_private=settings.webhook_allow_private
                )
                return await action(service)
        finally:
            if registry is not None:
                await registry.aclose()
            await database.close()

    try:
        return asyncio.run(run())
    except DomainError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from error


def _print(payload: dict[str, str] | list[dict[str, str]], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(payload) if as_json else text)


def _migrate_and_bootstrap(settings: Settings) -> None:
    migrations.upgrade(settings.database_url)
    password = settings.admin_password.get_secret_value() if settings.admin_password else None
    generated = _with_service(
        lambda service: service.accounts.bootstrap_admin(settings.admin_username, password)
    )
    if generated:
        # Shown once, on stderr, so it never ends up in a pipe meant for data.
        print(
            f"repohub: created admin user {settings.admin_username!r} with password: {generated}",
            file=sys.stderr,
        )


@app.command()
def migrate() -> None:
    """Apply database migrations, then create the admin account if there is no user yet."""
    _migrate_and_bootstrap(Settings())
    typer.echo("database is at the newest schema")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to bind")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the HTTP API (migrates the embedded SQLite database itself)."""
    import uvicorn

    from repohub.observability import logs, metrics

    settings = Settings()
    if settings.is_sqlite:
        _migrate_and_bootstrap(settings)
    metrics.prepare_workers(workers, settings.data_dir / "prometheus")
    uvicorn.run(
        "repohub.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # repohub's own middleware applies X-Forwarded-* from trusted proxies
        server_header=False,
        timeout_graceful_shutdown=20,
        log_config=logs.log_config(settings.log_level),
        access_log=False,  # repohub.access logs each request as JSON instead
        # Workers import the app before answering the supervisor's first ping; on a busy small
        # machine that takes longer than uvicorn's 5 s default, and the worker would be killed.
        timeout_worker_healthcheck=30,
    )


@users.command("create")
def users_create(
    name: str,
    password: Annotated[str, typer.Option(help="the user's password")],
    email: Annotated[str | None, typer.Option(help="e-mail address")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="make a site admin")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a user and its personal namespace NAME."""
    user = _with_service(
        lambda service: service.accounts.create_user(name, password, email=email, is_admin=admin)
    )
    _print(
        {"id": str(user.id), "username": user.username}, as_json, f"created user {user.username} ({user.id})"
    )


@orgs.command("create")
def orgs_create(
    name: str,
    owner: Annotated[str | None, typer.Option(help="user who becomes the org's admin")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an organisation (a namespace); its id is ABEJA's organization_id."""
    namespace = _with_service(lambda service: service.accounts.create_org(name, owner=owner))
    _print(
        {"id": str(namespace.id), "name": namespace.name},
        as_json,
        f"created org {namespace.name} ({namespace.id})",
    )


@orgs.command("list")
def orgs_list(as_json: JsonFlag = False) -> None:
    """List organisations."""
    found = _with_service(lambda service: service.accounts.list_orgs())
    payload = [{"id": str(namespace.id), "name": namespace.name} for namespace in found]
    _print(payload, as_json, "\n".join(f"{item['id']}\t{item['name']}" for item in payload))


@members.command("add")
def members_add(
    namespace: str,
    user: str,
    role: Annotated[Role, typer.Option(help="admin, member or viewer")],
) -> None:
    """Give USER a role in NAMESPACE (or change it)."""
    _with_service(lambda service: service.accounts.add_member(namespace, user, role))
    typer.echo(f"{user} is {role} of {namespace}")


@tokens.command("create")
def tokens_create(
    user: str,
    as_json: JsonFlag = False,
    expires_in: Annotated[
        str | None,
        typer.Option("--expires-in", help="lifetime: 3600s, 90m, 12h, 30d; default none"),
    ] = None,
) -> None:
    """Create an API token for USER; it is shown once."""
    try:
        lifetime = parse_duration(expires_in) if expires_in is not None else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--expires-in") from error
    expires_at = datetime.now(UTC) + lifetime if lifetime is not None else None
    issued = _with_service(lambda service: service.accounts.create_token(user, expires_at=expires_at))
    payload = {"user_id": str(issued.user.id), "username": issued.user.username, "token": issued.token}
    if expires_at is not None:
        payload["expires_at"] = expires_at.isoformat()
    _print(payload, as_json, issued.token)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d`` (a bare number is seconds)."""
    match = re.fullmatch(r"\s*(\d{1,9})\s*([smhd]?)\s*", text)
    if match is None or int(match[1]) == 0:
        raise ValueError("use a positive number with s, m, h or d, e.g. 30d")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    return timedelta(seconds=int(match[1]) * unit)


@app.command()
def audit(
    since: Annotated[
        str | None, typer.Option(help="ISO time (2026-01-31T12:00:00Z) or an age such as 90m, 24h, 7d")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many entries")] = 1000,
    as_json: JsonFlag = False,
) -> None:
    """List the audit trail of writes (who, what, when, from where), oldest first."""
    try:
        moment = _since(since) if since is not None else None
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--since") from error
    entries = _with_service(lambda service: service.store.audit.since(moment, limit=limit))
    if as_json:
        typer.echo(json.dumps(entries))
        return
    for entry in entries:
        who = entry["actor"] or "-"
        typer.echo(f"{entry['at']}\t{who}\t{entry['source']}\t{entry['action']}\t{entry['target']}")


def _since(text: str) -> datetime:
    try:
        return datetime.now(UTC) - parse_duration(text)
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@tokens.command("list")
def tokens_list(user: str, as_json: JsonFlag = False) -> None:
    """List USER's live API tokens: id, kind (cli, login, docker-login), times; never the token."""
    found = _with_service(lambda service: service.accounts.list_tokens(user))
    payload = [_token_entry(info) for info in found]
    if as_json:
        typer.echo(json.dumps(payload))
        return
    columns = ("id", "kind", "created_at", "last_used_at", "expires_at", "parent_id")
    lines = ["\t".join(columns)] + ["\t".join(entry[key] or "-" for key in columns) for entry in payload]
    typer.echo("\n".join(lines))


def _token_entry(info: TokenInfo) -> dict[str, str | None]:
    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": str(info.id),
        "kind": info.kind,
        "created_at": info.created_at.isoformat(),
        "last_used_at": moment(info.last_used_at),
        "expires_at": moment(info.expires_at),
        "parent_id": str(info.parent_id) if info.parent_id is not None else None,
    }


@tokens.command("revoke")
def tokens_revoke(
    token: Annotated[str | None, typer.Argument(help="the token itself")] = None,
    token_id: Annotated[int | None, typer.Option("--id", min=1, help="the token's id (tokens list)")] = None,
    user: Annotated[str | None, typer.Option("--user", help="every token of this user")] = None,
) -> None:
    """Revoke an API token (by the token or its --id) or all of a --user's; derived tokens go too."""
    if sum(given is not None for given in (token, token_id, user)) != 1:
        raise typer.BadParameter("give exactly one of TOKEN, --id or --user")
    if user is not None:
        count = _with_service(lambda service: service.accounts.revoke_user_tokens(user))
        typer.echo(f"revoked {count} token(s)")
        return
    if token is not None:
        revoked = _with_service(lambda service: service.accounts.revoke_token(token))
    else:
        revoked = _with_service(lambda service: service.accounts.revoke_token_id(token_id or 0)) > 0
    if not revoked:
        typer.echo("error: no such live token", err=True)
        raise typer.Exit(code=1)
    typer.echo("revoked")


@access_keys.command("create")
def access_keys_create(user: str, as_json: JsonFlag = False) -> None:
    """Create an SWR access key pair for USER; the secret is shown once. With it: the project id and
    the enterprise-edition instance id that SWR's SDK calls name."""
    key = _with_service(lambda service: service.accounts.create_access_key(user))
    payload = {
        "access_key": key.access_key,
        "secret_key": key.secret_key,
        "project_id": key.project_id,
        "instance_id": Settings().resolved_swr_instance_id,
    }
    _print(payload, as_json, "\n".join(f"{name}: {value}" for name, value in payload.items()))


@robots.command("create")
def robots_create(
    namespace: str,
    name: str,
    access: Annotated[
        list[str],
        typer.Option(
            "--access",
            help="pull:PATTERN or push:PATTERN (push includes pull); a glob with * and ?; repeat it",
        ),
    ],
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="lifetime: 90d, 12h, 30m, or never (the default)")
    ] = None,
    description: Annotated[str, typer.Option(help="what the robot is for")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a robot account of NAMESPACE; its secret is shown once."""
    issued = _with_service(
        lambda service: service.robots.create(
            namespace, name, access, expires_in=expires_in, description=description
        )
    )
    _print_secret(issued, as_json)


@robots.command("list")
def robots_list(
    namespace: Annotated[str | None, typer.Argument(help="only this namespace's robots")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List robot accounts (disabled and expired ones too): name, access, state, times; never the secret."""
    found = _with_service(lambda service: service.robots.list(namespace))
    now = datetime.now(UTC)
    entries = [_robot_entry(robot, now) for robot in found]
    if as_json:
        typer.echo(json.dumps(entries))
        return
    lines = ["\t".join(("name", "access", "state", "expires_at", "created_at", "description"))]
    for entry in entries:
        access = ",".join(
            [f"pull:{item}" for item in entry["pull"]] + [f"push:{item}" for item in entry["push"]]
        )
        cells = (entry["name"], access, entry["state"], entry["expires_at"], entry["created_at"])
        lines.append("\t".join(_cell(cell) for cell in (*cells, entry["description"])))
    typer.echo("\n".join(lines))


def _robot_entry(robot: Robot, now: datetime) -> dict[str, Any]:
    expired = robot.expires_at is not None and robot.expires_at <= now
    return {
        "name": robot.username,
        "namespace": robot.namespace,
        "robot": robot.name,
        "pull": list(robot.pull),
        "push": list(robot.push),
        "description": robot.description,
        "state": "disabled" if robot.is_disabled else "expired" if expired else "active",
        "expires_at": robot.expires_at.isoformat() if robot.expires_at is not None else None,
        "created_at": robot.created_at.isoformat() if robot.created_at is not None else None,
    }


@robots.command("disable")
def robots_disable(namespace: str, name: str) -> None:
    """Disable a robot account: its secret stops working (this server at once, others within 5 s)."""
    robot = _with_service(lambda service: service.robots.set_disabled(namespace, name, True))
    typer.echo(f"disabled {robot.username}")


@robots.command("enable")
def robots_enable(namespace: str, name: str) -> None:
    """Enable a disabled robot account again (an expired one stays expired)."""
    robot = _with_service(lambda service: service.robots.set_disabled(namespace, name, False))
    typer.echo(f"enabled {robot.username}")


@robots.command("delete")
def robots_delete(namespace: str, name: str) -> None:
    """Delete a robot account and its access."""
    _with_service(lambda service: service.robots.delete(namespace, name))
    typer.echo(f"deleted {ROBOT_PREFIX}{namespace}+{name}")


@robots.command("rotate")
def robots_rotate(namespace: str, name: str, as_json: JsonFlag = False) -> None:
    """Give a robot account a new secret, shown once; the old one stops working."""
    _print_secret(_with_service(lambda service: service.robots.rotate(namespace, name)), as_json)


def _print_secret(issued: IssuedRobot, as_json: bool) -> None:
    expires_at = issued.robot.expires_at
    payload = {
        "name": issued.robot.username,
        "secret": issued.secret,
        "expires_at": expires_at.isoformat() if expires_at is not None else None,
    }
    if as_json:
        typer.echo(json.dumps(payload))
        return
    typer.echo(
        "\n".join(f"{key}: {value if value is not None else 'never'}" for key, value in payload.items())
    )


@registry_cli.command("config")
def registry_config(
    url: Annotated[
        str | None, typer.Option(help="repohub's URL for clients and the registry [REPOHUB_PUBLIC_URL]")
    ] = None,
    registry_url: Annotated[
        str | None, typer.Option(help="the registry's own URL: adds its http.addr to the fragment")
    ] = None,
) -> None:
    """Print the registry config.yml sections for repohub: auth.token and notifications.

    Creates the token signing key and certificate on first use; add storage (and http) yourself.
    """
    settings = Settings()
    base = (url or settings.public_url).rstrip("/")
    cert_path = settings.token_cert_path
    signing_key(settings)  # the certificate must exist before the registry reads it
    fragment = registry_config_fragment(
        realm=f"{base}/registry/token",
        service=settings.registry_service,
        issuer=settings.registry_issuer,
        cert_path=cert_path,
        events_url=f"{base}/registry/events",
        events_secret=settings.resolved_events_secret,
    )
    if registry_url:
        parsed = urlsplit(registry_url)
        if not parsed.hostname or not parsed.port:
            typer.echo("error: --registry-url needs a host and a port, e.g. http://127.0.0.1:5000", err=True)
            raise typer.Exit(code=1)
        fragment = f"http:\n  addr: {parsed.hostname}:{parsed.port}\n" + fragment
    typer.echo(fragment, nl=False)


@proxy_cli.command("config")
def proxy_config(
    listen: Annotated[str, typer.Option(help="where nginx listens: PORT or ADDRESS:PORT")],
    repohub: Annotated[
        list[str], typer.Option(help="a repohub replica, http://HOST:PORT (repeat it, or commas)")
    ],
    registry: Annotated[str, typer.Option(help="the Distribution registry, http://HOST:PORT")],
    state_dir: Annotated[
        str, typer.Option(help="nginx's logs, pid and temporary files (nginx creates it)")
    ] = DEFAULT_STATE_DIR,
) -> None:
    """Print the whole nginx.conf (run it with `nginx -c FILE`): the dialects' routes, the registry
    under /v2/, and repohub's push check on every manifest PUT and DELETE (immutable tags)."""
    try:
        settings = Settings()  # the app's own per-client limits, now per address across processes
        limits = Limits(settings.login_rate_per_client, settings.token_rate_per_client)
        text = render(listen=listen, repohub=repohub, registry=[registry], state_dir=state_dir, limits=limits)
    except ValidationError as error:  # a setting's own message, never a traceback of the settings
        typer.echo(f"error: {error.errors(include_url=False, include_input=False)}", err=True)
        raise typer.Exit(code=2) from None
    except ProxyConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(text, nl=False)


@registry_cli.command("sync")
def registry_sync(
    as_json: JsonFlag = False,
    allow_empty: Annotated[
        bool, typer.Option("--allow-empty", help="prune every tag even if the registry lists no repository")
    ] = False,
) -> None:
    """Make the catalogue's tags match the registry's (REPOHUB_REGISTRY_URL) and report what changed,
    and the immutable tags the registry disagrees about (reported, never changed)."""
    report = _with_service(lambda service: service.registry.sync(allow_empty=allow_empty))
    changes = {
        "created_repositories": report.created_repositories,
        "added_tags": report.added_tags,
        "moved_tags": report.moved_tags,
        "removed_tags": report.removed_tags,
        "skipped": report.skipped,
    }
    # Protected tags the registry disagrees about: reported, left as the catalogue recorded them.
    immutable = report.immutable
    if as_json:
        typer.echo(json.dumps({**changes, "immutable": [item.as_json() for item in immutable]}))
        return
    labels = {
        "created_repositories": "created repository",
        "added_tags": "added tag",
        "moved_tags": "moved tag",
        "removed_tags": "removed tag",
        "skipped": "skipped",
    }
    lines = [f"{labels[key]} {item}" for key, items in changes.items() for item in items]
    lines += [f"immutable tag disagrees, left as it is: {item}" for item in immutable]
    typer.echo("\n".join(lines) if lines else "catalogue already matches the registry")


retention_cli = typer.Typer(help="Apply retention policies (SWR's aging rules).", no_args_is_help=True)
app.add_typer(retention_cli, name="retention")


@retention_cli.command("run")
def retention_run(
    namespace: Annotated[str | None, typer.Option(help="only this namespace's policies")] = None,
    repository: Annotated[str | None, typer.Option(help="only this repository's (needs --namespace)")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="report what would be deleted, change nothing")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Apply the retention policies now (the same runner as the schedule) and print what was deleted.

    It returns once the catalogue shows the result: the run writes the catalogue itself. It does not
    take the schedule's claim; if a scheduled run works on the same repository at the same moment,
    both ask the registry to delete the same tags and the second finds them absent (counted as
    deleted, so the catalogue's tags go either way; such a tag may appear twice in the history).
    A repository whose registry calls fail is reported on stderr and the exit code is 1; nothing of
    it is deleted from the catalogue, and the next run tries again.
    """
    if repository is not None and namespace is None:
        raise typer.BadParameter("--repository needs --namespace", param_hint="--repository")
    # Audited as the actor "retention", from the source "cli".
    report = _with_service(
        lambda service: service.retention_runner().run(
            namespace=namespace, repository=repository, dry_run=dry_run
        ),
        actor=RETENTION_ACTOR,
    )
    if as_json:
        typer.echo(json.dumps(report.as_json()))
    else:
        typer.echo(_retention_text(report))
    for failed in report.failed:
        typer.echo(f"error: {failed.path}: {failed.error}", err=True)
    if report.failed:
        raise typer.Exit(code=1)


def _retention_text(report: RunReport) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    lines: list[str] = []
    for item in report.repositories:
        lines.extend(f"{verb} {item.path}:{tag.name} ({tag.rule})" for tag in item.deleted)
        lines.extend(f"skipped {item.path}:{tag} (moved in the registry since)" for tag in item.skipped)
        lines.extend(f"kept {item.path}:{tag.name} ({tag.rule}; {tag.reason})" for tag in item.kept)
    if not lines:
        lines.append(f"nothing to delete ({report.policies} policies applied)")
    return "\n".join(lines)


hooks_cli = typer.Typer(help="Webhooks: what their deliveries came to.", no_args_is_help=True)
app.add_typer(hooks_cli, name="hooks")
_DELIVERY_COLUMNS = ("delivery_id", "hook_id", "namespace", "action", "state", "attempts", "last_status")


# What a text cell may not hold raw: line and column breaks (each of Python's ``splitlines`` breaks
# too), other control characters, and the backslash that escapes them. Error texts come from the
# network and may hold any of them.
_CELL_ESCAPES: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, 0x85)},
    0x2028: "\\u2028",
    0x2029: "\\u2029",
    ord("\\"): "\\\\",
    ord("\t"): "\\t",
    ord("\n"): "\\n",
    ord("\r"): "\\r",
}


@hooks_cli.command("deliveries")
def hooks_deliveries(
    failed: Annotated[bool, typer.Option("--failed", help="only deliveries given up on")] = False,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="at most this many entries")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List webhook deliveries, newest first: their state, attempts so far, the last attempt's status
    (the receiver's HTTP status code, or the error), when the next attempt is due; then each attempt,
    oldest first, on an indented line: its status, status text, response code, duration and time.
    Tabs, line breaks and other control characters in a text are printed escaped (``\\t``, ``\\n``)."""
    found, attempts = _with_service(lambda service: _deliveries(service.store, failed, limit))
    if as_json:
        entries = [_delivery_entry(item, attempts.get(item.delivery_id, [])) for item in found]
        typer.echo(json.dumps(entries))
        return
    typer.echo("\n".join(_deliveries_text(found, attempts)))


async def _deliveries(
    store: Store, failed: bool, limit: int
) -> tuple[list[DeliveryInfo], dict[str, list[AttemptInfo]]]:
    found = await store.outbox.recent(failed_only=failed, limit=limit)
    return found, await store.webhooks.attempts_of([item.delivery_id for item in found])


def _delivery_entry(item: DeliveryInfo, attempts: list[AttemptInfo]) -> dict[str, object]:
    return {
        "delivery_id": item.delivery_id,
        "hook_id": item.hook_id,
        "namespace": item.namespace,
        "url": item.url,
        "action": item.action,
        "state": item.state,
        "attempts": [_attempt_entry(attempt) for attempt in attempts],
        "last_status": item.last_status,
        "next_attempt_at": item.next_attempt_at.isoformat(),
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


def _attempt_entry(attempt: AttemptInfo) -> dict[str, object]:
    return {
        "status": attempt.status,
        "status_text": attempt.status_text,
        "response_code": attempt.response_code,
        "duration_ms": attempt.duration_ms,
        "at": attempt.at.isoformat(),
    }


def _deliveries_text(found: list[DeliveryInfo], attempts: dict[str, list[AttemptInfo]]) -> list[str]:
    """The header, then each delivery's line (``attempts`` its count) followed by an indented line
    per attempt: ``  attempt N``, status, status text, response code, duration, time."""
    columns = (*_DELIVERY_COLUMNS, "next_attempt_at", "updated_at")
    lines = ["\t".join(columns)]
    for item in found:
        entry = {**_delivery_entry(item, []), "attempts": item.attempts}
        lines.append("\t".join(_cell(entry[key]) for key in columns))
        for number, attempt in enumerate(attempts.get(item.delivery_id, []), start=1):
            cells = (attempt.status, attempt.status_text, attempt.response_code)
            tail = f"{attempt.duration_ms} ms\t{attempt.at.isoformat()}"
            lines.append(f"  attempt {number}\t" + "\t".join(map(_cell, cells)) + "\t" + tail)
    return lines


def _cell(value: object) -> str:
    """A value as one text cell: escaped (``_CELL_ESCAPES``), ``-`` for nothing."""
    text = "" if value is None else str(value)
    return text.translate(_CELL_ESCAPES) if text else "-"


counts_cli = typer.Typer(
    help="The counts kept per namespace (repositories, tags, size).", no_args_is_help=True
)
app.add_typer(counts_cli, name="counts")
quotas_cli = typer.Typer(
    help="Namespace quotas: how many repositories a namespace may hold.", no_args_is_help=True
)
app.add_typer(quotas_cli, name="quotas")


@counts_cli.command("check")
def counts_check(
    fix: Annotated[bool, typer.Option("--fix", help="replace the kept counts with the recount")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Recount every namespace's repositories, public repositories, tags and size from the rows and
    print where the kept counts differ (namespace, field, kept, actual). Exit status 1 when
    they differ and --fix was not given; with --fix they are repaired in one transaction."""
    found = _with_service(lambda service: quota_rules.check_counts(service.store, fix=fix))
    if as_json:
        typer.echo(
            json.dumps({"drift": [_drift_entry(item) for item in found], "fixed": fix and bool(found)})
        )
    else:
        typer.echo("\n".join(_drift_text(found, fix)))
    if found and not fix:
        raise typer.Exit(code=1)


def _drift_entry(item: Drift) -> dict[str, object]:
    return {
        "namespace": item.namespace,
        "field": item.field,
        "kept": item.kept,
        "actual": item.actual,
    }


def _drift_text(found: list[Drift], fix: bool) -> list[str]:
    if not found:
        return ["counts match the rows"]
    lines = ["\t".join(("namespace", "field", "kept", "actual"))]
    lines += [
        "\t".join((_cell(item.namespace), item.field, str(item.kept), str(item.actual))) for item in found
    ]
    lines.append(
        f"fixed {len(found)} count(s)" if fix else f"{len(found)} count(s) drifted; --fix repairs them"
    )
    return lines


@quotas_cli.command("set")
def quotas_set(
    namespace: str,
    repositories: Annotated[
        int | None, typer.Option(min=-1, help="repositories the namespace may hold; -1: no limit")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove the limit")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Limit how many repositories NAMESPACE may hold: creates beyond it are refused in every dialect,
    and the registry token grants no push of a new repository. Existing ones are never deleted."""
    if (repositories is None) == (not clear):
        raise typer.BadParameter("give exactly one of --repositories N or --clear")
    limit = None if clear else repositories
    use = _with_service(lambda service: quota_rules.set_repository_quota(service.store, namespace, limit))
    _print_quotas([use], as_json)


@quotas_cli.command("show")
def quotas_show(
    namespace: Annotated[str | None, typer.Argument(help="only this namespace")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show each namespace's repository limit (-1: none) and how many it holds."""
    found = _with_service(lambda service: quota_rules.show_quotas(service.store, namespace))
    _print_quotas(found, as_json)


def _print_quotas(found: list[QuotaUse], as_json: bool) -> None:
    entries = [
        {
            "namespace": use.namespace,
            "quota_key": use.quota_key,
            "quota_limit": use.limit if use.limit is not None else quota_rules.NO_LIMIT,
            "used": use.used,
        }
        for use in found
    ]
    if as_json:
        typer.echo(json.dumps(entries))
        return
    lines = ["\t".join(("namespace", "quota_key", "quota_limit", "used"))]
    lines += [
        "\t".join(_cell(entry[key]) for key in ("namespace", "quota_key", "quota_limit", "used"))
        for entry in entries
    ]
    typer.echo("\n".join(lines))
