"""The pages' CSRF token and origins, without a server."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from repohub.api.ui.session import SESSION_COOKIE, Forgery, Guard, origin_of


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Hub.Example", "https://hub.example"),
        ("https://hub.example:443/repohub/", "https://hub.example"),
        ("HTTP://hub.example:80", "http://hub.example"),
        ("http://hub.example:8080", "http://hub.example:8080"),
        ("https://[::1]:8443", "https://[::1]:8443"),
    ],
)
def test_a_public_url_is_compared_as_the_origin_a_browser_sends(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def _request(cookies: dict[str, str]) -> Request:
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return Request({"type": "http", "headers": [(b"cookie", header.encode())]})


def test_the_token_is_bound_to_the_nonce_the_session_and_the_secret() -> None:
    nonce = "ab" * 16
    guard = Guard.of(_request({"repohub_csrf": nonce, SESSION_COOKIE: "rh_one"}), "secret")
    guard.check(guard.field)
    others = [
        Guard.of(_request({"repohub_csrf": nonce, SESSION_COOKIE: "rh_two"}), "secret"),
        Guard.of(_request({"repohub_csrf": nonce}), "secret"),
        Guard.of(_request({"repohub_csrf": "cd" * 16, SESSION_COOKIE: "rh_one"}), "secret"),
        Guard.of(_request({"repohub_csrf": nonce, SESSION_COOKIE: "rh_one"}), "another secret"),
    ]
    assert len({guard.field, *(other.field for other in others)}) == 5
    for other in others:
        with pytest.raises(Forgery):
            other.check(guard.field)


def test_a_browser_without_a_nonce_has_no_valid_token() -> None:
    fresh = Guard.of(_request({}), "secret")
    with pytest.raises(Forgery):
        fresh.check(fresh.field)  # its cookie is only being set: nothing it posts can match yet
    for bad in ("short", "zz" * 16, "AB" * 16):
        assert Guard.of(_request({"repohub_csrf": bad}), "secret").fresh
