"""``GET /registry/push-check``: nginx's ``auth_request`` for every manifest ``PUT`` and ``DELETE`` under
``/v2/`` (``repohub proxy config``), answered before the registry writes anything.

nginx sends no body, the original method and URI in ``X-Original-Method`` / ``X-Original-URI`` and the
client's ``Authorization``. 2xx lets the request through to the registry, 403 refuses it, with the
reason in ``X-Repohub-Denied`` for nginx to put into the registry's error body.

No leak: only a caller whose registry token (signed by us, current, for our service) grants the
action on that very repository is ever refused; everyone else passes and gets the registry's own
answer (401, denied, name unknown) exactly as without the check, so nobody can probe which tags exist
or are protected. The decision itself is ``Immutability.push_refusal`` (one indexed read); a token is
verified in memory before it, so a request without one costs no read at all. A PlainRoute (registered
in ``router.py``) like the token endpoint: this is on the push path.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

import orjson
from fastapi import Request
from fastapi.responses import Response

from repohub.api.deps import StateDep, service_session

__all__ = ["DENIED_HEADER", "PushTarget", "header_safe", "push_check", "push_target"]

DENIED_HEADER = "X-Repohub-Denied"
# Actions Distribution asks of a token for a manifest PUT and DELETE, and the wildcard it also takes.
_NEEDED = {"PUT": frozenset({"push", "*"}), "DELETE": frozenset({"delete", "*"})}
# Distribution's route: the name is everything up to the last ``/manifests/`` (a name component may
# itself be "manifests"), the reference one segment. Matched on the decoded path, as the registry
# (and nginx's location) read it: ``v%31`` is tag ``v1`` to both.
_MANIFEST = re.compile(r"/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<reference>[^/]+)")
_SLASHES = re.compile(r"//+")
_UNSAFE = re.compile(r"[^\x20-\x7e]|[\"'\\]")


@dataclass(frozen=True, slots=True)
class PushTarget:
    """A manifest write, or a blob delete: ``name`` = ``namespace/repository``, and the references it
    would change (the path's, and the tags an OCI ``?tag=`` push by digest would set). A blob's
    digest is judged as a manifest's: refused when a protected tag's image refers to it."""

    delete: bool
    name: str
    namespace: str
    repository: str
    references: tuple[str, ...]


def push_target(method: str | None, uri: str | None) -> PushTarget | None:
    """The manifest write nginx asks about, or None for anything else (another method, a path that is
    no manifest of a repohub repository: the registry answers those itself)."""
    if method not in _NEEDED or not uri:
        return None
    path, _, query = uri.partition("?")
    match = _MANIFEST.fullmatch(_normal(unquote(path)))
    if match is None:
        return None
    name, reference = match["name"], match["reference"]
    if match["kind"] == "blobs" and method != "DELETE":
        return None  # blobs are written through /blobs/uploads/, which changes no tag
    namespace, _, repository = name.partition("/")
    if not namespace or not repository:
        return None  # a one-component name is no repository of a namespace
    tags = [value for key, value in parse_qsl(query) if key == "tag"] if method == "PUT" else []
    return PushTarget(method == "DELETE", name, namespace, repository, (reference, *tags))


def _normal(path: str) -> str:
    """The path as nginx matched its location (``$uri``): slashes merged, ``.`` and ``..`` resolved.
    The registry is sent the raw one and redirects such a path to this one, so this is the write
    that would happen."""
    normal = posixpath.normpath(_SLASHES.sub("/", path))  # normpath keeps a leading "//"
    return normal + "/" if path.endswith("/") and normal != "/" else normal


def header_safe(message: str) -> str:
    """``message`` as nginx may put it into a JSON string: printable ASCII, no quotes or backslashes."""
    return _UNSAFE.sub("", message)


def _passed() -> Response:
    # A new one each time: middlewares add their headers to a response's own header list.
    return Response(status_code=204)


def _refused(reason: str) -> Response:
    """nginx reads the header (it drops a subrequest's body); the body is the registry's error, for
    whoever else asks."""
    body = {"errors": [{"code": "DENIED", "message": reason, "detail": None}]}
    return Response(orjson.dumps(body), 403, {DENIED_HEADER: reason}, media_type="application/json")


async def push_check(request: Request, state: StateDep) -> Response:
    """204: let the manifest write through; 403: an immutable-tag rule protects what it would change."""
    headers = request.headers
    method = headers.get("x-original-method")
    target = push_target(method, headers.get("x-original-uri"))
    if target is None or method is None:
        return _passed()
    granted = state.token_verifier.actions(headers.get("authorization"), target.name)
    if granted.isdisjoint(_NEEDED[method]):
        return _passed()  # the registry refuses it itself, as it would without this check
    async with service_session(state) as service:
        for reference in target.references:
            refusal = await service.immutability.push_refusal(
                target.namespace, target.repository, reference, delete=target.delete
            )
            if refusal is not None:
                return _refused(header_safe(refusal.message(target.name)))
    return _passed()
