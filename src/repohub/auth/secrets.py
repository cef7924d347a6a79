"""Hashing and encryption of secrets: argon2 for passwords, SHA-256 for tokens, Fernet for AK secrets."""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

_hasher = PasswordHasher()
TOKEN_BYTES = 32
# Tokens carry a prefix so secret scanners can spot them and so one never begins with "-", which
# a command line would take for an option (`repohub tokens revoke TOKEN`).
TOKEN_PREFIX = "rh_"
# A robot account's secret has a prefix of its own: whoever is handed a token tells a robot's secret
# from an API token by it (``AccountService.principal_of_token``), so each costs one lookup, never two.
ROBOT_SECRET_PREFIX = "rbt_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash to check (no such user, or one without a password)
    it is checked against a stand-in hash all the same, so that the answer takes as long either way
    and its time does not tell whether the user exists."""
    matched = _matches(password_hash or stand_in_hash(), password)
    return matched and bool(password_hash)


@functools.cache
def stand_in_hash() -> str:
    """The hash of a random password no one knows, made by the same hasher (so of the same cost as
    real ones). Made once per process, on first use or ahead of it (``app`` makes it at start)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A random API token. High entropy, so a fast hash (not argon2) is safe for storing it."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_robot_secret() -> str:
    """A robot account's secret: as random as an API token, and stored the same way (its digest)."""
    return ROBOT_SECRET_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def is_robot_secret(token: str) -> bool:
    return token.startswith(ROBOT_SECRET_PREFIX)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_access_key() -> tuple[str, str]:
    access_key = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(20))
    return access_key, secrets.token_urlsafe(30)


PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 24  # 24 × log2(62) ≈ 143 bits


def generate_password() -> str:
    """The first admin's password. Letters and digits only: token_urlsafe could begin with "-",
    which `docker login -p ...` would take for an option, and nothing here needs shell quoting."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


class SecretBox:
    """Symmetric encryption of stored secrets with a key derived from the server's secret key."""

    def __init__(self, server_key: str) -> None:
        digest = hashlib.sha256(b"repohub-secret-box\0" + server_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str | None:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None
