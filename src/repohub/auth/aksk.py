"""Verifier for Huawei Cloud ``SDK-HMAC-SHA256`` (AK/SK) request signatures.

It mirrors ``huaweicloudsdkcore.signer.signer.Signer`` (3.1.x) so that requests signed by the official
SDKs verify here unchanged. Everything is a pure function of a framework-neutral :class:`SignedRequest`:
the web layer builds one from what it received, reads the access key with :func:`parse_authorization`,
looks the secret key up itself and calls :func:`verify`.

What the signature does *not* cover, by the SDK's design (callers must keep this in mind):

* ``%2F`` inside a path segment: the whole path is percent-decoded before it is split on ``/``, so
  ``/repos/a%2Fb`` and ``/repos/a/b`` have the same signature;
* the body when ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` is sent (the SDK does so for any non-JSON,
  non-BSON ``Content-Type``), unless ``allow_unsigned_payload=False``;
* replays: any signed request may be replayed while its ``X-Sdk-Date`` is within ``max_skew``.

Known gap: the SDK sorts query values before turning them into text, so a key repeated with *integer*
values is signed in numeric order (``n=9&n=10``) which cannot be told apart, once on the wire, from
strings signed in text order; such requests fail here. SWR's API has no repeated query keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "DATE_FORMAT",
    "DEFAULT_MAX_SKEW",
    "REQUIRED_SIGNED_HEADERS",
    "UNSIGNED_PAYLOAD",
    "Authorization",
    "SignatureError",
    "SignedRequest",
    "parse_authorization",
    "sign",
    "verify",
]

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
DEFAULT_MAX_SKEW = timedelta(minutes=15)
# Without these the signature would not bind the request to this server or to a point in time.
REQUIRED_SIGNED_HEADERS = frozenset({"host", "x-sdk-date"})

_DATE_HEADER = "x-sdk-date"
_CONTENT_HASH_HEADER = "x-sdk-content-sha256"
_AUTHORIZATION_FIELDS = frozenset({"Access", "SignedHeaders", "Signature"})
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# RFC 9110 token, lower-case only: the SDK lower-cases names before listing them.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the verifier needs from an HTTP request, independent of any web framework.

    ``raw_path`` is the path exactly as the client sent it (still percent-encoded, without the query and
    before any prefix stripping), because the signature covers the client's view of the URL.
    ``query`` holds the decoded pairs, blank values kept (``parse_qsl(..., keep_blank_values=True)``).
    ``headers`` must have lower-case keys; values as the server decoded them (latin-1 for ASGI/WSGI).
    """

    method: str
    raw_path: str
    query: Sequence[tuple[str, str]]
    headers: Mapping[str, str]
    body: bytes


class SignatureError(Exception):
    """The request is not validly signed; the message says why but never reveals the expected signature."""


class Authorization(NamedTuple):
    """The parts of an ``Authorization: SDK-HMAC-SHA256 ...`` header value."""

    access_key: str
    signed_headers: list[str]
    signature: str


def parse_authorization(value: str) -> Authorization:
    """Split an ``Authorization`` value into access key, signed header names and signature.

    Separate from :func:`verify` because the caller needs the access key to find the secret key.
    Only the syntax is checked here; the policy (which headers must be signed) lives in :func:`verify`.
    """
    scheme, _, params = value.strip().partition(" ")
    if scheme != ALGORITHM:
        raise SignatureError(f"unsupported Authorization scheme, expected {ALGORITHM}")
    fields: dict[str, str] = {}
    for part in params.split(","):
        name, sep, field = part.strip().partition("=")
        if not sep or name in fields:
            raise SignatureError("malformed Authorization header")
        fields[name] = field.strip()
    if fields.keys() != _AUTHORIZATION_FIELDS:
        raise SignatureError("Authorization header must carry exactly Access, SignedHeaders and Signature")
    access_key = fields["Access"]
    if not access_key:
        raise SignatureError("Authorization header has an empty Access key")
    signed_headers = fields["SignedHeaders"].split(";")
    if not all(_HEADER_NAME.fullmatch(name) for name in signed_headers):
        raise SignatureError("SignedHeaders must be lower-case header names separated by ';'")
    signature = fields["Signature"]
    if not _HEX_SHA256.fullmatch(signature):
        raise SignatureError("Signature must be 64 hexadecimal digits")
    return Authorization(access_key, signed_headers, signature.lower())


