"""Which webhook targets are safe to call: the rule both creation (a 400) and delivery (a failed
attempt) apply, so DNS that changes between the two cannot turn a hook against the inside network.

A target is an ``http`` or ``https`` URL with a host and a port other than 0, no user info, at most
:data:`MAX_URL` long, of visible ASCII characters only: no space, no control character (which URL
parsers drop or keep as they please: the URL checked must be the URL sent), and an international
host name in its ``xn--`` form. Its
host must resolve, and every address it resolves to must be public: loopback, link-local, private
(RFC 1918, unique-local), shared (CGNAT), reserved, multicast and unspecified addresses are refused
unless the operator allows them (``REPOHUB_WEBHOOK_ALLOW_PRIVATE=true``, which the tests set). The
sender connects to the address checked here, never resolving again (``Target.address``).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from repohub.domain.errors import InvalidInput

__all__ = ["MAX_URL", "Target", "UnsafeTarget", "check_url", "resolve"]

MAX_URL = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Host names are looked up on threads of their own: the default executor also checks passwords
# (``domain.accounts``), and a hook's slow DNS must not hold up logins. Four at a time; literal
# addresses (most hooks' targets, every test's) never come here.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="repohub-dns")


def _lookup(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (as getaddrinfo gives them, scope ids included)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class UnsafeTarget(InvalidInput):
    """The URL is not a target repohub calls (a client's input: a 400 at creation)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked target: the URL, its host and port, and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def check_url(url: str, *, field: str = "url") -> SplitResult:
    """The URL split, if its form is acceptable (no resolution): UnsafeTarget otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        message = f"a webhook target must be an http(s) URL of at most {MAX_URL} characters"
        raise UnsafeTarget(message, field=field)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a bad port
    except ValueError as error:
        raise UnsafeTarget(f"{url!r} is not a valid URL", field=field) from error
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.port == 0:
        raise UnsafeTarget("a webhook target must be an http:// or https:// URL with a host", field=field)
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("a webhook target URL must not carry credentials (use auth_header)", field=field)
    if not all("!" <= character <= "~" for character in url):  # checked on the URL as given
        raise UnsafeTarget(
            "a webhook target URL takes visible ASCII characters only: percent-encode spaces and "
            "other characters of the path, and give an international host name in its xn-- form",
            field=field,
        )
    return parts


def _is_private(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside: mapped, 6to4, or Teredo's client (the address it reaches).
        teredo = address.teredo[1] if address.teredo is not None else None
        embedded = address.ipv4_mapped or address.sixtofour or teredo
        if embedded is not None and _is_private(embedded):
            return True
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
        or not address.is_global
    )


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.run_in_executor(_RESOLVER, functools.partial(_lookup, host, port))
    except (OSError, UnicodeError):
        return []
    found: list[IPAddress] = []
    for text in infos:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def resolve(url: str, *, allow_private: bool, field: str = "url") -> Target:
    """The target ``url`` names, checked (module doc): UnsafeTarget when it is not one to call."""
    parts = check_url(url, field=field)
    host = parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    addresses = await _addresses(host, port)
    if not addresses:
        raise UnsafeTarget(f"the webhook target's host {host!r} does not resolve", field=field)
    if not allow_private and any(_is_private(address) for address in addresses):
        raise UnsafeTarget(
            f"the webhook target's host {host!r} is a loopback, link-local or private address: "
            "refused (REPOHUB_WEBHOOK_ALLOW_PRIVATE=true allows it)",
            field=field,
        )
    return Target(url, parts.scheme, host, port, str(addresses[0]))
