"""Bearer tokens for the CNCF Distribution registry (Debian ``docker-registry`` 2.8).

The registry delegates auth to us (``auth.token`` in its config): it trusts the public key
of the certificate listed in ``rootcertbundle`` and looks it up by the JWT header ``kid``,
which must be the *libtrust* key id of that key. Everything here is pure: no framework,
no I/O beyond the key/cert files in :func:`load_or_create_signing_key`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import orjson
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from cryptography.x509.oid import NameOID

from repohub.private_files import private_dir

__all__ = [
    "CERT_COMMON_NAME",
    "NBF_SKEW_SECONDS",
    "Scope",
    "SigningKey",
    "TokenClaims",
    "TokenResponse",
    "issue_token",
    "libtrust_key_id",
    "load_or_create_signing_key",
    "merge_scopes",
    "parse_scope",
    "registry_config_fragment",
    "sign_jws",
    "token_claims",
]

CERT_COMMON_NAME = "repohub token signer"
CERT_VALIDITY = dt.timedelta(days=3650)
# Backdate nbf a little so a verifier whose clock lags ours still accepts a fresh token.
NBF_SKEW_SECONDS = 5


# --------------------------------------------------------------------------- key material


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The token signer: P-256 private key, its self-signed certificate and libtrust key id.

    ``kid`` is computed once at load time so signing never re-derives it.
    """

    private_key: ec.EllipticCurvePrivateKey = field(repr=False)
    cert_pem: bytes = field(repr=False)
    kid: str
    # The JWS header is the same for every token this key signs: encoded once, base64url.
    header_segment: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        header = orjson.dumps({"alg": "ES256", "kid": self.kid, "typ": "JWT"})
        object.__setattr__(self, "header_segment", _base64url(header))


def libtrust_key_id(public_key: PublicKeyTypes) -> str:
    """Return the libtrust key id the registry uses to look up ``kid``.

    SHA-256 of the DER SubjectPublicKeyInfo, first 30 bytes, base32 without padding,
    in 12 colon-separated groups of 4 characters.
    """
    der = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(b32[i : i + 4] for i in range(0, len(b32), 4))


def load_or_create_signing_key(key_path: Path, cert_path: Path) -> SigningKey:
    """Load the signing key and certificate, creating either on first use.

    The key is written with mode 0600, the certificate (which the registry process reads
    via ``rootcertbundle``) with 0644. Creation is race-safe across processes: files are
    published with ``link()``, which never overwrites, so the first writer wins and a
    loser simply loads the winner's file. A certificate that does not match the key is
    an error rather than silently replaced, since the registry would reject every token.
    """
    private_key = _load_or_create_private_key(Path(key_path))
    cert_pem = _load_or_create_cert(Path(cert_path), private_key)
    return SigningKey(
        private_key=private_key,
        cert_pem=cert_pem,
        kid=libtrust_key_id(private_key.public_key()),
    )


def _load_or_create_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        if _create_exclusive(path, pem, mode=0o600):
            return key
        # Another process created it first: fall through and use theirs.
    loaded = load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(loaded.curve, ec.SECP256R1):
        raise ValueError(f"{path}: token signing key must be an EC P-256 private key (ES256)")
    return loaded


def _load_or_create_cert(path: Path, private_key: ec.EllipticCurvePrivateKey) -> bytes:
    if not path.exists():
        pem = _self_signed_cert(private_key).public_bytes(Encoding.PEM)
        if _create_exclusive(path, pem, mode=0o644):
            return pem
    pem = path.read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    if _spki(cert.public_key()) != _spki(private_key.public_key()):
        raise ValueError(
            f"{path}: certificate does not match the token signing key; "
            "delete the certificate to have it regenerated from the key"
        )
    return pem


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _self_signed_cert(private_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_COMMON_NAME)])
    public_key = private_key.public_key()
    # Backdated a few minutes so a registry host with a slightly slow clock accepts it.
    not_before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + CERT_VALIDITY)
        # CA-capable so the same cert can also anchor an ``x5c`` chain if ever needed.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(private_key, hashes.SHA256())
    )


def _create_exclusive(path: Path, data: bytes, *, mode: int) -> bool:
    """Atomically create ``path`` holding ``data``; return False if it already existed.

    Written to a temp file in the same directory first, so readers never see a partial
    file, then hard-linked into place (``link`` fails instead of replacing, unlike
    ``os.replace``, so two racing processes cannot end up with mismatched key and cert).
    """
    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)  # explicit: independent of the process umask
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# --------------------------------------------------------------------------- scopes

