"""Which webhook targets repohub calls: the rule creation (a 400) and delivery (a failed attempt)
share. Literal addresses only, so no DNS is needed."""

from __future__ import annotations

import pytest

from repohub.domain.webhooks.targets import UnsafeTarget, resolve

REFUSED_FORMS = [
    "ftp://93.184.216.34/",  # not http(s)
    "http:///path",  # no host
    "http://user:pw@93.184.216.34/",  # credentials
    "http://93.184.216.34:0/",  # port 0
    "http://93.184.216.34/a b",  # a space: what is checked must be what is sent
    "http://93.184.216.34/a\tb",  # a tab, which URL parsers drop
    "http://93.184.216.34/\u65e5\u672c",  # not ASCII: percent-encode it
    "http://fa\u00df.de/",  # an international name: its xn-- form
    "http://93.184.216.34:99999/",  # no such port
]
PRIVATE = [
    "http://127.0.0.1/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://0/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://100.64.0.1/",  # shared address space
    "http://[fd00::1]/",  # unique local
    "http://[fec0::1]/",  # site local (deprecated, still not the internet)
]


@pytest.mark.parametrize("url", REFUSED_FORMS)
async def test_a_malformed_target_is_refused_whatever_the_setting(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        await resolve(url, allow_private=True)


@pytest.mark.parametrize("url", PRIVATE)
async def test_a_private_target_is_refused_unless_allowed(url: str) -> None:
    with pytest.raises(UnsafeTarget, match="REPOHUB_WEBHOOK_ALLOW_PRIVATE"):
        await resolve(url, allow_private=False)
    assert (await resolve(url, allow_private=True)).url == url


async def test_a_public_target_resolves_to_the_address_connected_to() -> None:
    target = await resolve("https://93.184.216.34:8443/hook?x=%20y", allow_private=False)
    assert (target.scheme, target.host, target.port, target.address) == (
        "https",
        "93.184.216.34",
        8443,
        "93.184.216.34",
    )
