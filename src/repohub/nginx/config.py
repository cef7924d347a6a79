"""``repohub proxy config``: the one nginx template (``nginx.conf`` beside this module) filled in.

Pure: no I/O but reading the template. Every value is checked before it goes into the file, because
nginx reads ``;``, ``{``, quotes and whitespace as syntax: a value that could smuggle a directive in
is refused (:class:`ProxyConfigError`), never escaped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

__all__ = ["DEFAULT_STATE_DIR", "Limits", "ProxyConfigError", "parse_listen", "render", "upstream_server"]

DEFAULT_STATE_DIR = "/tmp/repohub-nginx"
_TEMPLATE = "nginx.conf"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# A host name, an IPv4 address or a bracketed IPv6 address, then a port.
_HOST = r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])"
_LISTEN = re.compile(rf"(?:(?:{_HOST}|\*):)?[0-9]{{1,5}}")
# An absolute path of plain characters: nothing nginx would read as syntax.
_STATE_DIR = re.compile(r"/[A-Za-z0-9._/-]*")


class ProxyConfigError(ValueError):
    """A value the configuration cannot carry (the message says which and why)."""


def parse_listen(value: str) -> str:
    """``--listen``: a port (``8080``) or an address and a port (``127.0.0.1:8080``, ``[::1]:80``)."""
    text = value.strip()
    if not _LISTEN.fullmatch(text) or not 0 < int(text.rpartition(":")[2]) < 65536:
        raise ProxyConfigError(f"--listen {value!r}: expected PORT or ADDRESS:PORT, e.g. 0.0.0.0:80")
    return text


def upstream_server(option: str, url: str) -> str:
    """``host:port`` of an ``http://host:port`` URL (nginx's upstreams are spoken to in plain HTTP;
    a path would be dropped, so one is refused)."""
    parsed = urlsplit(url.strip())
    try:
        port = parsed.port
    except ValueError:
        port = None
    host = parsed.netloc.rpartition(":")[0] if port else parsed.netloc
    if (
        parsed.scheme != "http"
        or port is None
        or not re.fullmatch(_HOST, host)
        or parsed.path not in ("", "/")
        or parsed.query
        or parsed.fragment
    ):
        raise ProxyConfigError(f"{option} {url!r}: expected http://HOST:PORT, e.g. http://127.0.0.1:8000")
    return f"{host}:{port}"


def _urls(values: Iterable[str]) -> list[str]:
    """Repeated options and comma-separated lists alike (``--repohub a,b --repohub c``)."""
    return [part for value in values for part in (piece.strip() for piece in value.split(",")) if part]


def _servers(option: str, urls: Iterable[str]) -> str:
    servers = [upstream_server(option, url) for url in _urls(urls)]
    if not servers:
        raise ProxyConfigError(f"{option}: give at least one URL")
    return "\n".join(f"        server {server};" for server in dict.fromkeys(servers))


@dataclass(frozen=True, slots=True)
class Limits:
    """Requests per minute per client address (0: none), as LOGIN_RATE_PER_CLIENT and
    TOKEN_RATE_PER_CLIENT give them to repohub."""

    login_per_minute: int = 0
    token_per_minute: int = 0


def _zones(limits: Limits) -> str:
    lines = []
    for zone, rate in (("login", limits.login_per_minute), ("token", limits.token_per_minute)):
        if rate < 0:
            raise ProxyConfigError(f"{zone} rate {rate}: expected 0 (no limit) or more requests a minute")
        if rate:  # 10 MiB: some 160,000 addresses a zone (nginx's figure for 64-byte states)
            lines.extend(_zone(zone, rate))
    return "\n".join(lines) or "    # no rate limits (both rates 0)"


def _zone(zone: str, rate: int) -> list[str]:
    """The zone's lines. Logins count POSTs alone (an empty key is not counted): loading the web
    catalogue's sign-in form is no attempt, and both login forms share the one allowance."""
    if zone != "login":
        return [f"    limit_req_zone $binary_remote_addr zone=repohub_{zone}:10m rate={rate}r/m;"]
    return [
        '    map $request_method $repohub_login_key { POST $binary_remote_addr; default ""; }',
        f"    limit_req_zone $repohub_login_key zone=repohub_login:10m rate={rate}r/m;",
    ]


def _limit(zone: str, rate: int) -> str:
    if not rate:
        return f"            # no {zone} limit (its rate is 0)"
    # A burst of rate - 1 beyond the one request the rate admits: `rate` requests at once, then one
    # every 60/rate seconds, as a fixed one-minute window of `rate` allows on average.
    return f"            limit_req zone=repohub_{zone} burst={rate - 1} nodelay;"


def render(
    *,
    listen: str,
    repohub: Iterable[str],
    registry: Iterable[str],
    state_dir: str = DEFAULT_STATE_DIR,
    limits: Limits = Limits(),
) -> str:
    """The whole ``nginx.conf``: ``listen`` as :func:`parse_listen` takes it, the repohub replicas'
    and the registry's ``http://host:port`` URLs, the directory nginx keeps its logs, pid and
    temporary files in (absolute; nginx creates it, its parent must exist), and the per-address rate
    limits of the login and token endpoints."""
    state = state_dir.rstrip("/") or "/"
    if not _STATE_DIR.fullmatch(state) or state == "/" or "/../" in f"{state}/":
        raise ProxyConfigError(f"--state-dir {state_dir!r}: expected an absolute directory, e.g. /tmp/nginx")
    values = {
        "listen": parse_listen(listen),
        "repohub_servers": _servers("--repohub", repohub),
        "registry_servers": _servers("--registry", registry),
        "state_dir": state,
        "limit_zones": _zones(limits),
        "login_limit": _limit("login", limits.login_per_minute),
        "token_limit": _limit("token", limits.token_per_minute),
    }
    template = resources.files(__package__).joinpath(_TEMPLATE).read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