# Grammar from the distribution token-scope spec. The name regexes are written without
# nested ambiguous quantifiers (the spec's separator ``[-]*`` may be empty, which makes
# Python's backtracking engine exponential on hostile input), matching the same language.
_TYPE_VALUE = r"[a-z0-9]+(?:[._-][a-z0-9]+)*"
_RESOURCE_TYPE_RE = re.compile(rf"(?P<base>{_TYPE_VALUE})(?:\((?P<cls>{_TYPE_VALUE})\))?")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST_COMPONENT = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOSTNAME = rf"{_HOST_COMPONENT}(?:\.{_HOST_COMPONENT})*(?::[0-9]+)?"
_REPOSITORY_NAME_RE = re.compile(rf"(?:{_HOSTNAME}/)?{_COMPONENT}(?:/{_COMPONENT})*")
_ACTION_RE = re.compile(r"\*|[a-z]+")
_NAME_MAX_LENGTH = 255  # distribution's limit on a repository name
_GENERIC_NAME_RE = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces
# Actions that _ACTION_RE accepts, the ones clients ask for: a scope of only these skips the regex
# (with the type's own fast path, parsing docker's scope took 6.7 us of CPU, about a third regexes).
_KNOWN_ACTIONS = frozenset({"pull", "push", "delete", "*"})


@dataclass(frozen=True, slots=True)
class Scope:
    """One requested/granted resource scope, e.g. ``repository:acme/hello:pull,push``.

    ``type`` keeps an optional class suffix verbatim (``repository(plugin)``).
    """

    type: str
    name: str
    actions: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"

    def to_claim(self) -> dict[str, object]:
        """The JWT ``access`` entry; a ``type(class)`` is split into ``type`` + ``class``."""
        if "(" not in self.type:  # no class to split off (the regex would give the type back)
            return {"type": self.type, "name": self.name, "actions": list(self.actions)}
        match = _RESOURCE_TYPE_RE.fullmatch(self.type)
        claim: dict[str, object] = {
            "type": match["base"] if match else self.type,
            "name": self.name,
            "actions": list(self.actions),
        }
        if match and match["cls"]:
            claim["class"] = match["cls"]
        return claim


def parse_scope(value: str) -> list[Scope]:
    """Parse a ``scope`` parameter: one or more space-separated ``type:name:actions``.

    The type ends at the first ``:`` and the actions start after the last one, because a
    repository name may contain a registry host with a port (``host:5000/acme/hello``).
    Duplicate actions are dropped (order kept). A blank value yields ``[]``.

    Raises ValueError naming the offending scope if any part is malformed.
    """
    return [_parse_one(item) for item in value.split()]


def merge_scopes(scopes: Iterable[Scope]) -> list[Scope]:
    """One scope per resource (type and name), with the actions of all its mentions, in the order
    each was first asked for: a client may repeat a resource, the token names it once."""
    merged: dict[tuple[str, str], dict[str, None]] = {}
    for scope in scopes:
        merged.setdefault((scope.type, scope.name), {}).update(dict.fromkeys(scope.actions))
    return [Scope(type_, name, tuple(actions)) for (type_, name), actions in merged.items()]


def _parse_one(item: str) -> Scope:
    head, sep1, rest = item.partition(":")
    name, sep2, actions_part = rest.rpartition(":")
    if not (sep1 and sep2):
        raise ValueError(f"invalid scope {item!r}: expected 'type:name:actions'")

    base = _type_base(item, head)
    if not name:
        raise ValueError(f"invalid scope {item!r}: empty resource name")

    if base == "repository":
        if len(name) > _NAME_MAX_LENGTH or _REPOSITORY_NAME_RE.fullmatch(name) is None:
            raise ValueError(f"invalid scope {item!r}: bad repository name {name!r}")
    elif base == "registry":
        if name != "catalog":
            raise ValueError(f"invalid scope {item!r}: the only registry resource is 'catalog'")
    elif _GENERIC_NAME_RE.fullmatch(name) is None:
        raise ValueError(f"invalid scope {item!r}: bad resource name {name!r}")

    actions = actions_part.split(",")
    if not _KNOWN_ACTIONS.issuperset(actions):
        bad = [a for a in actions if _ACTION_RE.fullmatch(a) is None]
        if bad:
            raise ValueError(f"invalid scope {item!r}: bad action(s) {bad!r}")
    return Scope(type=head, name=name, actions=tuple(dict.fromkeys(actions)))


