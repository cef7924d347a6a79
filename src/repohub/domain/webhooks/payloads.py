"""A notice rendered for one hook: the request its format defines, headers signed.

Pure functions of what the worker hands over (the hook, the notice, the delivery's id, the hook's
secret and header list already opened), so a test can check a payload byte for byte and a receiver's
verification against it without a network.

- Alauda (``FORMAT_ALAUDA``), as its documentation describes a hook's request: POST JSON with
  ``User-Agent: Alauda/Webhook/1.0``, ``X-Alauda-Event`` (``image:push``…), ``X-Alauda-Event-Time``
  (the event's UTC time, ``2015-08-27T06:08:55.092827Z``) and, when the hook has a secret,
  ``X-Alauda-Signature: sha1=<hex HMAC-SHA1 of that exact time string, keyed by the secret>``; the
  body is ``{hook, data, sender}``.
- Harbor (``FORMAT_HARBOR``, SWR's webhook policies): Harbor's notification payload
  (``goharbor/harbor`` ``src/pkg/notifier/model``: ``type``, ``occur_at``, ``operator``,
  ``event_data.resources``, ``event_data.repository``), built the way Harbor's artifact handler
  builds it (a resource's ``tag`` is its digest when it has no tag; ``resource_url`` names the
  digest with ``@`` then). The policy's ``auth_header`` (``k1:v1;k2:v2``) is sent as those headers.

``parse_auth_header`` is the one rule of that header list: the policies check it with it when a hook is
created or changed, and ``render`` reads it with it at every delivery, so a list accepted at creation
is sent as it was accepted, and one refused is never stored (a value the sender could not encode, a
header it sets itself, the same header twice).

Both carry ``X-Repohub-Delivery``, the delivery's id: the same on every attempt, so a receiver can
tell a retry from a new event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from repohub.domain.access import DELETE, PULL, PUSH
from repohub.domain.webhooks.hooks import FORMAT_ALAUDA, FORMAT_HARBOR, Hook
from repohub.domain.webhooks.outbox import Notice, Resource

__all__ = [
    "ALAUDA_EVENTS",
    "DELIVERY_HEADER",
    "HARBOR_EVENTS",
    "MAX_AUTH_HEADER",
    "RESERVED_HEADERS",
    "Request",
    "alauda_signature",
    "event_time",
    "parse_auth_header",
    "render",
]

DELIVERY_HEADER = "X-Repohub-Delivery"
ALAUDA_EVENTS = {PUSH: "image:push", PULL: "image:pull", DELETE: "image:delete"}
HARBOR_EVENTS = {PUSH: "PUSH_ARTIFACT", PULL: "PULL_ARTIFACT", DELETE: "DELETE_ARTIFACT"}
ALAUDA_AGENT = "Alauda/Webhook/1.0"
HARBOR_AGENT = "repohub-webhook/1.0"
_JSON = "application/json"
MAX_AUTH_HEADER = 4096  # characters of a whole header list
# Headers an auth_header entry may not set (lowercased): they frame or route the request, are set by
# the request itself (sent twice otherwise), or are the delivery's own id (a receiver deduplicates on
# it). Alauda's X-Alauda-* are refused by prefix: a policy cannot forge a signature.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "content-type", "user-agent"}
    | {DELIVERY_HEADER.lower()}
)
_RESERVED_PREFIX = "x-alauda-"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 7230 token: tchar, one or more
_VALUE = re.compile(r"[\t\x20-\x7e]*")  # visible ASCII, spaces and tabs: what the sender can encode
_BLANK = " \t"  # what is stripped around a name or a value (never CR or LF: those are refused)


@dataclass(frozen=True, slots=True)
class Request:
    """What the sender POSTs: to ``url``, these headers (in order), this body."""

    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def render(
    hook: Hook,
    notice: Notice,
    delivery_id: str,
    *,
    secret: str | None,
    auth_header: str | None,
    registry_host: str,
) -> Request:
    """The request delivering ``notice`` to ``hook`` in the hook's format. ``registry_host``: the
    host[:port] images are pulled from (Harbor's ``resource_url``). ValueError for a format this
    module does not know, or an ``auth_header`` that is not a header list."""
    if hook.spec.format == FORMAT_ALAUDA:
        headers, body = _alauda(hook, notice, secret)
    elif hook.spec.format == FORMAT_HARBOR:
        headers, body = _harbor(notice, auth_header, registry_host)
    else:
        raise ValueError(f"unknown webhook format {hook.spec.format!r}")
    headers.append((DELIVERY_HEADER, delivery_id))
    return Request(hook.spec.url, tuple(headers), _dumps(body))


def event_time(notice: Notice) -> str:
    """The notice's time as Alauda writes ``X-Alauda-Event-Time`` (UTC, microseconds, ``Z``)."""
    return notice.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alauda_signature(secret: str, signed: str) -> str:
    """``X-Alauda-Signature``'s value: ``sha1=`` and the hex HMAC-SHA1 of ``signed`` under ``secret``."""
    return "sha1=" + hmac.new(secret.encode(), signed.encode(), hashlib.sha1).hexdigest()


def parse_auth_header(text: str) -> list[tuple[str, str]]:
    """SWR's ``auth_header`` (``key1:value1;key2:value2``) as the headers it sends, in order.

    Entries are split on ``;``, each on its first ``:``, name and value stripped of spaces and tabs;
    empty entries are skipped. ValueError (its message says why, never quoting a value: the list is a
    secret) unless the whole is at most ``MAX_AUTH_HEADER`` characters and each entry's name is an
    HTTP token not in ``RESERVED_HEADERS`` nor ``X-Alauda-*``, given once, and its value visible ASCII,
    spaces and tabs."""
    if len(text) > MAX_AUTH_HEADER:
        raise ValueError(f"auth_header must be at most {MAX_AUTH_HEADER} characters")
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for position, entry in enumerate(text.split(";"), start=1):
        if not entry.strip(_BLANK):
            continue
        name, value = _header(position, entry)
        if name.lower() in seen:
            raise ValueError(f"auth_header names {name!r} more than once")
        seen.add(name.lower())
        headers.append((name, value))
    return headers


def _header(position: int, entry: str) -> tuple[str, str]:
    """One entry of a header list, checked (``parse_auth_header``)."""
    name, colon, value = entry.partition(":")
    name, value = name.strip(_BLANK), value.strip(_BLANK)
    where = f"auth_header entry {position}"
    if not colon:
        raise ValueError(f"{where} is not 'key:value' (auth_header is 'key1:value1;key2:value2')")
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"{where}: a header name is letters, digits and !#$%&'*+-.^_`|~ only")
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith(_RESERVED_PREFIX):
        raise ValueError(f"auth_header may not set {name!r}: repohub sets it (or signs with it)")
    if not _VALUE.fullmatch(value):
        raise ValueError(f"{where}: a header value is visible ASCII characters, spaces and tabs only")
    return name, value


