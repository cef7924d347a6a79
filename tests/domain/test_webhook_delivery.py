"""The delivery worker over a real database (SQLite and PostgreSQL) and a real receiver on loopback.

Deliveries are written as a change writes them (``store.outbox.add``, or ``outbox.enqueue`` in a
transaction), to hooks added straight through the store; workers run as the app runs them, over its
database, with short timings (backoff 0.05 s, poll 0.1 s, a lease of about a second).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from repohub.app import create_app
from repohub.config import Settings
from repohub.domain.clock import utcnow
from repohub.domain.webhooks import outbox
from repohub.domain.webhooks.delivery import Attempt, DeliveryWorker, Sender, Tuning
from repohub.domain.webhooks.hooks import EVENTS, FORMAT_ALAUDA, FORMAT_HARBOR, HookSpec, NewDelivery
from repohub.domain.webhooks.outbox import Notice, Resource
from repohub.domain.webhooks.payloads import Request
from repohub.outbound.sender import HttpSender
from repohub.store.tables import WebhookDeliveryRow, WebhookJobRow
from tests.receiver import Receiver
from tests.world import World

D1 = "sha256:" + "a" * 64


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    await made.start()
    yield made
    await made.close()


@pytest.fixture
async def acme(world: World) -> tuple[int, int]:
    """The organisation acme (its id) and its owner's id."""
    owner = await world.account("owner")
    return await world.org("acme", owner="owner"), owner.id


async def add_hook(
    app: FastAPI,
    acme: tuple[int, int],
    url: str,
    *,
    format: str = FORMAT_ALAUDA,
    secret: str | None = None,
    auth_header: str | None = None,
    enabled: bool = True,
) -> int:
    box = app.state.repohub.secret_box
    spec = HookSpec(
        format=format,
        url=url,
        events=frozenset(EVENTS),
        enabled=enabled,
        secret=box.seal(secret) if secret else None,
        auth_header=box.seal(auth_header) if auth_header else None,
    )
    store = app.state.repohub.database.store()
    try:
        async with store.transaction():
            return await store.webhooks.add(acme[0], spec, creator_id=acme[1], creator="owner")
    finally:
        await store.session.close()


def notice(tag: str = "v1") -> Notice:
    return Notice("push", "acme", "app", (Resource(tag, D1),), "alice", utcnow(), False)


async def enqueue(app: FastAPI, hook_id: int, count: int = 1) -> list[str]:
    now = utcnow()
    rows = [NewDelivery(hook_id, "push", notice(f"v{index}").to_json(), now) for index in range(count)]
    store = app.state.repohub.database.store()
    try:
        async with store.transaction():
            await store.outbox.add(rows)
    finally:
        await store.session.close()
    return [row.delivery_id for row in rows]


async def deliveries(app: FastAPI) -> dict[str, tuple[str, int, str]]:
    """delivery id → (state, attempts, last_status)."""
    async with app.state.repohub.sessions() as session:
        rows = await session.execute(
            select(
                WebhookDeliveryRow.delivery_id,
                WebhookDeliveryRow.state,
                WebhookDeliveryRow.attempts,
                WebhookDeliveryRow.last_status,
            )
        )
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


