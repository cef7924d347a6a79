"""A notice rendered for a hook: Alauda's signed request, Harbor's payload, SWR's header list."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from repohub.domain.webhooks.hooks import FORMAT_ALAUDA, FORMAT_HARBOR, Hook, HookSpec
from repohub.domain.webhooks.outbox import Notice, Resource
from repohub.domain.webhooks.payloads import auth_headers, render

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


def test_an_auth_header_cannot_replace_the_requests_own_framing_or_delivery_id() -> None:
    headers = auth_headers("Host: evil.test;Content-Length: 1;X-Repohub-Delivery: forged;X-Ok: 1")
    assert headers == [("X-Ok", "1")]


@pytest.mark.parametrize("bad", ["novalue", ": empty-name", "X-A: 1\r\nX-B: 2", "Bad Name: 1"])
def test_an_auth_header_that_is_not_a_header_list_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="auth_header"):
        auth_headers(bad)
