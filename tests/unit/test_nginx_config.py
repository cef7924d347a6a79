"""``repohub proxy config``'s rendering (pure): every value checked before it reaches the file, and the
template's routing shape. tests/ops/test_nginx.py and tests/ops/test_immutable_push.py run it."""

from __future__ import annotations

import re

import pytest

from repohub.nginx import ProxyConfigError, render


def _render(**changes: object) -> str:
    options: dict[str, object] = {
        "listen": "127.0.0.1:8080",
        "repohub": ["http://repohub-1:8000,http://repohub-2:8000", "http://repohub-1:8000"],
        "registry": ["http://registry:5000"],
        "state_dir": "/var/tmp/nginx-state/",
    }
    options.update(changes)
    return render(**options)  # type: ignore[arg-type]


def _location(text: str, head: str) -> str:
    start = text.index(f"location {head} {{")
    return text[start : text.index("\n        }", start)]


def test_the_values_fill_every_placeholder_and_replicas_are_listed_once() -> None:
    text = _render()
    assert "{{" not in text and "}}" not in text
    assert "listen 127.0.0.1:8080;" in text
    repohub = text[text.index("upstream repohub {") : text.index("upstream registry {")]
    assert re.findall(r"server (\S+);", repohub) == ["repohub-1:8000", "repohub-2:8000"]
    assert "server registry:5000;" in text
    assert "pid /var/tmp/nginx-state/nginx.pid;" in text
    assert "client_body_temp_path /var/tmp/nginx-state;" in text  # nginx makes the directory itself


def test_a_whole_nginx_conf_without_a_user_directive() -> None:
    text = _render()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert "events {" in lines and "http {" in lines
    assert not any(line.startswith("user ") for line in lines)
    assert text.count("{") == text.count("}")


def test_manifest_writes_and_blob_deletes_alone_pay_the_push_check() -> None:
    text = _render()
    manifests = _location(text, '~ "^/v2/.+/manifests/[^/]+$"')
    assert 'if ($request_method ~ "^(PUT|DELETE)$")' in manifests
    assert "rewrite ^ /_repohub/checked-write last;" in manifests
    assert "auth_request" not in manifests  # reads go straight to the registry
    checked = _location(text, "= /_repohub/checked-write")
    assert "internal;" in checked and "auth_request /_repohub/push-check;" in checked
    assert "error_page 403 = @repohub_denied;" in checked
    check = _location(text, "= /_repohub/push-check")
    assert "internal;" in check and "proxy_pass_request_body off;" in check
    assert 'proxy_set_header Content-Length "";' in check
    assert "X-Original-URI $request_uri" in check and "X-Original-Method $request_method" in check
    # Headers set here replace the server's: the forwarded ones are repeated, not lost.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in check
    assert text.count("auth_request ") == 1
    blobs = _location(text, '~ "^/v2/.+/blobs/[^/]+$"')  # a blob DELETE is checked, reads are not
    assert "if ($request_method = DELETE)" in blobs and "rewrite ^ /_repohub/checked-write last;" in blobs
    assert "auth_request" not in blobs
    assert "auth_request" not in _location(text, "/v2/")
    assert '"code":"DENIED"' in _location(text, "@repohub_denied")
    assert "return 404;" in _location(text, "^~ /registry/push-check")
    # SWR's paths under /v2/ win over the manifest expression: a prefix that stops the search, and an
    # expression tried first.
    assert "location ^~ /v2/manage/ {" in text
    assert text.index("/instances(/|$)") < text.index("/manifests/[^/]+$")


@pytest.mark.parametrize(
    "changes",
    [
        {"listen": "80; user root"},
        {"listen": "host:99999"},
        {"listen": ""},
        {"repohub": ["https://repohub:8000"]},  # nginx's upstreams here are plain HTTP
        {"repohub": ["http://repohub"]},  # no port
        {"repohub": ["http://repohub:8000/prefix"]},  # a path would be dropped
        {"repohub": ["http://repo hub:8000"]},
        {"repohub": ["http://a:8000;include /etc/passwd"]},
        {"repohub": [""]},
        {"registry": ["http://registry:5000?x=1"]},
        {"state_dir": "relative/dir"},
        {"state_dir": "/"},
        {"state_dir": "/tmp/a b"},
        {"state_dir": "/tmp/x;"},
        {"state_dir": "/tmp/../etc"},
    ],
)
def test_values_nginx_would_read_as_syntax_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ProxyConfigError):
        _render(**changes)


def test_addresses_nginx_listens_and_proxies_to() -> None:
    assert "listen 80;" in _render(listen="80")
    assert "listen [::1]:8080;" in _render(listen="[::1]:8080")
    assert "server [::1]:8000;" in _render(repohub=["http://[::1]:8000/"])
