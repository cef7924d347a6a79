"""Start the servers under test as subprocesses and wait until they answer."""

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

from bench.scenarios import EVENTS_SECRET

REPOHUB = Path(sys.executable).with_name("repohub")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Running:
    url: str
    pid: int
    log: Path


@contextmanager
def running(
    command: list[str], env: Mapping[str, str], port: int, log: Path, probe: str
) -> Iterator[Running]:
    """Run ``command`` until the block ends; ``probe`` is a path that answers once it is up."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited early:\n{log.read_text()[-4000:]}")
            try:
                if httpx.get(url + probe, timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{' '.join(command)} did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.1)
        yield Running(url=url, pid=process.pid, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def repohub_command(port: int, workers: int) -> list[str]:
    return [str(REPOHUB), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


def repohub_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("REPOHUB_")}
    env.update(
        REPOHUB_DATABASE_URL=database_url,
        REPOHUB_DATA_DIR=str(data_dir),
        REPOHUB_SECRET_KEY="repohub-bench-secret",
        REPOHUB_ADMIN_USERNAME="bench-admin",
        REPOHUB_ADMIN_PASSWORD="bench-password",
        REPOHUB_REGISTRY_EVENTS_SECRET=EVENTS_SECRET,
        # One bench user asks for thousands of tokens a second: the per-user/per-client abuse limits
        # (a policy, not a cost) would answer 429 and measure the limiter instead of the endpoint.
        REPOHUB_TOKEN_RATE_PER_USER="0",
        REPOHUB_TOKEN_RATE_PER_CLIENT="0",
    )
    # BENCH_REPOHUB_X=... sets REPOHUB_X for the served app only (e.g. to try pool settings).
    env.update({key.removeprefix("BENCH_"): value for key, value in os.environ.items()
                if key.startswith("BENCH_REPOHUB_")})  # fmt: skip
    return env
