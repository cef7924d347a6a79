"""A notice rendered for a hook: Alauda's signed request, Harbor's payload, SWR's header list."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from repohub.domain.webhooks.hooks import FORMAT_ALAUDA, FORMAT_HARBOR, Hook, HookSpec
from repohub.domain.webhooks.outbox import Notice, Resource
from repohub.domain.webhooks.payloads import MAX_AUTH_HEADER, parse_auth_header, render

AT = datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
D1 = "sha256:" + "1" * 64


def hook(format: str, **spec: object) -> Hook:
    made = HookSpec(format=format, url="http://receiver.test/in", events=frozenset({"push"}), **spec)
    return Hook(7, 1, "acme", made, "owner", AT, AT)


def notice(action: str = "push", *resources: Resource, public: bool = False) -> Notice:
    return Notice(action, "acme", "team/app", resources or (Resource("v1", D1),), "alice", AT, public)


def verify_alauda(headers: dict[str, str], secret: str) -> bool:
    """What a receiver does, per Alauda's documentation: HMAC-SHA1 of the event time header."""
    expected = (
        "sha1=" + hmac.new(secret.encode(), headers["X-Alauda-Event-Time"].encode(), hashlib.sha1).hexdigest()
    )
    return hmac.compare_digest(headers["X-Alauda-Signature"], expected)


def test_an_alauda_request_is_signed_over_its_event_time_header() -> None:
    request = render(
        hook(FORMAT_ALAUDA, repository="team/app"),
        notice(),
        "d-1",
        secret="s3cret",
        auth_header=None,
        registry_host="registry.example.test:5000",
    )
    headers = dict(request.headers)
    assert headers["User-Agent"] == "Alauda/Webhook/1.0"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Alauda-Event"] == "image:push"
    assert headers["X-Alauda-Event-Time"] == "2025-03-01T10:00:00.123456Z"
    assert headers["X-Repohub-Delivery"] == "d-1"
    assert verify_alauda(headers, "s3cret")
    assert not verify_alauda(headers, "another")
    assert request.url == "http://receiver.test/in"
    assert json.loads(request.body) == {
        "hook": {"id": 7, "subject_type": "image_repo", "subject": "acme/team/app"},
        "data": {
            "repository": "acme/team/app",
            "namespace": "acme",
            "repo_name": "team/app",
            "tag": "v1",
            "digest": D1,
            "tags": ["v1"],
            "operator": "alice",
            "pusher": "alice",
            "event_time": "2025-03-01T10:00:00.123456Z",
        },
        "sender": {"username": "alice"},
    }


def test_an_alauda_hook_without_a_secret_sends_no_signature() -> None:
    request = render(
        hook(FORMAT_ALAUDA), notice("delete"), "d", secret=None, auth_header=None, registry_host="r"
    )
    headers = dict(request.headers)
    assert "X-Alauda-Signature" not in headers
    assert headers["X-Alauda-Event"] == "image:delete"
    body = json.loads(request.body)
    assert body["hook"]["subject"] == "acme"  # a namespace-wide hook
    assert "pusher" not in body["data"]


def test_a_harbor_payload_has_harbors_fields_and_a_digest_for_a_tagless_resource() -> None:
    resources = (Resource("v1", D1), Resource(None, D1))
    request = render(
        hook(FORMAT_HARBOR),
        notice("pull", *resources, public=True),
        "d-2",
        secret=None,
        auth_header=None,
        registry_host="registry.example.test:5000",
    )
    assert dict(request.headers)["X-Repohub-Delivery"] == "d-2"
    assert json.loads(request.body) == {
        "type": "PULL_ARTIFACT",
        "occur_at": int(AT.timestamp()),
        "operator": "alice",
        "event_data": {
            "resources": [
                {"digest": D1, "tag": "v1", "resource_url": "registry.example.test:5000/acme/team/app:v1"},
                {"digest": D1, "tag": D1, "resource_url": f"registry.example.test:5000/acme/team/app@{D1}"},
            ],
            "repository": {
                "name": "team/app",
                "namespace": "acme",
                "repo_full_name": "acme/team/app",
                "repo_type": "public",
            },
        },
    }