def _type_base(item: str, head: str) -> str:
    """The resource type without its class; ``repository``, what docker asks for, without the regex."""
    if head == "repository":
        return head
    type_match = _RESOURCE_TYPE_RE.fullmatch(head)
    if type_match is None:
        raise ValueError(f"invalid scope {item!r}: bad resource type {head!r}")
    base: str = type_match["base"]
    return base


# --------------------------------------------------------------------------- tokens


class TokenResponse(TypedDict):
    """Body of the token endpoint's response (docker token spec)."""

    token: str
    access_token: str  # same JWT; OAuth2-style clients read this field
    expires_in: int
    issued_at: str


def issue_token(
    key: SigningKey,
    *,
    issuer: str,
    service: str,
    subject: str,
    access: Sequence[Scope],
    ttl: int = 300,
    now: float | None = None,
) -> TokenResponse:
    """Sign an ES256 registry token granting exactly ``access`` (authorise before calling).

    ``subject`` is the account name, ``''`` for anonymous; ``service`` becomes ``aud``.
    """
    claims = token_claims(issuer=issuer, service=service, subject=subject, access=access, ttl=ttl, now=now)
    return claims.response(sign_jws(key, claims.payload))


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """A token's JSON claims, ready to be signed, and what its response says besides the token."""

    payload: bytes
    issued_at: int
    ttl: int

    def response(self, token: str) -> TokenResponse:
        issued_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.issued_at))
        return {"token": token, "access_token": token, "expires_in": self.ttl, "issued_at": issued_at}


def token_claims(
    *,
    issuer: str,
    service: str,
    subject: str,
    access: Sequence[Scope],
    ttl: int = 300,
    now: float | None = None,
) -> TokenClaims:
    """The claims of a token (see :func:`issue_token`), for a signer that signs them later."""
    if ttl <= 0:
        raise ValueError(f"ttl must be positive, got {ttl}")
    iat = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": service,
        "exp": iat + ttl,
        "nbf": iat - NBF_SKEW_SECONDS,
        "iat": iat,
        "jti": secrets.token_urlsafe(16),
        "access": [scope.to_claim() for scope in access],
    }
    return TokenClaims(orjson.dumps(claims), iat, ttl)


def sign_jws(key: SigningKey, payload: bytes) -> str:
    """A compact JWS (RFC 7515) over ``payload``: the constant header segment, the payload, and the
    P-256 signature as JWA's raw 64 bytes r||s (``cryptography`` returns DER). Written out because
    PyJWT's ``encode`` re-serialises the header and re-checks the claims on every call, which cost
    more than the signature itself on the token path; tests verify the result with PyJWT."""
    signing_input = key.header_segment + b"." + _base64url(payload)
    r, s = decode_dss_signature(key.private_key.sign(signing_input, _ECDSA_SHA256))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return (signing_input + b"." + _base64url(signature)).decode("ascii")


def _base64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


# --------------------------------------------------------------------------- registry config


def registry_config_fragment(
    *,
    realm: str,
    service: str,
    issuer: str,
    cert_path: Path,
    events_url: str,
    events_secret: str,
) -> str:
    """YAML for the registry's ``auth.token`` and ``notifications.endpoints`` sections.

    Meant to be appended to a config that already has ``version``, ``storage`` and
    ``http``. A relative ``cert_path`` is made absolute, since the registry would
    resolve it against its own working directory.
    """
    if not events_secret or not events_secret.isascii() or not events_secret.isprintable():
        raise ValueError("events_secret must be a non-empty printable ASCII string")
    fragment = {
        "auth": {
            "token": {
                "realm": realm,
                "service": service,
                "issuer": issuer,
                "rootcertbundle": str(Path(cert_path).absolute()),
            }
        },
        "notifications": {
            "endpoints": [
                {
                    "name": "repohub",
                    "url": events_url,
                    "headers": {"Authorization": [f"Bearer {events_secret}"]},
                    "timeout": "2s",
                    "threshold": 3,
                    "backoff": "1s",
                }
            ]
        },
    }
    return yaml.safe_dump(fragment, sort_keys=False, default_flow_style=False, allow_unicode=True)
