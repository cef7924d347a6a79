"""Account use cases: users, organisations, memberships, credentials, authentication.

SWR's long-term credentials are API tokens of origin ``long-term`` (``store.accounts.LONG_TERM``)
that never expire: a docker-login password (the owner's username with it) and an API token of its
owner in every dialect, until deleted (or revoked with all its owner's tokens), not while disabled.
Like a derived token, one mints nothing further (no docker-login token, no other long-term
credential): a stolen one cannot outlive its deletion. Only its owner, or a site admin, lists,
disables, enables or deletes one; to anyone else it is missing.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from functools import partial

from repohub.auth.secrets import (
    SecretBox,
    generate_password,
    hash_password,
    is_robot_secret,
    new_access_key,
    new_token,
    token_digest,
    verify_password,
)
from repohub.defaults import LOGIN_TOKEN_TTL
from repohub.domain import roles
from repohub.domain.clock import utcnow
from repohub.domain.entities import (
    AccessKey,
    Credential,
    IssuedToken,
    LongTermCredential,
    Membership,
    Namespace,
    NamespaceKind,
    Page,
    Principal,
    Robot,
    Role,
    TokenInfo,
    User,
)
from repohub.domain.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from repohub.domain.names import validate_namespace_name
from repohub.domain.namespaces import create_organisation
from repohub.domain.password_budget import PasswordBudget
from repohub.observability.metrics import TOKENS_ISSUED
from repohub.store.accounts import LONG_TERM
from repohub.store.unit import Store

TOKEN = "token"
ACCESS_KEY = "access_key"
MAX_PASSWORD = 1024
# What every wrong password (and every wrong robot login) gets, word for word.
WRONG_PASSWORD = "invalid username or password"
WRONG_TOKEN = "invalid or expired token"
# A token's last use is written when the recorded one is at least this old: at most one write per
# minute per token, and only on the path that looks the token up (not when it is remembered).
LAST_USE_RESOLUTION = timedelta(minutes=1)
# SWR's rule for a long-term credential's name: 1-64 lowercase letters and digits, single periods,
# underscores or hyphens between them.
LONG_TERM_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
MAX_LONG_TERM_NAME = 64
# Live long-term credentials a user may hold at once: repohub's bound (each is a row, and a user
# scripting creations should meet a 400 rather than fill the table).
MAX_LONG_TERM = 100


def project_id_for(user: User) -> str:
    """SWR's project id for a user: stable, derived, nothing to store."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"repohub:user:{user.id}").hex


