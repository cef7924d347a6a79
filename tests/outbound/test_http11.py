"""The webhook HTTP/1.1 client against raw loopback servers: what it reads of an answer, when it keeps
a connection, TLS with the host's name (and without the check when a hook skips it)."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from repohub.domain.webhooks.payloads import Request
from repohub.outbound.sender import HttpSender

Answer = Callable[[int], bytes]  # the n-th request on a connection (0-based) → the raw answer


class RawServer:
    """Answers each request with ``answer(n)``; counts connections and requests; records SNI."""

    def __init__(self, answer: Answer, per_connection: int = 100) -> None:
        self.answer = answer
        self.per_connection = per_connection  # requests answered before hanging up without a word
        self.connections = 0
        self.requests: list[bytes] = []
        self.server_names: list[str | None] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self, context: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        if context is not None:
            context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)  # type: ignore[assignment,func-returns-value]
        self._server = await asyncio.start_server(self._serve, host, 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for n in range(self.per_connection):
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answer(n))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serving() -> AsyncIterator[Callable[[Answer], Awaitable[RawServer]]]:
    made: list[RawServer] = []

    async def start(answer: Answer, per_connection: int = 100) -> RawServer:
        server = RawServer(answer, per_connection)
        await server.start()
        made.append(server)
        return server

    yield start
    for server in made:
        await server.close()


def post(url: str) -> Request:
    return Request(url, (("Content-Type", "application/json"),), b'{"a": 1}')


async def send_twice(url: str, *, skip_cert_verify: bool = False) -> list[tuple[int | None, str | None]]:
    async with HttpSender(timeout=3, allow_private=True) as sender:
        found = []
        for _ in range(2):
            attempt = await sender.send(post(url), skip_cert_verify=skip_cert_verify)
            found.append((attempt.code, attempt.error))
        return found


async def test_a_chunked_answer_is_read_to_its_end_and_the_connection_kept(serving) -> None:
    chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    server = await serving(lambda _n: chunked)

    assert await send_twice(f"http://127.0.0.1:{server.port}/hook") == [(201, None), (201, None)]
    assert server.connections == 1 and len(server.requests) == 2
    first = server.requests[0]
    assert first.startswith(b"POST /hook HTTP/1.1\r\n") and f"Host: 127.0.0.1:{server.port}".encode() in first
    assert first.endswith(b'\r\n\r\n{"a": 1}')


async def test_connection_close_or_an_answer_without_length_is_not_reused(serving) -> None:
    closing = await serving(lambda _n: b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    unbounded = await serving(lambda _n: b"HTTP/1.0 202 Accepted\r\n\r\nsome body")

    assert await send_twice(f"http://127.0.0.1:{closing.port}/") == [(200, None), (200, None)]
    assert await send_twice(f"http://127.0.0.1:{unbounded.port}/") == [(202, None), (202, None)]
    assert closing.connections == 2 and unbounded.connections == 2


async def test_a_kept_connection_the_server_dropped_is_replaced_transparently(serving) -> None:
    server = await serving(lambda _n: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", per_connection=1)

    assert await send_twice(f"http://127.0.0.1:{server.port}/") == [(200, None), (200, None)]
    assert server.connections == 2


async def test_a_malformed_answer_is_a_failed_attempt(serving) -> None:
    server = await serving(lambda _n: b"SMTP ready\r\n\r\n")

    [(code, error), _] = await send_twice(f"http://127.0.0.1:{server.port}/")

    assert code is None and error is not None and error.startswith("HttpError")


def _self_signed(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


async def test_https_names_the_host_and_checks_its_certificate_unless_the_hook_skips_it(tmp_path) -> None:
    server = RawServer(lambda _n: b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    await server.start(_self_signed(tmp_path), host="localhost")
    url = f"https://localhost:{server.port}/hook"
    try:
        refused = await send_twice(url)
        skipped = await send_twice(url, skip_cert_verify=True)
    finally:
        await server.close()

    assert all(code is None and error and "certificate" in error.lower() for code, error in refused)
    assert skipped == [(200, None), (200, None)]
    assert set(server.server_names) == {"localhost"}  # SNI names the host, not the address
    assert all(f"Host: localhost:{server.port}".encode() in request for request in server.requests)


async def test_interim_answers_are_skipped_for_the_final_one(serving) -> None:
    interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
    server = await serving(lambda n: interim + f"HTTP/1.1 {200 + n} OK\r\nContent-Length: 0\r\n\r\n".encode())

    assert await send_twice(f"http://127.0.0.1:{server.port}/") == [(200, None), (201, None)]
    assert server.connections == 1


async def test_a_garbled_answer_on_a_kept_connection_is_not_sent_again(serving) -> None:
    answers = [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"garbage\r\n\r\n"]
    server = await serving(lambda n: answers[min(n, 1)])

    [first, (code, error)] = await send_twice(f"http://127.0.0.1:{server.port}/")

    assert first == (200, None) and code is None and error is not None and error.startswith("HttpError")
    assert len(server.requests) == 2  # the second POST once, not resent on a new connection


async def test_an_endless_chunk_size_line_is_a_failed_attempt(serving) -> None:
    server = await serving(
        lambda _n: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 70_000
    )

    [(code, error), _] = await send_twice(f"http://127.0.0.1:{server.port}/")

    assert code is None and error is not None and error.startswith("HttpError")


async def test_what_a_server_sends_while_a_connection_is_idle_ends_it(serving) -> None:
    """An answer followed at once by an unasked 408 (and the close): the next request must not read
    the 408 as its answer."""
    stray = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    server = await serving(lambda n: f"HTTP/1.1 {200 + n} OK\r\nContent-Length: 0\r\n\r\n".encode() + stray)

    assert await send_twice(f"http://127.0.0.1:{server.port}/") == [(200, None), (200, None)]
    assert server.connections == 2


async def test_an_http_1_0_answer_keeps_its_connection_only_when_it_says_keep_alive(serving) -> None:
    plain = await serving(lambda _n: b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
    kept = await serving(lambda _n: b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")

    await send_twice(f"http://127.0.0.1:{plain.port}/")
    await send_twice(f"http://127.0.0.1:{kept.port}/")

    assert (plain.connections, kept.connections) == (2, 1)


async def test_a_2xx_whose_body_stalls_is_a_2xx(serving, monkeypatch) -> None:
    from repohub.outbound import http11

    monkeypatch.setattr(http11, "BODY_WAIT", 0.2)
    server = await serving(lambda _n: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")

    assert await send_twice(f"http://127.0.0.1:{server.port}/") == [(200, None), (200, None)]
    assert server.connections == 2  # the rest never came: not kept


async def test_idle_connections_are_kept_up_to_the_bound_in_all(serving) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    first, second = await serving(lambda _n: ok), await serving(lambda _n: ok)
    async with HttpSender(timeout=3, allow_private=True, connections=1) as sender:
        for server in (first, second, first, second):
            attempt = await sender.send(post(f"http://127.0.0.1:{server.port}/"), skip_cert_verify=False)
            assert attempt.code == 200
    # One kept at a time: the second origin's connection closed at once, the first reused once...
    assert first.connections + second.connections == 3
