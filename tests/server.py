"""Run a real ``repohub serve`` process for tests that talk to it over TCP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from repohub.config import Settings

REPOHUB = Path(sys.executable).with_name("repohub")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process see the same configuration as ``settings``."""
    env = {
        "REPOHUB_DATABASE_URL": settings.database_url,
        "REPOHUB_DATA_DIR": str(settings.data_dir),
        "REPOHUB_SECRET_KEY": settings.resolved_secret_key,
        "REPOHUB_REGISTRY_HOST": settings.registry_host,
        "REPOHUB_DOMAIN_NAME": settings.domain_name,
        "REPOHUB_ADMIN_PASSWORD": "admin-password",
    }
    return {**os.environ, **env}


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serve(
    settings: Settings,
    *,
    extra_env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> Iterator[Server]:
    """Start ``repohub serve`` on a free loopback port (or ``port``, e.g. to restart at the same URL),
    wait until it answers, stop it afterwards."""
    port = port or free_port()
    log = Path(settings.data_dir) / f"serve-{port}.log"
    env = {**settings_env(settings), **(extra_env or {})}
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(REPOHUB), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"repohub serve exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"repohub serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield Server(url=url, process=process, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cli(settings: Settings, *args: str, extra_env: Mapping[str, str] | None = None) -> str:
    """Run a ``repohub`` command against the same database; returns stdout, raises on failure."""
    env = {**settings_env(settings), **(extra_env or {})}
    done = subprocess.run([str(REPOHUB), *args], env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"repohub {' '.join(args)} failed: {done.stderr}")
    return done.stdout
