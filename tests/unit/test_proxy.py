"""Which peers' X-Forwarded-* are believed, and which X-Forwarded-For hop is the client."""

from __future__ import annotations

import pydantic
import pytest

from repohub.api.proxy import ForwardedHeadersMiddleware
from repohub.config import Settings


async def _seen(trusted: str, peer: str, *headers: tuple[str, str]) -> dict:
    """The scope the app behind the middleware gets for a request from ``peer``."""
    seen: dict = {}

    async def app(scope, _receive, _send) -> None:
        seen.update(scope)

    middleware = ForwardedHeadersMiddleware(app, trusted=trusted.split(","))
    scope = {
        "type": "http",
        "path": "/v1/repositories/x/",
        "root_path": "",
        "scheme": "http",
        "client": (peer, 40000),
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
    }
    await middleware(scope, None, None)
    return seen


async def _client(trusted: str, peer: str, *forwarded_for: str) -> str:
    scope = await _seen(trusted, peer, *(("X-Forwarded-For", value) for value in forwarded_for))
    return scope["client"][0]


@pytest.mark.parametrize(
    ("trusted", "peer", "chain", "client"),
    [
        ("10.0.0.0/8", "10.1.2.3", "203.0.113.7", "203.0.113.7"),  # a peer in the range
        ("10.0.0.0/8", "192.0.2.1", "203.0.113.7", "192.0.2.1"),  # outside: ignored
        ("10.0.0.1", "10.0.0.2", "203.0.113.7", "10.0.0.2"),  # an address is not a range
        ("fd00::/8", "fd12::1", "2001:db8::9", "2001:db8::9"),
        ("10.0.0.0/8", "::ffff:10.0.0.3", "203.0.113.7", "203.0.113.7"),  # a dual-stack socket's IPv4 peer
        # The client's own entries come first; the proxy appends the peer it saw.
        ("10.0.0.0/8", "10.0.0.1", "198.51.100.66, 203.0.113.7", "203.0.113.7"),
        ("10.0.0.0/8", "10.0.0.1", "198.51.100.66, 203.0.113.7, 10.0.0.9", "203.0.113.7"),
        ("10.0.0.0/8", "10.0.0.1", "unknown, 10.0.0.9", "unknown"),  # what the trusted hop wrote
        ("10.0.0.0/8", "10.0.0.1", "10.0.0.7, 10.0.0.9", "10.0.0.7"),  # every hop trusted: the first
        ("*", "192.0.2.1", "198.51.100.66, 203.0.113.7", "198.51.100.66"),  # `*` trusts every hop
    ],
)
async def test_client_is_the_first_untrusted_hop_from_the_right(trusted, peer, chain, client):
    assert await _client(trusted, peer, chain) == client


async def test_repeated_forwarded_for_headers_are_one_list():
    assert await _client("10.0.0.0/8", "10.0.0.1", "198.51.100.66", "203.0.113.7, 10.0.0.2") == "203.0.113.7"


async def test_other_forwarded_headers_only_from_trusted_peers():
    headers = (
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "hub.example"),
        ("X-Forwarded-Prefix", "/api"),
    )
    trusted = await _seen("10.0.0.0/24", "10.0.0.5", *headers)
    assert (trusted["scheme"], trusted["root_path"], trusted["path"]) == (
        "https",
        "/api",
        "/api/v1/repositories/x/",
    )
    assert (b"host", b"hub.example") in trusted["headers"]
    untrusted = await _seen("10.0.0.0/24", "10.0.1.5", *headers)
    assert (untrusted["scheme"], untrusted["root_path"], untrusted["path"]) == (
        "http",
        "",
        "/v1/repositories/x/",
    )


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "nginx", "10.0.0.300"])
def test_a_bad_entry_stops_the_start(entry):
    with pytest.raises(pydantic.ValidationError, match="forwarded_allow_ips"):
        Settings(forwarded_allow_ips=f"127.0.0.1,{entry}", _env_file=None)