def _alauda(hook: Hook, notice: Notice, secret: str | None) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    moment = event_time(notice)
    event = ALAUDA_EVENTS[notice.action]
    headers = [
        ("Content-Type", _JSON),
        ("User-Agent", ALAUDA_AGENT),
        ("X-Alauda-Event", event),
        ("X-Alauda-Event-Time", moment),
    ]
    if secret:
        headers.append(("X-Alauda-Signature", alauda_signature(secret, moment)))
    first = notice.resources[0] if notice.resources else None
    data: dict[str, Any] = {
        "repository": notice.path,
        "namespace": notice.namespace,
        "repo_name": notice.repository,
        "tag": first.tag if first is not None else None,
        "digest": first.digest if first is not None else None,
        "tags": [item.tag for item in notice.resources if item.tag is not None],
        "operator": notice.operator,
        "event_time": moment,
    }
    if notice.action == PUSH:
        data["pusher"] = notice.operator
    body = {
        "hook": {"id": hook.id, "subject_type": "image_repo", "subject": hook.subject},
        "data": data,
        "sender": {"username": notice.operator},
    }
    return headers, body


def _harbor(
    notice: Notice, auth_header: str | None, registry_host: str
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    extra = parse_auth_header(auth_header) if auth_header else []
    headers = [("Content-Type", _JSON), ("User-Agent", HARBOR_AGENT), *extra]
    event_data: dict[str, Any] = {}
    if notice.resources:  # Harbor leaves the list out when it is empty (omitempty)
        event_data["resources"] = [_harbor_resource(notice, item, registry_host) for item in notice.resources]
    event_data["repository"] = {
        "name": notice.repository,
        "namespace": notice.namespace,
        "repo_full_name": notice.path,
        "repo_type": "public" if notice.public else "private",
    }
    body = {
        "type": HARBOR_EVENTS[notice.action],
        "occur_at": int(notice.at.timestamp()),
        "operator": notice.operator,
        "event_data": event_data,
    }
    return headers, body


def _harbor_resource(notice: Notice, resource: Resource, registry_host: str) -> dict[str, str]:
    base = f"{registry_host}/{notice.path}"
    if resource.tag is None:
        return {
            "digest": resource.digest,
            "tag": resource.digest,
            "resource_url": f"{base}@{resource.digest}",
        }
    return {"digest": resource.digest, "tag": resource.tag, "resource_url": f"{base}:{resource.tag}"}


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
