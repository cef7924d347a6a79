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
import time
from dataclasses import dataclass, field

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from repohub.auth.registry_token import SigningKey

__all__ = ["CLOCK_LEEWAY_SECONDS", "BearerVerifier"]

# Distribution accepts a token up to 60 s past its ``exp`` (and before its ``nbf``) by its own clock,
# which may run behind ours: five minutes covers both. Erring this way only lets a caller whose push
# token lapsed minutes ago be told "denied" rather than the registry's 401.
CLOCK_LEEWAY_SECONDS = 300
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_SIGNATURE_BYTES = 64  # ES256: r || s, 32 bytes each (JWA)


@dataclass(frozen=True, slots=True)
class BearerVerifier:
    """Verifies tokens of one signing key (made once per app: deriving the public key every request
    would be wasted work on the push path)."""

    header_segment: bytes  # the signer's constant JWS header, base64url: any other is not ours
    public_key: ec.EllipticCurvePublicKey = field(repr=False)
    issuer: str
    service: str

    @classmethod
    def of(cls, key: SigningKey, *, issuer: str, service: str) -> BearerVerifier:
        return cls(key.header_segment, key.private_key.public_key(), issuer, service)

    def actions(self, authorization: str | None, repository: str, now: float | None = None) -> set[str]:
        """The actions a ``Bearer`` token in ``authorization`` grants on repository ``repository``:
        empty for no token, another scheme, a token we did not sign, a stale one, or one for another
        service or repository."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return set()
        claims = self._claims(token.strip().encode("ascii", "replace"))
        if claims is None or not self._current(claims, time.time() if now is None else now):
            return set()
        access = claims.get("access")
        granted: set[str] = set()
        for entry in access if isinstance(access, list) else ():
            if not isinstance(entry, dict):
                continue
            actions = entry.get("actions")
            if (
                entry.get("type") == "repository"
                and entry.get("name") == repository
                and isinstance(actions, list)
            ):
                granted.update(action for action in actions if isinstance(action, str))
        return granted

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

    def _current(self, claims: dict[str, object], now: float) -> bool:
        """Our issuer, our service among the audiences, and not expired or early beyond the leeway."""
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        return (
            claims.get("iss") == self.issuer
            and self.service in audiences
            and isinstance(expires, int | float)
            and isinstance(not_before, int | float)
            and now - CLOCK_LEEWAY_SECONDS < expires
            and not_before < now + CLOCK_LEEWAY_SECONDS
        )


def _unbase64url(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
