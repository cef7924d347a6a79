"""``repohub proxy config`` as a command: the whole nginx.conf on stdout, a value nginx would misread a
usage error (exit 2) naming the option. tests/ops/test_nginx.py runs what it prints."""

from __future__ import annotations

import subprocess

from tests.server import REPOHUB

ARGS = ["proxy", "config", "--listen", "8080", "--registry", "http://registry:5000"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REPOHUB), *args], capture_output=True, text=True, timeout=60)


def test_prints_the_whole_configuration_for_every_replica_given() -> None:
    done = _run(*ARGS, "--repohub", "http://a:8000,http://b:8000", "--repohub", "http://c:8000",
                "--state-dir", "/srv/nginx")  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.lstrip().startswith("#") and "events {" in text and "http {" in text
    assert all(f"server {host}:8000;" in text for host in "abc")
    assert "listen 8080;" in text and "pid /srv/nginx/nginx.pid;" in text
    assert "auth_request /_repohub/push-check;" in text


def test_a_value_nginx_would_misread_is_a_usage_error() -> None:
    done = _run(*ARGS, "--repohub", "http://a:8000; include /etc/shadow")
    assert done.returncode == 2 and done.stdout == ""
    assert "--repohub" in done.stderr and "http://HOST:PORT" in done.stderr
    missing = _run("proxy", "config", "--listen", "80", "--registry", "http://r:5000")
    assert missing.returncode == 2 and "--repohub" in missing.stderr
