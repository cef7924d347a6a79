"""The shipped nginx configuration's rate limits: one zone per limit at the app's per-minute rate,
applied in every login and token location with a 429 in the dialect's format; a rate of 0, none.
tests/ops/test_nginx.py runs them through the real nginx."""

from __future__ import annotations

import pytest

from repohub.nginx import Limits, ProxyConfigError, render

LOCATIONS = {  # location head -> (zone, the named location answering its 429)
    '~ "^/v1/generate-api-token/?$"': ("login", "@v1_limited"),
    "= /ui/login": ("login", "@ui_limited"),
    "= /registry/token": ("token", "@registry_limited"),
    "= /v2/manage/utils/authorizationtoken": ("token", "@swr_limited"),
    "= /v2/manage/utils/secret": ("token", "@swr_limited"),
}


def _render(limits: Limits) -> str:
    return render(listen="8080", repohub=["http://r:8000"], registry=["http://g:5000"], limits=limits)


def _location(text: str, head: str) -> str:
    start = text.index(f"location {head} {{")
    return text[start : text.index("\n        }", start)]


def test_each_limit_is_a_zone_per_client_address_at_its_rate_per_minute() -> None:
    text = _render(Limits(login_per_minute=7, token_per_minute=300))
    # Logins count POSTs alone: the key of any other method is empty, which nginx does not count.
    assert 'map $request_method $repohub_login_key { POST $binary_remote_addr; default ""; }' in text
    assert "limit_req_zone $repohub_login_key zone=repohub_login:10m rate=7r/m;" in text
    assert "limit_req_zone $binary_remote_addr zone=repohub_token:10m rate=300r/m;" in text
    assert "limit_req_status 429;" in text
    for head, (zone, limited) in LOCATIONS.items():
        block = _location(text, head)
        burst = 6 if zone == "login" else 299
        assert f"limit_req zone=repohub_{zone} burst={burst} nodelay;" in block, head
        assert f"error_page 429 = {limited};" in block and "proxy_pass http://repohub;" in block


def test_a_rate_of_zero_leaves_its_limit_out() -> None:
    text = _render(Limits(login_per_minute=0, token_per_minute=5))
    assert "zone=repohub_login" not in text and "rate=5r/m" in text
    assert "limit_req " not in _location(text, LOCATIONS_LOGIN)
    assert "limit_req_zone" not in _render(Limits())


LOCATIONS_LOGIN = next(iter(LOCATIONS))


def test_a_negative_rate_is_refused() -> None:
    with pytest.raises(ProxyConfigError, match="login rate -1"):
        _render(Limits(login_per_minute=-1))


def test_the_429_bodies_are_the_dialects_error_formats() -> None:
    text = _render(Limits(1, 1))
    assert '\'{"detail":"too many requests' in _location(text, "@v1_limited")
    assert '"code":"TOOMANYREQUESTS"' in _location(text, "@registry_limited")
    assert '"error_code":"SVCSTG.SWR.4290001"' in _location(text, "@swr_limited")
    ui = _location(text, "@ui_limited")
    assert "default_type text/html;" in ui and "<h1>Too many sign-ins</h1>" in ui