def test_a_harbor_delete_of_a_whole_private_repository_has_no_resources() -> None:
    gone = Notice("delete", "acme", "app", (), "bob", AT, False)
    body = json.loads(
        render(hook(FORMAT_HARBOR), gone, "d", secret=None, auth_header=None, registry_host="r").body
    )
    assert body["type"] == "DELETE_ARTIFACT"
    assert "resources" not in body["event_data"]
    assert body["event_data"]["repository"]["repo_type"] == "private"


def test_a_harbor_policys_auth_header_is_sent_as_its_headers() -> None:
    request = render(
        hook(FORMAT_HARBOR),
        notice(),
        "d",
        secret=None,
        auth_header="Authorization: Bearer a:b ; X-Team:ci;;",
        registry_host="r",
    )
    assert ("Authorization", "Bearer a:b") in request.headers
    assert ("X-Team", "ci") in request.headers


def test_a_header_list_is_parsed_in_order_stripped_with_empty_entries_skipped() -> None:
    assert parse_auth_header(" Authorization : Bearer a:b ;;X-Team:\tci\t; X-Empty: ;x-tab:a\tb ") == [
        ("Authorization", "Bearer a:b"),
        ("X-Team", "ci"),
        ("X-Empty", ""),
        ("x-tab", "a\tb"),
    ]
    assert parse_auth_header("") == [] and parse_auth_header(" ; ;") == []


def test_a_header_list_at_the_length_limit_is_parsed_and_one_more_character_refused() -> None:
    at_limit = "X-A:" + "v" * (MAX_AUTH_HEADER - 4)
    assert parse_auth_header(at_limit) == [("X-A", "v" * (MAX_AUTH_HEADER - 4))]
    with pytest.raises(ValueError, match="at most 4096"):
        parse_auth_header(at_limit + "v")


REFUSED_LISTS = {
    "a non-ASCII value": "X-A:€",
    "a non-ASCII name": "Nämé:1",
    "a DEL in the value": "X-A:a\x7fb",
    "a NUL in the value": "X-A:a\x00b",
    "a line break in a value": "X-A:1\r\nX-B:2",
    "a trailing line feed": "X-A:1\n",
    "no colon": "novalue",
    "an empty name": ": value",
    "a name with a space": "Bad Name:1",
    "the delivery id": "X-Repohub-Delivery:x",
    "the delivery id in lower case": "x-repohub-delivery:x",
    "Content-Type": "Content-Type:",
    "User-Agent": "User-Agent:me/1.0",
    "Host": "Host:evil.test",
    "Content-Length": "content-length:1",
    "Transfer-Encoding": "Transfer-Encoding:chunked",
    "Connection": "Connection:close",
    "an Alauda signature": "X-Alauda-Signature:sha1=00",
    "any Alauda header": "x-alauda-event:image:push",
    "a header twice": "X-Team:a;x-team:b",
}


@pytest.mark.parametrize("bad", list(REFUSED_LISTS.values()), ids=list(REFUSED_LISTS))
def test_a_header_list_breaking_a_rule_is_refused_naming_auth_header(bad: str) -> None:
    with pytest.raises(ValueError, match="auth_header"):
        parse_auth_header(bad)


def test_a_refusal_does_not_quote_the_secret_value() -> None:
    with pytest.raises(ValueError) as caught:
        parse_auth_header("Authorization:Bearer s3cret€;X-Team:ci")
    assert "s3cret" not in str(caught.value) and "entry 1" in str(caught.value)


def test_rendering_refuses_a_header_list_rather_than_dropping_or_doubling_headers() -> None:
    for bad in ("X-Repohub-Delivery:forged", "Content-Type:text/plain", "X-A:€"):
        with pytest.raises(ValueError, match="auth_header"):
            render(hook(FORMAT_HARBOR), notice(), "d", secret=None, auth_header=bad, registry_host="r")


def test_a_rendered_harbor_request_carries_each_header_once() -> None:
    request = render(
        hook(FORMAT_HARBOR), notice(), "d", secret=None, auth_header="X-Team:ci", registry_host="r"
    )
    names = [name.lower() for name, _ in request.headers]
    assert sorted(names) == sorted(set(names))
    assert request.headers[-2:] == (("X-Team", "ci"), ("X-Repohub-Delivery", "d"))