def verify(
    request: SignedRequest,
    secret_key: str,
    *,
    now: datetime | None = None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
    allow_unsigned_payload: bool = True,
) -> None:
    """Raise :class:`SignatureError` unless ``request`` carries a valid, fresh signature by ``secret_key``.

    ``now`` (timezone-aware, default: the current UTC time) is injectable for tests.
    ``allow_unsigned_payload=False`` rejects non-empty bodies that the client declared unsigned.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        raise ValueError("now must be timezone-aware")

    header = request.headers.get("authorization")
    if header is None:
        raise SignatureError("missing Authorization header")
    auth = parse_authorization(header)
    missing = REQUIRED_SIGNED_HEADERS.difference(auth.signed_headers)
    if missing:
        raise SignatureError(f"SignedHeaders must include {', '.join(sorted(missing))}")

    sdk_date = request.headers.get(_DATE_HEADER, "").strip()
    signed_at = _parse_sdk_date(sdk_date)
    if now - signed_at > max_skew:
        raise SignatureError("X-Sdk-Date is too old")
    if signed_at - now > max_skew:
        raise SignatureError("X-Sdk-Date is too far in the future")

    prefix = _canonical_prefix(request, auth.signed_headers)
    matched = False
    for payload_hash in _payload_hashes(request, allow_unsigned_payload):
        expected = _signature(secret_key, sdk_date, prefix + payload_hash)
        # Check every candidate so the time taken does not depend on which one matched.
        matched |= hmac.compare_digest(expected, auth.signature)
    if not matched:
        raise SignatureError("signature does not match")


def sign(
    request: SignedRequest,
    access_key: str,
    secret_key: str,
    *,
    signed_headers: Iterable[str] | None = None,
) -> str:
    """Return the ``Authorization`` value the SDK would send for ``request`` (for tests and tools).

    ``request.headers`` must already hold ``host`` and ``x-sdk-date``. By default every header whose name
    has no ``_`` is signed, like the SDK does; pass ``signed_headers`` to sign a different set.
    """
    sdk_date = request.headers.get(_DATE_HEADER)
    if sdk_date is None:
        raise ValueError("request has no x-sdk-date header")
    if signed_headers is None:
        signed_headers = (name for name in request.headers if "_" not in name and name != "authorization")
    names = sorted({name.lower() for name in signed_headers})
    payload_hash = _payload_hashes(request, allow_unsigned=True)[0]
    signature = _signature(secret_key, sdk_date.strip(), _canonical_prefix(request, names) + payload_hash)
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(names)}, Signature={signature}"


def _parse_sdk_date(value: str) -> datetime:
    try:
        parsed = datetime.strptime(value, DATE_FORMAT)
    except ValueError:
        raise SignatureError("missing or malformed X-Sdk-Date header") from None
    # strptime accepts e.g. single-digit fields; the SDK signs the re-formatted value, so only the
    # canonical spelling makes the header and the signed date agree.
    if parsed.strftime(DATE_FORMAT) != value:
        raise SignatureError("missing or malformed X-Sdk-Date header")
    return parsed.replace(tzinfo=UTC)


def _canonical_prefix(request: SignedRequest, signed_headers: Sequence[str]) -> str:
    """The canonical request up to (not including) the payload hash, which may have several candidates."""
    return "\n".join(
        (
            request.method.upper(),
            _canonical_uri(request.raw_path),
            _canonical_query(request.query),
            _canonical_headers(request.headers, signed_headers),
            ";".join(signed_headers),
            "",
        )
    )


def _canonical_uri(raw_path: str) -> str:
    # The SDK decodes the whole path before splitting, so an encoded '/' acts as a separator (module doc).
    path = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def _canonical_query(query: Iterable[tuple[str, str]]) -> str:
    # The SDK sorts the decoded (name, value) pairs, not their encodings, then encodes each one.
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in sorted(query))


def _canonical_headers(headers: Mapping[str, str], signed_headers: Sequence[str]) -> str:
    lines = []
    for name in signed_headers:
        value = headers.get(name)
        if value is None:
            raise SignatureError(f"signed header {name!r} is missing from the request")
        lines.append(f"{name}:{_wire_text(value).strip()}\n")
    return "".join(lines)


def _payload_hashes(request: SignedRequest, allow_unsigned: bool) -> tuple[str, ...]:
    """Payload hashes the SDK may have signed for this body, its usual choice first.

    The SDK signs the empty-body hash whenever its body object is falsy, ignoring X-Sdk-Content-Sha256,
    but uses the header for a truthy body that turned out empty on the wire (an empty file). Both are
    the same bytes on the wire, so for an empty body either is accepted.
    """
    body = request.body
    actual = hashlib.sha256(body).hexdigest()
    declared = request.headers.get(_CONTENT_HASH_HEADER)
    if declared is None:
        return (actual,)
    declared = declared.strip()
    if declared == UNSIGNED_PAYLOAD:
        if body and not allow_unsigned:
            raise SignatureError("unsigned payloads are not accepted")
        return (declared,) if body else (actual, declared)
    # The SDK would sign any value verbatim; a hash that is not the body's means the body was altered.
    if not _HEX_SHA256.fullmatch(declared) or declared.lower() != actual:
        raise SignatureError("request body does not match X-Sdk-Content-Sha256")
    return (declared,) if declared == actual else (declared, actual)


def _signature(secret_key: str, sdk_date: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def _encode(value: str) -> str:
    return quote(value, safe="~")


def _wire_text(value: str) -> str:
    """Recover the text the SDK signed from a header value the server decoded as latin-1.

    The SDK signs the text but sends its UTF-8 bytes; a value that is not such a byte string (already
    proper text) is used as is.
    """
    try:
        return value.encode("latin-1").decode()
    except UnicodeError:
        return value
