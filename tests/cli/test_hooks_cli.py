"""``repohub hooks deliveries``: what the outbox's deliveries came to, newest first, ``--failed`` alone."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta

from fastapi import FastAPI

from repohub.config import Settings
from repohub.domain.webhooks.delivery import Attempt
from repohub.domain.webhooks.payloads import Request
from tests.domain.test_webhook_delivery import (
    acme,
    add_hook,
    enqueue,
    jobs,
    receiver,
    running,
    settled,
    until,
)
from tests.receiver import Receiver
from tests.server import REPOHUB, settings_env

__all__ = ["acme", "receiver"]  # fixtures, used by name


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPOHUB), *args], env=settings_env(settings), capture_output=True, text=True, timeout=120
    )


async def test_deliveries_are_listed_newest_first_and_failed_ones_alone(
    app: FastAPI, settings: Settings, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url)
    [delivered] = await enqueue(app, hook_id)
    async with running(app):
        await until(lambda: settled(app, delivered))
    [failed] = await enqueue(app, hook_id)
    async with running(app, max_age=timedelta(0)):  # expired before its first attempt
        await until(lambda: settled(app, failed))

    listed = _run(settings, "hooks", "deliveries", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(entry["delivery_id"], entry["state"]) for entry in entries] == [
        (failed, "failed"),
        (delivered, "delivered"),
    ]
    assert entries[1] | {"attempts": [], "next_attempt_at": "", "created_at": "", "updated_at": ""} == {
        "delivery_id": delivered,
        "hook_id": hook_id,
        "namespace": "acme",
        "url": receiver.url,
        "action": "push",
        "state": "delivered",
        "attempts": [],
        "last_status": "200",
        "next_attempt_at": "",
        "created_at": "",
        "updated_at": "",
    }
    [attempt] = entries[1]["attempts"]
    assert attempt | {"duration_ms": 0, "at": ""} == {
        "status": "Succeed",
        "status_text": "200",
        "response_code": 200,
        "duration_ms": 0,
        "at": "",
    }
    assert entries[0]["attempts"] == []  # expired before its first attempt

    only_failed = _run(settings, "hooks", "deliveries", "--failed")
    assert only_failed.returncode == 0, only_failed.stderr
    header, *rows = only_failed.stdout.splitlines()  # no attempt line: the failed one made none
    assert header.split("\t")[:7] == [
        "delivery_id",
        "hook_id",
        "namespace",
        "action",
        "state",
        "attempts",
        "last_status",
    ]
    assert [row.split("\t")[:5] for row in rows] == [[failed, str(hook_id), "acme", "push", "failed"]]
    assert rows[0].split("\t")[6].startswith("expired")

    newest = json.loads(_run(settings, "hooks", "deliveries", "--json", "--limit", "1").stdout)
    assert [entry["delivery_id"] for entry in newest] == [failed]


async def test_each_attempt_is_listed_oldest_first_under_its_delivery(
    app: FastAPI, settings: Settings, acme: tuple[int, int], receiver: Receiver
) -> None:
    receiver.answer = lambda _request: 500 if len(receiver.received) <= 2 else 200
    hook_id = await add_hook(app, acme, receiver.url)
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app, backoff=0.05):
        await until(lambda: settled(app, delivery_id))

    [entry] = json.loads(_run(settings, "hooks", "deliveries", "--json").stdout)
    attempts = entry["attempts"]
    assert [(item["status"], item["status_text"], item["response_code"]) for item in attempts] == [
        ("Failed", "500", 500),
        ("Failed", "500", 500),
        ("Succeed", "200", 200),
    ]
    times = [datetime.fromisoformat(item["at"]) for item in attempts]
    assert times == sorted(times) and len(set(times)) == 3
    assert all(isinstance(item["duration_ms"], int) and item["duration_ms"] >= 0 for item in attempts)

    text = _run(settings, "hooks", "deliveries")
    assert text.returncode == 0, text.stderr
    _header, delivery, *lines = text.stdout.splitlines()
    assert delivery.split("\t")[:7] == [delivery_id, str(hook_id), "acme", "push", "delivered", "3", "200"]
    assert [line.split("\t")[:4] for line in lines] == [
        ["  attempt 1", "Failed", "500", "500"],
        ["  attempt 2", "Failed", "500", "500"],
        ["  attempt 3", "Succeed", "200", "200"],
    ]
    assert [line.split("\t")[4:] for line in lines] == [
        [f"{item['duration_ms']} ms", item["at"]] for item in attempts
    ]


class Refusing:
    """A sender whose every attempt fails with an error text full of breaks, as a network error's may be."""

    async def send(self, request: Request, *, skip_cert_verify: bool) -> Attempt:
        return Attempt(None, "refused\tby peer\nretry\r\x0bnow\u2028\\", 3)


async def test_breaks_in_an_error_text_are_escaped_in_the_text_form_and_kept_in_json(
    app: FastAPI, settings: Settings, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url)
    [delivery_id] = await enqueue(app, hook_id)

    async def attempted() -> bool:
        return bool(await jobs(app))

    async with running(app, sender=Refusing(), backoff=60):
        await until(attempted)

    error = "refused\tby peer\nretry\r\x0bnow\u2028\\"
    [entry] = json.loads(_run(settings, "hooks", "deliveries", "--json").stdout)
    assert entry["last_status"] == error
    assert entry["attempts"] == [
        {
            "status": "Failed",
            "status_text": error,
            "response_code": None,
            "duration_ms": 3,
            "at": entry["attempts"][0]["at"],
        }
    ]
    escaped = "refused\\tby peer\\nretry\\r\\x0bnow\\u2028\\\\"
    header, delivery, attempt = _run(settings, "hooks", "deliveries").stdout.splitlines()
    assert len(delivery.split("\t")) == len(header.split("\t"))
    assert delivery.split("\t")[:7] == [delivery_id, str(hook_id), "acme", "push", "pending", "1", escaped]
    assert attempt.split("\t")[:5] == ["  attempt 1", "Failed", escaped, "-", "3 ms"]


async def test_the_attempts_of_a_listing_longer_than_a_statements_parameter_limit_are_read_at_once(
    app: FastAPI, acme: tuple[int, int], receiver: Receiver
) -> None:
    hook_id = await add_hook(app, acme, receiver.url)
    [delivery_id] = await enqueue(app, hook_id)
    async with running(app):
        await until(lambda: settled(app, delivery_id))
    wanted = [f"missing-{index}" for index in range(40_000)] + [delivery_id]  # asyncpg allows 32,767
    store = app.state.repohub.database.store()
    try:
        found = await store.webhooks.attempts_of(wanted)
    finally:
        await store.session.close()
    assert list(found) == [delivery_id]
    assert [(item.status, item.response_code) for item in found[delivery_id]] == [("Succeed", 200)]
