"""What the webhook end-to-end tests share: a receiver on its own thread, a recorder of every answer,
and the bed (users, the registry's config, ``repohub serve`` with webhook settings).

The receiver (``tests.receiver.Receiver``) runs in an event loop of its own thread, not the test's:
the test drives skopeo, the SDK and httpx synchronously, and a receiver in the test's loop would not
accept a delivery while skopeo runs (the sender would time out on it, or the arrival time would be
when skopeo finished, not when the request came). Arrival times are ``time.monotonic()``, the
clock the test measures "within 5 s of the push" with.

``Answers`` keeps the text of every response the test was given, by httpx or by the SDK, so a test
can say a secret is in none of them.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from huaweicloudsdkcore.http.http_handler import HttpHandler
from huaweicloudsdkswr.v2 import SwrClient

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.compat.test_swr_sdk import swr_client
from tests.e2e.registry import Registry, registry_config, running_registry
from tests.receiver import Answer, Received, Receiver
from tests.server import Server, cli, free_port, serve
from tests.world import World

__all__ = ["Answers", "Bed", "Hub", "ThreadedReceiver", "delivery_id", "wait_until"]

T = TypeVar("T")
DELIVERY = "x-repohub-delivery"


def delivery_id(request: Received) -> str:
    return request.headers[DELIVERY]


def wait_until(
    fetch: Callable[[], T], what: str, *, ready: Callable[[T], Any] = bool, within: float = 20.0
) -> T:
    """``fetch()`` once ``ready`` says yes of it (truthy by default); AssertionError naming ``what``
    after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not ready(value := fetch()):
        assert time.monotonic() < deadline, f"not within {within} s: {what} (last: {value!r:.300})"
        time.sleep(0.05)
    return value


class ThreadedReceiver:
    """A ``Receiver`` served by an event loop on a thread of its own (module doc). ``answer`` runs
    in that loop: an async one may wait there (``hold``) without holding up the test."""

    def __init__(self, answer: Answer | None = None) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        self.inner = Receiver() if answer is None else Receiver(answer=answer)
        self.url = self._run(self.inner.start())
        self._released: asyncio.Event | None = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    @property
    def received(self) -> list[Received]:
        return list(self.inner.received)

    def where(self, predicate: Callable[[Received], bool]) -> list[Received]:
        return [request for request in self.received if predicate(request)]

    def wait_for(
        self, count: int, predicate: Callable[[Received], bool] = lambda _r: True, within: float = 10.0
    ) -> list[Received]:
        """The requests ``predicate`` selects, once there are at least ``count`` of them."""
        return wait_until(
            lambda: self.where(predicate),
            f"{count} matching requests at the receiver",
            ready=lambda found: len(found) >= count,
            within=within,
        )

    async def hold(self) -> int:
        """An answer that waits until ``release`` (the request stays in flight), then says 200."""
        if self._released is None:
            self._released = asyncio.Event()
        await self._released.wait()
        return 200

    def release(self) -> None:
        if self._released is not None:
            self._loop.call_soon_threadsafe(self._released.set)

    def close(self) -> None:
        self.release()
        self._run(self.inner.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


@dataclass
class Answers:
    """The text of every response the test received (httpx's and the SDK's)."""

    texts: list[str] = field(default_factory=list)

    def keep(self, response: httpx.Response) -> None:
        response.read()
        self.texts.append(response.text)

    def handler(self) -> HttpHandler:
        return HttpHandler().add_response_handler(lambda **kw: self.texts.append(kw["response"].text))

    def containing(self, secret: str) -> list[str]:
        return [text for text in self.texts if secret in text]


@dataclass
class Hub:
    """A running repohub as the test's users call it, every answer kept in ``answers``."""

    url: str
    tokens: dict[str, str]
    key: dict[str, str]  # carol's access key, as ``repohub access-keys create --json`` prints it
    answers: Answers

    def __post_init__(self) -> None:
        self._http = httpx.Client(
            base_url=self.url, timeout=30, event_hooks={"response": [self.answers.keep]}
        )

    def v1(self, method: str, path: str, user: str = "carol", **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Token {self.tokens[user]}"}
        return self._http.request(method, f"/v1{path}", headers=headers, **kwargs)

    def swr(self, method: str, path: str, user: str = "carol", **kwargs: Any) -> httpx.Response:
        headers = {"X-Auth-Token": self.tokens[user]}
        return self._http.request(method, f"/v2/manage{path}", headers=headers, **kwargs)

    def tags(self, repo: str) -> dict[str, str]:
        response = self.v1("GET", f"/repositories/acme/{repo}/tags")
        return (
            {item["tag"]: item["digest"] for item in response.json()} if response.status_code == 200 else {}
        )

    def sdk(self) -> SwrClient:
        """carol's SWR client (AK/SK), its answers kept."""
        return swr_client(self.url, self.key, self.answers.handler())

    @property
    def instance(self) -> str:
        return self.key["instance_id"]

    def close(self) -> None:
        self._http.close()


@dataclass
class Bed:
    """acme (carol its admin, alice a member who pushes, bob a viewer who pulls), the registry's
    config pointing at repohub on ``hub_port``, and the webhook settings every server gets."""

    settings: Settings
    tmp_path: Path
    tokens: dict[str, str]
    key: dict[str, str]
    registry_port: int
    hub_port: int
    env: dict[str, str]
    answers: Answers = field(default_factory=Answers)

    @classmethod
    async def make(cls, settings: Settings, accounts: World, tmp_path: Path, **env: str) -> Bed:
        tokens = {name: await accounts.user(name) for name in ("alice", "bob", "carol")}
        await accounts.org("acme", owner="carol", members={"alice": Role.MEMBER, "bob": Role.VIEWER})
        registry_port, hub_port = free_port(), free_port()
        base = {
            "REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}",
            "REPOHUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
            "REPOHUB_LOG_LEVEL": "debug",
        }
        key = json.loads(cli(settings, "access-keys", "create", "carol", "--json", extra_env=base))
        return cls(settings, tmp_path, tokens, key, registry_port, hub_port, {**base, **env})

    @contextmanager
    def registry(self) -> Iterator[Registry]:
        config = self.tmp_path / "registry.yml"
        fragment = cli(self.settings, "registry", "config", extra_env=self.env)
        config.write_text(registry_config(fragment, self.tmp_path / "storage", self.registry_port))
        with running_registry(config, self.registry_port) as registry:
            yield registry

    @contextmanager
    def serve(self, port: int | None = None, **env: str) -> Iterator[tuple[Server, Hub]]:
        """``repohub serve`` (on ``hub_port`` unless told) with the bed's settings and ``env``."""
        with serve(self.settings, extra_env={**self.env, **env}, port=port or self.hub_port) as server:
            hub = Hub(server.url, self.tokens, self.key, self.answers)
            try:
                yield server, hub
            finally:
                hub.close()

    def push_creds(self) -> tuple[str, str]:
        return ("--dest-creds", f"alice:{self.tokens['alice']}")

    def pull_creds(self) -> tuple[str, str]:
        return ("--src-creds", f"bob:{self.tokens['bob']}")

    def deliveries(self) -> list[dict[str, Any]]:
        """``repohub hooks deliveries --json``: every delivery, newest first."""
        found: list[dict[str, Any]] = json.loads(
            cli(self.settings, "hooks", "deliveries", "--json", extra_env=self.env)
        )
        return found