async def jobs(app: FastAPI) -> list[tuple[str, str, int | None]]:
    """(status, status_text, response_code) of every attempt, in order."""
    async with app.state.repohub.sessions() as session:
        rows = await session.execute(
            select(WebhookJobRow.status, WebhookJobRow.status_text, WebhookJobRow.response_code).order_by(
                WebhookJobRow.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def until(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within} s"
        await asyncio.sleep(0.05)


async def settled(app: FastAPI, delivery_id: str) -> bool:
    return (await deliveries(app))[delivery_id][0] != "pending"


@asynccontextmanager
async def running(
    app: FastAPI, *, sender: Sender | None = None, allow_private: bool = True, **tuning: Any
) -> AsyncIterator[DeliveryWorker]:
    """A worker over the app's database (the app's own runs none in tests), until the block ends."""
    state = app.state.repohub
    values: dict[str, Any] = {
        "registry_host": "registry.example.test",
        "backoff": 0.05,
        "timeout": 2.0,
        "poll": 0.1,
        "lease_margin": 0.5,
        **tuning,
    }
    async with HttpSender(timeout=values["timeout"], allow_private=allow_private) as http:
        worker = DeliveryWorker(
            state.database.store,
            sender or http,
            state.secret_box,
            Tuning(**values),
            state.database.memory.webhook_nudge,
        )
        task = asyncio.create_task(worker.run_forever())
        try:
            yield worker
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_due_delivery_is_posted_signed_and_recorded_as_one_succeeded_job(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url + "/in", secret="s3cret")
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app):
        [request] = await receiver.wait_for(1)
        await until(lambda: settled(app, delivery_id))
    assert request.method == "POST" and request.path == "/in"
    assert request.headers["x-repohub-delivery"] == delivery_id
    assert request.headers["host"] == f"127.0.0.1:{receiver.port}"
    signed = request.headers["x-alauda-event-time"].encode()
    expected = "sha1=" + hmac.new(b"s3cret", signed, hashlib.sha1).hexdigest()
    assert hmac.compare_digest(request.headers["x-alauda-signature"], expected)
    assert request.json()["data"]["repository"] == "acme/app"
    assert await deliveries(app) == {delivery_id: ("delivered", 1, "200")}
    assert await jobs(app) == [("Succeed", "200", 200)]


async def test_a_receiver_failing_twice_gets_the_delivery_on_the_third_attempt(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    receiver.answer = lambda _request: 500 if len(receiver.received) <= 2 else 200
    hook_id = await add_hook(app, acme, receiver.url)
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app, backoff=0.05):
        first, second, third = await receiver.wait_for(3)
        await until(lambda: settled(app, delivery_id))
    assert {item.headers["x-repohub-delivery"] for item in (first, second, third)} == {delivery_id}
    assert second.at - first.at >= 0.05  # the backoff, then twice it
    assert third.at - second.at >= 0.1
    assert await jobs(app) == [("Failed", "500", 500), ("Failed", "500", 500), ("Succeed", "200", 200)]
    assert await deliveries(app) == {delivery_id: ("delivered", 3, "200")}
    await asyncio.sleep(0.3)
    assert len(receiver.received) == 3  # delivered once: never again


async def test_a_delivery_already_expired_is_failed_without_an_attempt(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url)
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app, max_age=timedelta(0)):  # REPOHUB_WEBHOOK_MAX_AGE gone by at the claim
        await until(lambda: settled(app, delivery_id))
    state, attempts, last_status = (await deliveries(app))[delivery_id]
    assert (state, attempts) == ("failed", 0)
    assert last_status.startswith("expired")
    assert await jobs(app) == []
    assert receiver.connections == 0


async def test_a_delivery_failing_until_it_expires_is_failed_after_its_last_attempt(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    receiver.answer = lambda _request: 503
    hook_id = await add_hook(app, acme, receiver.url)
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app, backoff=0.05, max_age=timedelta(seconds=0.6)):
        await until(lambda: settled(app, delivery_id))
    state, attempts, last_status = (await deliveries(app))[delivery_id]
    assert (state, last_status) == ("failed", "503")
    assert attempts >= 3 and attempts == len(receiver.received)
    assert await jobs(app) == [("Failed", "503", 503)] * attempts


async def test_a_target_that_turned_private_is_a_failed_attempt_without_a_connection(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url)  # allowed when made, loopback at delivery
    [delivery_id] = await enqueue(app, hook_id)

    async def attempted() -> bool:
        return bool(await jobs(app))

    async with running(app, allow_private=False, backoff=60):
        await until(attempted)
    [(status, status_text, code)] = await jobs(app)
    assert (status, code) == ("Failed", None)
    assert status_text.startswith("unsafe target:") and "private" in status_text
    state, attempts, _ = (await deliveries(app))[delivery_id]
    assert (state, attempts) == ("pending", 1)  # retried later: DNS may change back
    assert receiver.connections == 0


async def test_a_harbor_policy_is_sent_its_auth_headers(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(
        app, acme, receiver.url, format=FORMAT_HARBOR, auth_header="Authorization: Bearer t0k;X-Team: ci"
    )
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app):
        [request] = await receiver.wait_for(1)
        await until(lambda: settled(app, delivery_id))
    assert request.headers["authorization"] == "Bearer t0k"
    assert request.headers["x-team"] == "ci"
    body = request.json()
    assert body["type"] == "PUSH_ARTIFACT"
    assert body["event_data"]["resources"][0]["resource_url"] == "registry.example.test/acme/app:v0"


