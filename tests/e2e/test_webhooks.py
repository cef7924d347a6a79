"""Webhooks end to end: the real registry, skopeo, ``repohub serve`` processes, the SWR SDK, and real
HTTP receivers on loopback ports (``webhook_bed.ThreadedReceiver``).

Each test runs on both databases but the one with two replicas (PostgreSQL only: on SQLite one
process delivers). Hooks are made the way users make them: Alauda's through ``POST /v1/hooks``,
SWR's through the SDK's ``create_instance_webhook``. The servers allow private targets (the
receivers are on 127.0.0.1) but in the test of the refusal, and retry after 0.2 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from huaweicloudsdkswr.v2 import (
    CreateInstanceWebhookRequest,
    CreateWebhookPolicyRequestBody,
    ListInstanceWebhookJobsRequest,
    ListInstanceWebhooksRequest,
    RuleSelector,
    ScopeRule,
    ShowInstanceWebhookRequest,
    Target,
)

from repohub.config import Settings
from tests.compat.test_swr_sdk import refused
from tests.e2e.oci import write_image
from tests.e2e.registry import Skopeo, require_binaries
from tests.e2e.test_registry import EVENTS_TYPE, ok
from tests.e2e.webhook_bed import Bed, Hub, ThreadedReceiver, delivery_id, wait_until
from tests.receiver import Received
from tests.server import free_port
from tests.world import World

SECRET = "alauda-s3cret-7qk2w"
AUTH_HEADER = "X-Token:abc-token-7qk2w;X-Other:def-other-7qk2w"
SECRETS = (SECRET, "abc-token-7qk2w", "def-other-7qk2w")
WEBHOOK_ENV = {"REPOHUB_WEBHOOK_ALLOW_PRIVATE": "true", "REPOHUB_WEBHOOK_BACKOFF": "0.2"}
ALL_ALAUDA = ["image:push", "image:pull", "image:delete"]
ALL_HARBOR = ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"]
WITHIN = 5.0  # seconds from the change to its delivery (the bound)


def alauda_hook(hub: Hub, url: str, *, subject: str = "acme/app", secret: str | None = SECRET) -> int:
    body: dict[str, Any] = {
        "subject_type": "image_repo",
        "subject": subject,
        "events": ALL_ALAUDA,
        "url": url,
    }
    if secret is not None:
        body["secret"] = secret
    made = hub.v1("POST", "/hooks", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def harbor_body(address: str, events: list[str] = ALL_HARBOR) -> CreateWebhookPolicyRequestBody:
    rule = ScopeRule(
        tag_selectors=[RuleSelector(kind="doublestar", decoration="matches", pattern="**")],
        scope_selectors={
            "repository": [RuleSelector(kind="doublestar", decoration="repoMatches", pattern="app")]
        },
        repo_scope_mode="regular",
    )
    return CreateWebhookPolicyRequestBody(
        name="ci",
        description="ci hook",
        targets=[Target(type="http", address=address, auth_header=AUTH_HEADER, address_type="internet")],
        scope_rules=[rule],
        event_types=events,
        enabled=True,
    )


def harbor_policy(hub: Hub, address: str, events: list[str] = ALL_HARBOR) -> int:
    made = hub.sdk().create_instance_webhook(
        CreateInstanceWebhookRequest(
            instance_id=hub.instance, namespace_name="acme", body=harbor_body(address, events)
        )
    )
    assert made.status_code == 201
    return int(made.id)


def jobs(hub: Hub, policy_id: int) -> list[Any]:
    """The policy's jobs through the SDK, newest first."""
    request = ListInstanceWebhookJobsRequest(
        instance_id=hub.instance, namespace_name="acme", policy_id=policy_id, offset=0, limit=100
    )
    answer = hub.sdk().list_instance_webhook_jobs(request)
    assert answer.total == len(answer.jobs)
    return list(answer.jobs)


def alauda_event(name: str) -> Any:
    return lambda request: request.headers.get("x-alauda-event") == name


def harbor_type(name: str) -> Any:
    return lambda request: request.json().get("type") == name


