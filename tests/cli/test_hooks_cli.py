"""``repohub hooks deliveries``: what the outbox's deliveries came to, newest first, ``--failed`` alone."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

from fastapi import FastAPI

from repohub.config import Settings
from tests.domain.test_webhook_delivery import acme, add_hook, enqueue, receiver, running, settled, until
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
    assert entries[1] | {"next_attempt_at": "", "created_at": "", "updated_at": ""} == {
        "delivery_id": delivered,
        "hook_id": hook_id,
        "namespace": "acme",
        "url": receiver.url,
        "action": "push",
        "state": "delivered",
        "attempts": 1,
        "last_status": "200",
        "next_attempt_at": "",
        "created_at": "",
        "updated_at": "",
    }

    only_failed = _run(settings, "hooks", "deliveries", "--failed")
    assert only_failed.returncode == 0, only_failed.stderr
    header, *rows = only_failed.stdout.splitlines()
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
