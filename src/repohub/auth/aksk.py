"""Verifier for Huawei Cloud ``SDK-HMAC-SHA256`` (AK/SK) request signatures.

It mirrors ``huaweicloudsdkcore.signer.signer.Signer`` (3.1.x) so that requests signed by the official
SDKs verify here unchanged. Everything is a pure function of a framework-neutral :class:`SignedRequest`:
the web layer builds one from what it received, reads the access key with :func:`parse_authorization`,
looks the secret key up itself and calls :func:`verify`.

What the SDK's signature does *not* cover, by its design, and how :func:`verify` copes:

* ``%2F`` inside a path segment: the SDK percent-decodes the whole path before splitting it on ``/``,
  so ``/repos/a%2Fb`` and ``/repos/a/b`` have the same signature. The path is verified as sent (an
  encoded ``/`` stays inside its segment); the SDK's reading is accepted as well only when the caller
  says that the path read with every ``%2F`` as ``/`` reaches no operation, since otherwise a signature
  for that other operation could be replayed here (``repos/a/tags/v1`` at ``repos/a%2Ftags%2Fv1``).
  The reverse replay of an SDK signature cannot be told from the SDK's own request, and passes;
* the body when ``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD`` is sent (the SDK does so for any non-JSON,
  non-BSON ``Content-Type``): refused for a non-empty body unless ``allow_unsigned_payload=True``, and
  then only for such a ``Content-Type``;
* replays: any signed request may be replayed while its ``X-Sdk-Date`` is within ``max_skew``.

Known gap: the SDK sorts query values before turning them into text, so a key repeated with *integer*
values is signed in numeric order (``n=9&n=10``) which cannot be told apart, once on the wire, from
strings signed in text order; such requests fail here. SWR's API has no repeated query keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
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
_ENCODED_SLASH = re.compile("%2f", re.IGNORECASE)
# The SDK declares UNSIGNED-PAYLOAD for any Content-Type but these (Signer._process_content_header).
_SIGNED_CONTENT_TYPES = ("application/json", "application/bson")
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
    allow_unsigned_payload: bool = False,
    routes_elsewhere: Callable[[str], bool] | None = None,
) -> None:
    """Raise :class:`SignatureError` unless ``request`` carries a valid, fresh signature by ``secret_key``.

    ``now`` (timezone-aware, default: the current UTC time) is injectable for tests.
    ``allow_unsigned_payload=True`` accepts a non-empty body the client declared unsigned, when its
    ``Content-Type`` is one the SDK declares so; only for a caller that does not act on such a body.
    ``routes_elsewhere(path)`` tells whether ``raw_path`` with every ``%2F`` read as ``/`` reaches an
    operation; only where it does not is the SDK's signature of a path with ``%2F`` accepted (module
    doc). Without it, such a path verifies only as sent.
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

    payload_hashes = _payload_hashes(request, allow_unsigned_payload)
    matched = False
    for canonical_uri in _canonical_uris(request.raw_path, routes_elsewhere):
        prefix = _canonical_prefix(request, canonical_uri, auth.signed_headers)
        for payload_hash in payload_hashes:
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
    path_as_sent: bool = False,
) -> str:
    """Return the ``Authorization`` value the SDK would send for ``request`` (for tests and tools).

    ``request.headers`` must already hold ``host`` and ``x-sdk-date``. By default every header whose name
    has no ``_`` is signed, like the SDK does; pass ``signed_headers`` to sign a different set.
    ``path_as_sent=True`` signs an encoded ``/`` as part of its segment, not as the SDK reads it: such a
    signature holds for this path only, wherever the SDK's reading would reach.
    """
    sdk_date = request.headers.get(_DATE_HEADER)
    if sdk_date is None:
        raise ValueError("request has no x-sdk-date header")
    if signed_headers is None:
        signed_headers = (name for name in request.headers if "_" not in name and name != "authorization")
    names = sorted({name.lower() for name in signed_headers})
    canonical_uri = _exact_uri(request.raw_path) if path_as_sent else _sdk_uri(request.raw_path)
    prefix = _canonical_prefix(request, canonical_uri, names)
    signature = _signature(secret_key, sdk_date.strip(), prefix + _sdk_payload_hash(request))
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


def _canonical_prefix(request: SignedRequest, canonical_uri: str, signed_headers: Sequence[str]) -> str:
    """The canonical request up to (not including) the payload hash, which may have several candidates."""
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri,
            _canonical_query(request.query),
            _canonical_headers(request.headers, signed_headers),
            ";".join(signed_headers),
            "",
        )
    )


def _canonical_uris(raw_path: str, routes_elsewhere: Callable[[str], bool] | None) -> tuple[str, ...]:
    """The canonical URIs a signature of this path may cover: as sent, and the SDK's reading if safe."""
    exact = _exact_uri(raw_path)
    if not _ENCODED_SLASH.search(raw_path):
        return (exact,)  # both readings are the same
    if routes_elsewhere is None or routes_elsewhere(_ENCODED_SLASH.sub("/", raw_path)):
        return (exact,)
    return (exact, _sdk_uri(raw_path))


def _exact_uri(raw_path: str) -> str:
    """Each segment as sent, decoded and re-encoded the SDK's way: an encoded '/' stays in its segment."""
    return _joined(unquote(segment) for segment in raw_path.split("/"))


def _sdk_uri(raw_path: str) -> str:
    # The SDK decodes the whole path before splitting, so an encoded '/' acts as a separator (module doc).
    return _joined(unquote(raw_path).split("/"))


def _joined(segments: Iterable[str]) -> str:
    path = "/".join(_encode(segment) for segment in segments)
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


def _sdk_payload_hash(request: SignedRequest) -> str:
    """The payload hash as Signer._process_hash_payload chooses it."""
    if not request.body:
        return hashlib.sha256(b"").hexdigest()
    return request.headers.get(_CONTENT_HASH_HEADER) or hashlib.sha256(request.body).hexdigest()


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
        if body and not (allow_unsigned and _declared_unsigned_by_sdk(request.headers)):
            raise SignatureError("unsigned payloads are not accepted")
        return (declared,) if body else (actual, declared)
    # The SDK would sign any value verbatim; a hash that is not the body's means the body was altered.
    if not _HEX_SHA256.fullmatch(declared) or declared.lower() != actual:
        raise SignatureError("request body does not match X-Sdk-Content-Sha256")
    return (declared,) if declared == actual else (declared, actual)


def _declared_unsigned_by_sdk(headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "").strip()
    return bool(content_type) and not content_type.startswith(_SIGNED_CONTENT_TYPES)


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
