"""The webhook sender against real loopback servers: redirects not followed, the host named in Host,
a timeout over the whole attempt, the answer read only up to its bound, unsafe targets not called."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from repohub.domain.webhooks.payloads import Request
from repohub.outbound.sender import BODY_LIMIT, HttpSender
from tests.receiver import Received, Receiver
from tests.server import free_port


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    await made.start()
    yield made
    await made.close()


def post(url: str) -> Request:
    return Request(url, (("Content-Type", "application/json"), ("X-Repohub-Delivery", "d-1")), b"{}")


async def test_a_redirect_is_answered_as_a_failure_and_not_followed(receiver: Receiver) -> None:
    receiver.answer = lambda _request: 302
    async with HttpSender(timeout=2, allow_private=True) as sender:
        attempt = await sender.send(post(receiver.url + "/hook"), skip_cert_verify=False)
    assert (attempt.code, attempt.error, attempt.succeeded) == (302, None, False)
    assert attempt.status_text == "302"
    assert len(receiver.received) == 1


async def test_the_request_names_the_targets_host_and_reuses_its_connection() -> None:
    named = Receiver()
    await named.start("localhost", free_port())  # every address of localhost, whichever is checked
    try:
        async with HttpSender(timeout=2, allow_private=True) as sender:
            for _ in range(3):
                attempt = await sender.send(post(named.url), skip_cert_verify=False)
                assert attempt.code == 200, attempt
    finally:
        await named.close()
    assert {item.headers["host"] for item in named.received} == {f"localhost:{named.port}"}
    assert named.received[0].headers["x-repohub-delivery"] == "d-1"
    assert named.connections == 1


async def test_an_attempt_is_bounded_by_the_timeout(receiver: Receiver) -> None:
    async def slow(_request: Received) -> int:
        await asyncio.sleep(5)
        return 200

    receiver.answer = slow
    async with HttpSender(timeout=0.3, allow_private=True) as sender:
        attempt = await sender.send(post(receiver.url), skip_cert_verify=False)
    assert attempt.code is None and attempt.error == "timed out after 0.3 s"
    assert 250 <= attempt.duration_ms < 2000


async def test_the_answer_is_read_only_up_to_the_bound() -> None:
    """A server announcing 100 MiB that sends a little more than the bound and then stalls: the
    attempt ends once the bound is read, well before the timeout."""

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\n\r\n" + b"x" * (BODY_LIMIT + 1024))
        await writer.drain()
        await asyncio.sleep(10)

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpSender(timeout=5, allow_private=True) as sender:
            started = time.monotonic()
            attempt = await sender.send(post(f"http://127.0.0.1:{port}/"), skip_cert_verify=False)
    finally:
        server.close()
    assert (attempt.code, attempt.error) == (200, None)
    assert time.monotonic() - started < 2


async def test_a_private_target_is_refused_without_a_connection(receiver: Receiver) -> None:
    async with HttpSender(timeout=2, allow_private=False) as sender:
        attempt = await sender.send(post(receiver.url), skip_cert_verify=False)
    assert attempt.code is None and attempt.error is not None
    assert attempt.error.startswith("unsafe target:")
    assert receiver.connections == 0


async def test_a_refused_connection_is_a_failed_attempt_naming_the_error() -> None:
    closed = Receiver()
    await closed.start()
    url = closed.url
    await closed.close()
    async with HttpSender(timeout=2, allow_private=True) as sender:
        attempt = await sender.send(post(url), skip_cert_verify=False)
    assert attempt.code is None and attempt.error is not None
    assert attempt.error.startswith("ConnectError")