class AccountService:
    def __init__(
        self,
        store: Store,
        secret_box: SecretBox,
        password_budget: PasswordBudget | None = None,
        *,
        login_token_ttl: timedelta | None = LOGIN_TOKEN_TTL,
    ) -> None:
        """``login_token_ttl``: how long a password login's token lives (None: until revoked)."""
        self._store = store
        self._box = secret_box
        # The app's budget of failed password checks per user; none given (the CLI): no limit.
        self._budget = password_budget or PasswordBudget(0)
        self._login_ttl = login_token_ttl

    # -- authentication -------------------------------------------------------------------------
    async def authenticate_password(self, username: str, password: str) -> User:
        """The user whose password this is; every endpoint that takes a password checks it here, so
        each check is counted against the user's budget of failures (``domain.password_budget``)."""
        charge = self._budget.charge(username)
        failed = False
        try:
            user = await self._password_user(username, password)
            failed = user is None
        finally:
            if not failed:  # right, or not checked at all (the database failed): no guess was made
                self._budget.refund(charge)
        if user is None:
            raise NotAuthenticated(WRONG_PASSWORD)
        return user

    async def _password_user(self, username: str, password: str) -> User | None:
        if len(password) > MAX_PASSWORD:
            return None
        user = await self._store.users.by_username(username)
        stored = await self._store.users.password_hash(user.id) if user is not None else None
        # argon2 is deliberately slow: off the event loop, so other requests keep flowing meanwhile.
        # Without a user (or a hash) it is still run, against a stand-in: the same time either way.
        matched = await asyncio.to_thread(verify_password, stored, password)
        return user if matched else None

    async def authenticate_token(self, token: str, *, now: datetime | None = None) -> User:
        """The token's user; a token verified in the last few seconds is not looked up again."""
        return (await self.verify_token(token, now=now)).user

    async def verify_token(self, token: str, *, now: datetime | None = None) -> Credential:
        """The live API token ``token`` is (see ``authenticate_token``)."""
        digest, moment = token_digest(token), now or utcnow()
        remembered = self._store.memory.verified_tokens.get(digest, moment)
        if remembered is not None:
            return remembered
        found = await self._store.credentials.token(digest, now=moment)
        if found is None:
            raise NotAuthenticated(WRONG_TOKEN)
        credential, last_used = found
        if last_used is None or moment - last_used >= LAST_USE_RESOLUTION:
            await self._store.credentials.touch(credential.id, moment)
            await self._store.commit_bookkeeping()
        self._store.memory.verified_tokens.put(digest, credential)
        return credential

    async def principal_of_token(self, token: str, *, now: datetime | None = None) -> Principal:
        """The caller a token names, in every dialect that takes one (v1 ``Token``, ABEJA ``Bearer``,
        SWR ``X-Auth-Token``, the registry's Bearer): a robot account for a robot's secret, told by
        its prefix (so either costs one lookup), else the user of the API token. A robot's secret
        that is wrong, disabled or expired gets what a wrong token gets."""
        if is_robot_secret(token):
            return Principal(robot=await self.verify_robot(token, now=now), via="robot")
        credential = await self.verify_token(token, now=now)
        return Principal(credential.user, via="token", credential=credential)

    async def verify_robot(self, secret: str, *, now: datetime | None = None) -> Robot:
        """The live robot (neither disabled nor expired) whose secret this is; one verified in the last
        few seconds is not looked up again (``domain.verified``: a robot disabled, rotated or deleted
        in this process is forgotten at once, elsewhere within its TTL)."""
        digest, moment = token_digest(secret), now or utcnow()
        remembered = self._store.memory.verified_robots.get(digest, moment)
        if remembered is not None:
            return remembered
        robot = await self._store.robots.live(digest, now=moment)
        if robot is None:
            raise NotAuthenticated(WRONG_TOKEN)
        self._store.memory.verified_robots.put(digest, robot)
        return robot

    async def robot_login(self, username: str, secret: str) -> Principal:
        """A robot's login with its name and secret (the registry's Basic ``robot$<namespace>+<name>``):
        the secret must be that robot's. Whatever is wrong (the secret, the name, a robot disabled,
        expired or unknown) gets what a wrong password gets. No password budget is charged: a robot's
        secret is a random 256 bits, not a guessable password."""
        try:
            robot = await self.verify_robot(secret) if is_robot_secret(secret) else None
        except NotAuthenticated:
            robot = None
        if robot is None or robot.username != username:
            raise NotAuthenticated(WRONG_PASSWORD)
        return Principal(robot=robot, via="robot")

    async def access_key_secret(self, access_key: str) -> tuple[User, str]:
        """The user and plaintext secret of an access key, for verifying a request signature."""
        credential, secret = await self.access_key(access_key)
        return credential.user, secret

    async def access_key(self, access_key: str) -> tuple[Credential, str]:
        """The live access key and its plaintext secret."""
        found = await self._store.credentials.access_key(access_key, now=utcnow())
        secret = self._box.open(found[1]) if found and found[1] else None
        if found is None or secret is None:
            raise NotAuthenticated("unknown access key")
        return found[0], secret

    # -- users and organisations ----------------------------------------------------------------
    async def create_user(
        self, username: str, password: str, *, email: str | None = None, is_admin: bool = False
    ) -> User:
        """A user and its personal namespace of the same name, of which it is the admin."""
        validate_namespace_name(username, field="username")
        if not password or len(password) > MAX_PASSWORD:
            raise InvalidInput(f"password must be 1 to {MAX_PASSWORD} characters", field="password")
        if email is not None and ("@" not in email or len(email) > 254 or "\x00" in email):
            raise InvalidInput("email must be an address like name@example.com", field="email")
        if await self._store.namespaces.by_name(username) is not None:
            raise Conflict(f"the name {username!r} is taken")
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self._store.transaction(conflict=f"the name {username!r} is taken"):
            user = await self._store.users.add(
                username=username, email=email, password_hash=password_hash, is_admin=is_admin
            )
            namespace = await self._store.namespaces.add(
                name=username, kind=NamespaceKind.USER, creator_id=user.id
            )
            await self._store.namespaces.set_member(namespace.id, user.id, Role.ADMIN)
        return user

    async def bootstrap_admin(self, username: str, password: str | None) -> str | None:
        """Create the site admin when there is no user yet; returns the password if it was generated."""
        if await self._store.users.count() > 0:
            return None
        generated = password is None
        chosen = generate_password() if password is None else password
        try:
            await self.create_user(username, chosen, is_admin=True)
        except Conflict:
            return None  # another process bootstrapped it first
        return chosen if generated else None

    async def user(self, username: str) -> User:
        user = await self._store.users.by_username(username)
        if user is None:
            raise NotFound(f"user {username!r} not found")
        return user

    async def create_org(self, name: str, *, owner: str | None = None) -> Namespace:
        """An organisation, owned (as admin) by the user named ``owner`` if given: the CLI's way to
        ``namespaces.create_organisation``. The name is checked before the owner is looked up, as the
        CLI always did (a bad name and a missing owner together are a bad name)."""
        validate_namespace_name(name)
        owner_user = await self.user(owner) if owner else None
        return await create_organisation(self._store, name, owner_user)

    async def list_orgs(self) -> list[Namespace]:
        return await self._store.namespaces.list(kind=NamespaceKind.ORG)

    async def add_member(self, namespace: str, username: str, role: Role) -> Membership:
        found = await self._store.namespaces.by_name(namespace)
        if found is None:
            raise NotFound(f"namespace {namespace!r} not found")
        user = await self.user(username)
        async with self._store.transaction():
            await self._store.namespaces.set_member(found.id, user.id, role)
        return Membership(namespace_id=found.id, user=user, role=role)

    # -- credentials ----------------------------------------------------------------------------
    async def create_token(
        self, username: str, *, description: str = "", expires_at: datetime | None = None
    ) -> IssuedToken:
        user = await self.user(username)
        return await self._issue_token(user, description=description, expires_at=expires_at)

    async def login(self, username: str, password: str) -> IssuedToken:
        """Password login that hands out a fresh API token (v1's generate-api-token)."""
        user = await self.authenticate_password(username, password)
        expires_at = utcnow() + self._login_ttl if self._login_ttl is not None else None
        return await self._issue_token(user, description="login", expires_at=expires_at, origin="login")

    async def derive_token(
        self, parent: Credential, *, lifetime: timedelta, description: str, origin: str
    ) -> tuple[IssuedToken, datetime]:
        """A token minted from ``parent`` and its expiry: within ``lifetime`` (and the login token
        lifetime, when there is one), never after its parent; revoking the parent revokes it. A
        derived token mints nothing further: a stolen one cannot be stretched past its parent's end
        or handed on as fresh credentials."""
        _check_mints(parent)
        expires_at = utcnow() + min(lifetime, self._login_ttl or lifetime)
        if parent.expires_at is not None:
            expires_at = min(expires_at, parent.expires_at)
        issued = await self._issue_token(
            parent.user, description=description, expires_at=expires_at, origin=origin, parent_id=parent.id
        )
        return issued, expires_at

    async def _issue_token(
        self,
        user: User,
        *,
        description: str,
        expires_at: datetime | None = None,
        origin: str = "cli",
        parent_id: int | None = None,
    ) -> IssuedToken:
        token = new_token()
        async with self._store.transaction():
            await self._store.credentials.add(
                user_id=user.id,
                kind=TOKEN,
                lookup=token_digest(token),
                description=description,
                expires_at=expires_at,
                origin=origin,
                parent_id=parent_id,
            )
        TOKENS_ISSUED.labels("api").inc()
        return IssuedToken(user=user, token=token, expires_at=expires_at)

    async def list_tokens(self, username: str) -> list[TokenInfo]:
        """The user's live API tokens (neither revoked nor expired), oldest first."""
        user = await self.user(username)
        return await self._store.credentials.tokens_of(user.id, now=utcnow())

    async def revoke_token(self, token: str) -> bool:
        """Revoke a token given in plaintext, and the tokens derived from it; False if it was not live."""
        return await self._revoked(partial(self._store.credentials.revoke_token, token_digest(token))) > 0

    async def revoke_token_id(self, token_id: int) -> int:
        """Revoke the token of this id and those derived from it; how many were revoked."""
        return await self._revoked(partial(self._store.credentials.revoke_token_id, token_id))

    async def revoke_user_tokens(self, username: str) -> int:
        """Revoke every live token of the user (derived ones included); how many were revoked."""
        user = await self.user(username)
        return await self._revoked(partial(self._store.credentials.revoke_tokens_of, user.id))

    async def _revoked(self, revoke: Callable[[], Awaitable[list[str]]]) -> int:
        async with self._store.transaction():
            digests = await revoke()
        self._forget(digests)
        return len(digests)

    def _forget(self, digests: Iterable[str]) -> None:
        """This process stops accepting the revoked tokens at once; other processes within the
        verified memory's TTL (``domain.verified``)."""
        verified = self._store.memory.verified_tokens
        for digest in digests:
            verified.forget(digest)

    async def create_access_key(self, username: str) -> AccessKey:
        user = await self.user(username)
        access_key, secret_key = new_access_key()
        async with self._store.transaction():
            await self._store.credentials.add(
                user_id=user.id,
                kind=ACCESS_KEY,
                lookup=access_key,
                encrypted_secret=self._box.seal(secret_key),
            )
        return AccessKey(
            user=user, access_key=access_key, secret_key=secret_key, project_id=project_id_for(user)
        )

    # -- SWR's long-term credentials (module doc) ------------------------------------------------
    async def create_long_term(self, principal: Principal, name: str) -> tuple[LongTermCredential, str]:
        """A long-term credential of the caller named ``name`` and its token (shown this once)."""
        credential = _minting(principal)
        if len(name) > MAX_LONG_TERM_NAME or not LONG_TERM_NAME.fullmatch(name):
            raise InvalidInput(
                f"name must be 1 to {MAX_LONG_TERM_NAME} lowercase letters, digits and single '.', '_'"
                " or '-' between them",
                field="name",
            )
        user, token = credential.user, new_token()
        async with self._store.transaction():
            if not await self._store.users.lock(user.id):
                raise NotAuthenticated("the caller no longer exists")
            names = await self._store.credentials.long_term_names(user.id)
            if name in names:
                raise Conflict(f"a long-term credential named {name!r} exists")
            if len(names) >= MAX_LONG_TERM:
                raise InvalidInput(f"at most {MAX_LONG_TERM} long-term credentials per user", field="name")
            credential_id = await self._store.credentials.add(
                user_id=user.id, kind=TOKEN, lookup=token_digest(token), description=name, origin=LONG_TERM
            )
            created = await self._store.credentials.long_term(credential_id)
        assert created is not None  # written by this transaction
        TOKENS_ISSUED.labels("api").inc()
        return created, token

    async def long_term_credentials(
        self, principal: Principal, *, everyone: bool, offset: int, limit: int
    ) -> Page[LongTermCredential]:
        """The caller's long-term credentials, newest first; ``everyone``: a site admin's view of all
        users' (anyone else still gets its own)."""
        user = _signed_in(principal)
        owner = None if everyone and principal.is_admin else user.id
        return await self._store.credentials.long_term_page(owner, offset, limit)

    async def enable_long_term(self, principal: Principal, credential_id: int, enabled: bool) -> None:
        """Enable or disable one; disabled, it authenticates nothing (this process forgets it at once,
        another within the verified memory's TTL, as for a revocation)."""
        found = await self._managed(principal, credential_id)
        async with self._store.transaction():
            lookup = await self._store.credentials.set_disabled(found.id, None if enabled else utcnow())
            if lookup is None:  # deleted since it was read
                raise _no_long_term(credential_id)
        if not enabled:
            self._forget([lookup])

    async def delete_long_term(self, principal: Principal, credential_id: int) -> None:
        """Delete one: it authenticates nothing from now on (``enable_long_term``'s timing)."""
        found = await self._managed(principal, credential_id)
        async with self._store.transaction():
            lookup = await self._store.credentials.delete_long_term(found.id)
            if lookup is None:  # deleted since it was read
                raise _no_long_term(credential_id)
        self._forget([lookup])

    async def _managed(self, principal: Principal, credential_id: int) -> LongTermCredential:
        """The long-term credential, if the caller may manage it: its owner or a site admin. To anyone
        else it is missing, as an unknown id is (ids are no oracle)."""
        user = _signed_in(principal)
        found = await self._store.credentials.long_term(credential_id)
        if found is None or not (principal.is_admin or found.user.id == user.id):
            raise _no_long_term(credential_id)
        return found


def _signed_in(principal: Principal) -> User:
    """The caller, managing its long-term credentials: a robot account holds none, and a derived or
    long-term credential manages none (403), or a leaked CI password could bring back a credential
    its owner switched off. Signed with an access key, the caller has no credential to ask of."""
    user = roles.user_of(principal, "hold long-term credentials")
    if principal.credential is not None:
        _check_mints(principal.credential)
    return user


def _minting(principal: Principal) -> Credential:
    """The credential a new one is minted from: the caller's own token or access key. A robot
    account mints nothing (403): its own secret is what it logs in with."""
    roles.user_of(principal, "mint credentials")
    credential = principal.credential
    if principal.user is None or credential is None:
        raise NotAuthenticated("an API token or an access key is required to create a credential")
    _check_mints(credential)
    return credential


def _check_mints(credential: Credential) -> None:
    """A derived or a long-term credential mints nothing (module doc, ``derive_token``)."""
    if credential.is_derived or credential.origin == LONG_TERM:
        raise PermissionDenied("a derived or long-term credential cannot mint further credentials")


def _no_long_term(credential_id: int) -> NotFound:
    return NotFound(f"long-term credential {credential_id} not found")