def assert_signed(request: Received, secret: str) -> None:
    """``X-Alauda-Signature`` is ``sha1=`` + HMAC-SHA1(secret, the exact X-Alauda-Event-Time header)."""
    signed = request.headers["x-alauda-event-time"].encode()
    expected = "sha1=" + hmac.new(secret.encode(), signed, hashlib.sha1).hexdigest()
    assert hmac.compare_digest(request.headers["x-alauda-signature"], expected)


def assert_no_secret(bed: Bed, *logs: Path) -> None:
    """No response of the test and no line of the servers' logs (at debug level) carries a secret."""
    assert bed.answers.texts, "no answers were recorded"
    texts = [log.read_text() for log in logs]
    assert all('"logger":"repohub.access"' in text for text in texts)  # the servers' own logs
    for secret in SECRETS:
        assert bed.answers.containing(secret) == [], secret
        assert all(secret not in text for text in texts), secret


# -- 1. push, pull, delete reach both hooks -----------------------------------------------------------


async def test_a_push_pull_and_delete_reach_the_alauda_hook_signed_and_the_swr_policy_harbor_shaped(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    _push_pull_and_delete(await Bed.make(settings, accounts, tmp_path, **WEBHOOK_ENV))


def _push_pull_and_delete(bed: Bed) -> None:
    alauda, harbor = ThreadedReceiver(), ThreadedReceiver()
    image = write_image(bed.tmp_path / "image", "webhooks\n")
    skopeo = Skopeo(bed.tmp_path)
    try:
        with bed.registry() as registry, bed.serve() as (server, hub):
            hook_id = alauda_hook(hub, alauda.url + "/alauda")
            policy_id = harbor_policy(hub, harbor.url + "/harbor")

            ok(skopeo.push(image.layout, f"{registry.host}/acme/app:v1", *bed.push_creds()))
            pushed = time.monotonic()
            [a_push] = alauda.wait_for(1, alauda_event("image:push"), WITHIN)
            [h_push] = harbor.wait_for(1, harbor_type("PUSH_ARTIFACT"), WITHIN)
            assert max(a_push.at, h_push.at) - pushed <= WITHIN
            digest = wait_until(lambda: hub.tags("app").get("v1"), "v1 in the catalogue")
            assert digest == image.digest  # what skopeo pushed, as the catalogue has it
            _alauda_push(a_push, hook_id, digest)
            _harbor_push(h_push, digest, bed.settings.registry_host)

            ok(skopeo.pull(f"{registry.host}/acme/app:v1", bed.tmp_path / "pulled", *bed.pull_creds()))
            pulled = time.monotonic()
            [a_pull] = alauda.wait_for(1, alauda_event("image:pull"), WITHIN)
            [h_pull] = harbor.wait_for(1, harbor_type("PULL_ARTIFACT"), WITHIN)
            assert max(a_pull.at, h_pull.at) - pulled <= WITHIN
            assert (a_pull.json()["data"]["tag"], a_pull.json()["data"]["digest"]) == ("v1", digest)
            assert a_pull.json()["sender"]["username"] == "bob"
            assert h_pull.json()["operator"] == "bob"
            assert h_pull.json()["event_data"]["resources"][0]["digest"] == digest

            deleted = hub.swr("DELETE", "/namespaces/acme/repos/app/tags/v1")
            assert deleted.status_code == 204, deleted.text
            gone = time.monotonic()
            [a_delete] = alauda.wait_for(1, alauda_event("image:delete"), WITHIN)
            [h_delete] = harbor.wait_for(1, harbor_type("DELETE_ARTIFACT"), WITHIN)
            assert max(a_delete.at, h_delete.at) - gone <= WITHIN
            assert a_delete.json()["data"]["tag"] == "v1" and h_delete.json()["operator"] == "carol"
            assert h_delete.json()["event_data"]["resources"][0] == {
                "digest": digest,
                "tag": "v1",
                "resource_url": f"{bed.settings.registry_host}/acme/app:v1",
            }

            everything = alauda.received + harbor.received
            assert len(everything) == 6, [(r.headers.get("x-alauda-event"), r.body[:80]) for r in everything]
            assert len({delivery_id(request) for request in everything}) == 6
            for request in alauda.received:
                assert_signed(request, SECRET)
            for request in harbor.received:
                assert (request.headers["x-token"], request.headers["x-other"]) == (
                    "abc-token-7qk2w",
                    "def-other-7qk2w",
                )
            _read_everything_back(hub, hook_id, policy_id)
        assert_no_secret(bed, server.log)
    finally:
        alauda.close()
        harbor.close()


def _alauda_push(request: Received, hook_id: int, digest: str) -> None:
    assert (request.method, request.path) == ("POST", "/alauda")
    headers = request.headers
    assert headers["user-agent"] == "Alauda/Webhook/1.0"
    assert headers["x-alauda-event"] == "image:push"
    assert headers["content-type"].startswith("application/json")
    uuid.UUID(headers["x-repohub-delivery"])
    assert_signed(request, SECRET)
    body = request.json()
    assert body["hook"] == {"id": hook_id, "subject_type": "image_repo", "subject": "acme/app"}
    data = body["data"]
    assert (data["repository"], data["tag"], data["digest"], data["pusher"]) == (
        "acme/app",
        "v1",
        digest,
        "alice",
    )
    assert data["event_time"] == headers["x-alauda-event-time"]
    assert body["sender"] == {"username": "alice"}


def _harbor_push(request: Received, digest: str, registry_host: str) -> None:
    assert (request.method, request.path) == ("POST", "/harbor")
    assert request.headers["x-token"] == "abc-token-7qk2w"
    assert request.headers["x-other"] == "def-other-7qk2w"
    uuid.UUID(request.headers["x-repohub-delivery"])
    body = request.json()
    assert body["type"] == "PUSH_ARTIFACT" and body["operator"] == "alice"
    assert abs(body["occur_at"] - time.time()) < 60
    assert body["event_data"] == {
        "resources": [{"digest": digest, "tag": "v1", "resource_url": f"{registry_host}/acme/app:v1"}],
        "repository": {
            "name": "app",
            "namespace": "acme",
            "repo_full_name": "acme/app",
            "repo_type": "private",
        },
    }


def _read_everything_back(hub: Hub, hook_id: int, policy_id: int) -> None:
    """Every call that shows a hook, through both dialects: their answers join the checked ones."""
    assert hub.v1("GET", f"/hooks/{hook_id}").status_code == 200
    listed = hub.v1("GET", "/hooks", params={"subject_type": "image_repo", "subject": "acme"})
    assert {item["id"] for item in listed.json()} == {hook_id, policy_id}
    sdk = hub.sdk()
    one = {"instance_id": hub.instance, "namespace_name": "acme", "policy_id": policy_id}
    assert sdk.show_instance_webhook(ShowInstanceWebhookRequest(**one)).name == "ci"
    assert sdk.list_instance_webhooks(ListInstanceWebhooksRequest(instance_id=hub.instance)).total == 2
    found = wait_until(lambda: jobs(hub, policy_id), "three jobs recorded", ready=lambda f: len(f) == 3)
    assert [job.status for job in found] == ["Succeed"] * 3
    assert [job.event_type for job in found] == ["DELETE_ARTIFACT", "PULL_ARTIFACT", "PUSH_ARTIFACT"]


# -- 2. retries ---------------------------------------------------------------------------------------


async def test_a_receiver_failing_twice_gets_the_push_on_the_third_attempt_and_every_attempt_is_a_job(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    _three_attempts(await Bed.make(settings, accounts, tmp_path, **WEBHOOK_ENV))


def _three_attempts(bed: Bed) -> None:
    flaky = ThreadedReceiver(lambda _request: 500 if len(flaky.received) <= 2 else 200)
    image = write_image(bed.tmp_path / "image", "retried\n")
    try:
        with bed.registry() as registry, bed.serve() as (server, hub):
            policy_id = harbor_policy(hub, flaky.url, ["PUSH_ARTIFACT"])
            ok(Skopeo(bed.tmp_path).push(image.layout, f"{registry.host}/acme/app:v1", *bed.push_creds()))
            first, second, third = flaky.wait_for(3, within=15)
            [the_id] = {delivery_id(request) for request in (first, second, third)}
            assert second.at - first.at >= 0.2 and third.at - second.at >= 0.4  # backoff, doubled

            found = wait_until(lambda: jobs(hub, policy_id), "three jobs", ready=lambda f: len(f) == 3)
            assert [(job.status, job.status_text) for job in found] == [
                ("Succeed", "200"),
                ("Failed", "500"),
                ("Failed", "500"),
            ]
            assert {json.loads(job.job_detail)["delivery_id"] for job in found} == {the_id}
            assert {job.event_type for job in found} == {"PUSH_ARTIFACT"}
            [entry] = [item for item in bed.deliveries() if item["delivery_id"] == the_id]
            assert (entry["state"], entry["last_status"]) == ("delivered", "200")
            attempts = [(item["status"], item["status_text"]) for item in entry["attempts"]]
            assert attempts == [("Failed", "500"), ("Failed", "500"), ("Succeed", "200")]  # oldest first
            assert len(flaky.received) == 3
        assert_no_secret(bed, server.log)
    finally:
        flaky.close()


# -- 3. SIGKILL ---------------------------------------------------------------------------------------


async def test_deliveries_in_flight_when_repohub_is_killed_are_made_after_the_restart(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    # The held attempts must still be in flight at the kill (a 4 s timeout), and the restarted server
    # waits out their lease (timeout + 5 s) before it claims them again.
    _killed_and_restarted(
        await Bed.make(settings, accounts, tmp_path, **WEBHOOK_ENV, REPOHUB_WEBHOOK_TIMEOUT="4")
    )


def _killed_and_restarted(bed: Bed) -> None:
    seen: Counter[str] = Counter()

    async def answer(request: Received) -> int:
        seen[delivery_id(request)] += 1
        if seen[delivery_id(request)] == 1:
            return await receiver.hold()  # the first attempt of each stays unanswered: in flight
        return 200

    receiver = ThreadedReceiver(answer)
    skopeo = Skopeo(bed.tmp_path)
    try:
        with bed.registry() as registry:
            with bed.serve() as (first, hub):
                alauda_hook(hub, receiver.url)
                for tag in ("k1", "k2"):
                    image = write_image(bed.tmp_path / tag, f"killed {tag}\n")
                    ok(skopeo.push(image.layout, f"{registry.host}/acme/app:{tag}", *bed.push_creds()))
                held = receiver.wait_for(2, alauda_event("image:push"), WITHIN)
                ids = {delivery_id(request) for request in held}
                assert len(ids) == 2
                os.kill(first.process.pid, signal.SIGKILL)
                assert first.process.wait(timeout=10) == -signal.SIGKILL
            # What the killed server left: both events applied, their deliveries in the outbox, undelivered.
            assert {item["delivery_id"]: item["state"] for item in bed.deliveries()} == dict.fromkeys(
                ids, "pending"
            )
            receiver.release()
            with bed.serve() as (second, hub):
                wait_until(lambda: all(seen[one] >= 2 for one in ids), "both sent again", within=30)
                after = wait_until(
                    lambda: {item["delivery_id"]: item for item in bed.deliveries()},
                    "both recorded as delivered",
                    ready=lambda found: all(found[one]["state"] == "delivered" for one in ids),
                )
                assert set(after) == ids
                assert {after[one]["last_status"] for one in ids} == {"200"}
                time.sleep(1.5)  # more than a poll: nothing is sent a third time
                assert {one: seen[one] for one in ids} == dict.fromkeys(ids, 2)
                assert set(seen) == ids
                for request in receiver.received:
                    assert_signed(request, SECRET)
        assert_no_secret(bed, first.log, second.log)
    finally:
        receiver.close()


# -- 4. two replicas ----------------------------------------------------------------------------------


EVENTS_SECRET = "registry-events-secret-of-the-replicas-test"


def _envelope(tags: list[str]) -> dict[str, Any]:
    """Registry push events for ``tags`` of acme/app, as the registry sends them."""
    return {
        "events": [
            {
                "id": str(uuid.uuid4()),
                "timestamp": "2030-01-01T00:00:00Z",
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "repository": "acme/app",
                    "tag": tag,
                    "digest": "sha256:" + hashlib.sha256(tag.encode()).hexdigest(),
                    "size": 100,
                },
                "request": {"method": "PUT"},
                "actor": {"name": "alice"},
            }
            for tag in tags
        ]
    }


def _succeeded(url: str) -> float:
    """The replica's ``repohub_webhook_attempts_total{outcome="succeeded"}``."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith('repohub_webhook_attempts_total{outcome="succeeded"}'):
            return float(line.split()[-1])
    return 0.0


async def test_two_replicas_share_the_outbox_and_each_delivery_is_made_once(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("replicas share a PostgreSQL database; on SQLite one process delivers")
    bed = await Bed.make(settings, accounts, tmp_path, **WEBHOOK_ENV)
    bed.env.pop("REPOHUB_REGISTRY_URL")  # no registry: the events are posted as it would post them
    bed.env["REPOHUB_REGISTRY_EVENTS_SECRET"] = EVENTS_SECRET
    _two_replicas(bed)


def _two_replicas(bed: Bed) -> None:
    async def slow(_request: Received) -> int:
        await asyncio.sleep(0.01)  # both replicas' claims overlap
        return 200

    receiver = ThreadedReceiver(slow)
    try:
        with bed.serve() as (one, hub), bed.serve(port=free_port()) as (other, _hub):
            hook_id = alauda_hook(hub, receiver.url, subject="acme")
            headers = {
                "Authorization": f"Bearer {EVENTS_SECRET}",
                "Content-Type": EVENTS_TYPE,
            }
            count, each = 60, 5
            for batch in range(count // each):
                tags = [f"t{batch}-{n}" for n in range(each)]
                target = (one, other)[batch % 2].url
                answer = httpx.post(
                    f"{target}/registry/events", json=_envelope(tags), headers=headers, timeout=30
                )
                assert answer.status_code == 200 and answer.json()["applied"] == each, answer.text
            receiver.wait_for(count, within=30)
            wait_until(
                bed.deliveries,
                "every delivery recorded",
                ready=lambda found: len(found) == count and {i["state"] for i in found} == {"delivered"},
            )
            time.sleep(1.5)  # more than a poll of either replica: no second sending
            ids = Counter(delivery_id(request) for request in receiver.received)
            assert len(ids) == count and set(ids.values()) == {1}
            assert {item["delivery_id"] for item in bed.deliveries()} == set(ids)
            assert {request.json()["data"]["tag"] for request in receiver.received} == {
                f"t{b}-{n}" for b in range(count // each) for n in range(each)
            }
            found = jobs(hub, hook_id)  # one attempt each, by whichever replica claimed it
            assert sorted(json.loads(job.job_detail)["delivery_id"] for job in found) == sorted(ids)
            assert {job.status for job in found} == {"Succeed"}
            made = (_succeeded(one.url), _succeeded(other.url))
            assert sum(made) == count, made  # between them (how they shared it varies)
    finally:
        receiver.close()


# -- 5. private targets -------------------------------------------------------------------------------

PRIVATE = ("http://127.0.0.1:8080/hook", "http://10.0.0.1/", "http://169.254.169.254/")


async def test_private_targets_are_refused_with_a_400_in_each_dialect(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    assert "REPOHUB_WEBHOOK_ALLOW_PRIVATE" not in os.environ
    _refused(await Bed.make(settings, accounts, tmp_path))


def _refused(bed: Bed) -> None:
    with bed.serve() as (server, hub):
        for url in PRIVATE:
            body = {"subject_type": "image_repo", "subject": "acme/app", "events": ALL_ALAUDA, "url": url}
            answer = hub.v1("POST", "/hooks", json={**body, "secret": SECRET})
            assert answer.status_code == 400, answer.text
            assert set(answer.json()) == {"detail", "code"} and "private" in answer.json()["detail"]
            request = CreateInstanceWebhookRequest(
                instance_id=hub.instance, namespace_name="acme", body=harbor_body(url)
            )
            error = refused(lambda request=request: hub.sdk().create_instance_webhook(request), 400)
            assert error.error_code and "private" in error.error_msg
        assert hub.v1("GET", "/hooks").json() == []
        assert (
            hub.sdk().list_instance_webhooks(ListInstanceWebhooksRequest(instance_id=hub.instance)).total == 0
        )
    assert_no_secret(bed, server.log)