async def test_an_enqueue_wakes_an_idle_worker_before_its_next_poll(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    await add_hook(app, acme, receiver.url)
    async with running(app, poll=5.0):
        await asyncio.sleep(0.3)  # claimed nothing: waits up to 5 s
        store = app.state.repohub.database.store()
        try:
            async with store.transaction():
                assert await outbox.enqueue(store, [notice()]) == 1
        finally:
            await store.session.close()
        committed = time.monotonic()
        [request] = await receiver.wait_for(1, within=5.0)
    assert request.at - committed < 1.0


async def test_a_disabled_hooks_pending_deliveries_are_failed_without_an_attempt(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    """Written while it was enabled, due after it was disabled: settled, not left in the due index."""
    hook_id = await add_hook(app, acme, receiver.url, enabled=False)
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app):
        await until(lambda: settled(app, delivery_id))
    assert await deliveries(app) == {delivery_id: ("failed", 0, "not delivered: the hook was disabled")}
    assert await jobs(app) == []
    assert receiver.connections == 0


class Hanging:
    """A sender whose requests never end (a worker killed mid-attempt)."""

    def __init__(self) -> None:
        self.started = asyncio.Event()

    async def send(self, request: Request, *, skip_cert_verify: bool) -> Attempt:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_worker_cancelled_after_claiming_leaves_the_row_due_again_after_its_lease(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url)
    [delivery_id] = await enqueue(app, hook_id)
    hanging = Hanging()
    before_claim = time.monotonic()
    async with running(app, sender=hanging, timeout=0.5, lease_margin=0.5):  # a lease of 1 s
        await asyncio.wait_for(hanging.started.wait(), 5)
    assert await deliveries(app) == {delivery_id: ("pending", 0, "")}
    async with running(app, timeout=0.5, lease_margin=0.5):
        [request] = await receiver.wait_for(1)
        await until(lambda: settled(app, delivery_id))
    assert request.at - before_claim >= 0.9  # not before the first worker's lease ran out
    assert await deliveries(app) == {delivery_id: ("delivered", 1, "200")}


async def test_two_workers_deliver_each_of_200_deliveries_exactly_once(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url)
    enqueued = await enqueue(app, hook_id, 200)

    async def all_settled() -> bool:
        return all(state == "delivered" for state, _, _ in (await deliveries(app)).values())

    async with running(app, concurrency=8) as one, running(app, concurrency=8) as other:
        await receiver.wait_for(200, within=30.0)
        await until(all_settled, within=30.0)
        await asyncio.sleep(0.3)  # any second delivery would arrive by now
    received = Counter(item.headers["x-repohub-delivery"] for item in receiver.received)
    assert set(received) == set(enqueued)
    assert set(received.values()) == {1}
    assert one.counts["succeeded"] + other.counts["succeeded"] == 200
    assert one.counts["succeeded"] > 0 and other.counts["succeeded"] > 0


class DeletingHook:
    """A sender that deletes the hook while its first request is out, then answers 200."""

    def __init__(self, app: FastAPI, hook_id: int, inner: Sender) -> None:
        self.app, self.hook_id, self.inner, self.deleted = app, hook_id, inner, False

    async def send(self, request: Request, *, skip_cert_verify: bool) -> Attempt:
        if not self.deleted:
            self.deleted = True
            store = self.app.state.repohub.database.store()
            try:
                async with store.transaction():
                    hook = (await store.webhooks.by_ids({self.hook_id}))[self.hook_id]
                    await store.webhooks.delete(hook.id, namespace_id=hook.namespace_id)
            finally:
                await store.session.close()
            return Attempt(200, None, 1)
        return await self.inner.send(request, skip_cert_verify=skip_cert_verify)


async def test_a_hook_deleted_during_its_attempt_loses_the_outcome_and_nothing_else(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    doomed = await add_hook(app, acme, receiver.url)
    await enqueue(app, doomed)
    async with HttpSender(timeout=2, allow_private=True) as http:
        sender = DeletingHook(app, doomed, http)
        async with running(app, sender=sender):
            await until(lambda: asyncio.sleep(0, result=sender.deleted))
            kept = await add_hook(app, acme, receiver.url)
            [delivery_id] = await enqueue(app, kept)
            [request] = await receiver.wait_for(1)
            await until(lambda: settled(app, delivery_id))
    assert request.headers["x-repohub-delivery"] == delivery_id
    assert await deliveries(app) == {delivery_id: ("delivered", 1, "200")}
    assert await jobs(app) == [("Succeed", "200", 200)]


async def test_the_apps_lifespan_runs_a_delivery_worker_and_stops_it(
    app: FastAPI, settings: Settings, acme: tuple[int, int], receiver: Receiver
) -> None:
    serving = create_app(
        settings.model_copy(update={"webhook_delivery": True, "webhook_allow_private": True})
    )
    async with serving.router.lifespan_context(serving):
        hook_id = await add_hook(app, acme, receiver.url)
        [delivery_id] = await enqueue(app, hook_id)
        await receiver.wait_for(1)
        await until(lambda: settled(app, delivery_id))
    assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("repohub-webhook")]
    assert await deliveries(app) == {delivery_id: ("delivered", 1, "200")}
