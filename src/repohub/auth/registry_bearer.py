"""Reading back the registry bearer tokens repohub signed (``registry_token``): the proxy's push check
asks which actions a request's token grants on one repository, before it says anything about it.

Pure and strict about whose token it is (our key, our constant header, our issuer and service), and
lenient about time where the registry is: a token the registry would still take must be read as
granting what it grants, or a push the registry accepts would pass the check unexamined.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import time
from dataclasses import dataclass, field

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from repohub.auth.registry_token import SigningKey

__all__ = ["CLOCK_LEEWAY_SECONDS", "BearerVerifier", "Grant"]

# Distribution accepts a token up to 60 s past its ``exp`` (and before its ``nbf``) by its own clock,
# which may run behind ours: five minutes covers both. Erring this way only lets a caller whose push
# token lapsed minutes ago be told "denied" rather than the registry's 401.
CLOCK_LEEWAY_SECONDS = 300
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SIGNATURE_BYTES = 64  # ES256: r || s, 32 bytes each (JWA)


@dataclass(frozen=True, slots=True)
class Grant:
    """What a verified token says: when it holds (``exp``, ``nbf``) and the actions per repository."""

    expires: float
    not_before: float
    repositories: dict[str, frozenset[str]]

    def current(self, now: float) -> bool:
        return now - CLOCK_LEEWAY_SECONDS < self.expires and self.not_before < now + CLOCK_LEEWAY_SECONDS


_NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class BearerVerifier:
    """Verifies tokens of one signing key; made once per app (the public key derived once).

    Verified tokens are remembered (``MEMO_SIZE``, oldest forgotten first): the signature check is
    most of a push check's CPU (docs/benchmarks.md), and one client's pushes reuse a token, for every
    tag of ``--all-tags`` and every manifest of a multi-platform image. What is remembered is what
    the token itself says, so it cannot go stale; its times are checked at every use. Tokens that fail
    are not remembered (a flood of them costs what it would without the memo)."""

    MEMO_SIZE = 4096
    header_segment: bytes  # the signer's constant JWS header, base64url: any other is not ours
    public_key: ec.EllipticCurvePublicKey = field(repr=False)
    issuer: str
    service: str
    _verified: dict[bytes, Grant] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, key: SigningKey, *, issuer: str, service: str) -> BearerVerifier:
        return cls(key.header_segment, key.private_key.public_key(), issuer, service)

    def actions(self, authorization: str | None, repository: str, now: float | None = None) -> frozenset[str]:
        """The actions a ``Bearer`` token in ``authorization`` grants on repository ``repository``:
        empty for no token, another scheme, a token we did not sign, a stale one, or one for another
        service or repository."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return _NOTHING
        token = value.strip().encode("ascii", "replace")
        grant = self._verified.get(token)
        if grant is None:
            grant = self._read(token)
            if grant is None:
                return _NOTHING
            if len(self._verified) >= self.MEMO_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = grant
        if not grant.current(time.time() if now is None else now):
            return _NOTHING
        return grant.repositories.get(repository, _NOTHING)

    def _read(self, token: bytes) -> Grant | None:
        """The grant of a token with our header, a valid signature by our key, our issuer and our
        service among its audiences; else None."""
        claims = self._claims(token)
        if claims is None:
            return None
        audience, expires, not_before = claims.get("aud"), claims.get("exp"), claims.get("nbf", 0)
        if (
            claims.get("iss") != self.issuer
            or self.service not in (audience if isinstance(audience, list) else [audience])
            or not isinstance(expires, int | float)
            or not isinstance(not_before, int | float)
        ):
            return None
        return Grant(float(expires), float(not_before), _repositories(claims.get("access")))

    def _claims(self, token: bytes) -> dict[str, object] | None:
        """The payload of a token with our header and a valid signature by our key, else None."""
        parts = token.split(b".")
        if len(parts) != 3 or not hmac.compare_digest(parts[0], self.header_segment):
            return None
        try:
            signature = _unbase64url(parts[2])
            if len(signature) != _SIGNATURE_BYTES:
                return None
            der = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            self.public_key.verify(der, parts[0] + b"." + parts[1], _ECDSA_SHA256)
            claims = orjson.loads(_unbase64url(parts[1]))
        except (InvalidSignature, ValueError, binascii.Error):
            return None
        return claims if isinstance(claims, dict) else None


def _repositories(access: object) -> dict[str, frozenset[str]]:
    """``access`` claims → actions per repository name (other resource types are no repository)."""
    granted: dict[str, set[str]] = {}
    for entry in access if isinstance(access, list) else ():
        if not isinstance(entry, dict) or entry.get("type") != "repository":
            continue
        name, actions = entry.get("name"), entry.get("actions")
        if isinstance(name, str) and isinstance(actions, list):
            granted.setdefault(name, set()).update(a for a in actions if isinstance(a, str))
    return {name: frozenset(actions) for name, actions in granted.items()}


_BASE64URL = re.compile(rb"[A-Za-z0-9_-]*")


def _unbase64url(segment: bytes) -> bytes:
    """Strict: Python's decoder skips characters outside the alphabet, so ``sig[:5] + b"!!" + sig[5:]``
    would verify as the same token under another memo key (one token, unbounded entries)."""
    if _BASE64URL.fullmatch(segment) is None:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
