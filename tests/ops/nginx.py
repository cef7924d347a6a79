"""Real nginx for the ops tests: the configuration ``repohub proxy config`` prints, run as it is
(``nginx -c FILE``), and small hand-written blocks for the tests that need another front."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from repohub.config import Settings
from tests.needs import missing
from tests.server import cli

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def require_nginx() -> None:
    if not Path(NGINX).exists():
        missing("nginx is not installed (Debian package nginx)")


def main_config(tmp: Path, server_blocks: str) -> Path:
    """A complete nginx.conf around ``server_blocks``, every path under ``tmp`` (for the tests that
    put another front than the shipped one before repohub)."""
    for name in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / name).mkdir(parents=True, exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    config = tmp / "nginx.conf"
    config.write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {tmp}/access.log;\n"
        f"  client_body_temp_path {tmp}/client;\n  proxy_temp_path {tmp}/proxy;\n"
        f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
        f"{server_blocks}\n}}\n"
    )
    return config


@contextmanager
def running(config: Path, port: int, logs: Path | None = None) -> Iterator[str]:
    """``nginx -c config`` in the foreground until the block ends; yields its URL."""
    require_nginx()
    process = subprocess.Popen([NGINX, "-c", str(config)], stderr=subprocess.PIPE, cwd=config.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error_log = (
                        (logs / "error.log").read_text() if logs and (logs / "error.log").exists() else ""
                    )
                    stderr = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"nginx did not start: {stderr}{error_log}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def blocks(tmp: Path, server_blocks: str, port: int) -> Iterator[str]:
    with running(main_config(tmp, server_blocks), port, tmp) as url:
        yield url


@contextmanager
def shipped(
    settings: Settings,
    tmp: Path,
    port: int,
    repohub: str,
    registry: str,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """The shipped configuration, printed by ``repohub proxy config`` and run untouched. Its state
    directory is left for nginx to make, under a parent its workers (``nobody`` when the tests run as
    root: the configuration has no ``user`` directive) can reach."""
    parent = Path(tempfile.mkdtemp(prefix="repohub-nginx-"))
    try:
        parent.chmod(0o755)
        state = parent / "state"
        text = cli(
            settings, "proxy", "config", "--listen", f"127.0.0.1:{port}",
            "--repohub", repohub, "--registry", registry, "--state-dir", str(state),
            extra_env=extra_env,
        )  # fmt: skip
        config = tmp / "nginx.conf"
        tmp.mkdir(parents=True, exist_ok=True)
        config.write_text(text)
        config.chmod(0o644)
        with running(config, port, state) as url:
            yield url
    finally:
        shutil.rmtree(parent, ignore_errors=True)
