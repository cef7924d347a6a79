"""Run wrk and read requests/s, latency percentiles and error counts from its report."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", re.MULTILINE)
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True)
class Load:
    threads: int = 2
    connections: int = 32
    seconds: float = 15.0


@dataclass(frozen=True)
class Measured:
    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx responses plus socket errors


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise FileNotFoundError("wrk not found (Debian package wrk; `make bench` installs it)")
    return found


def parse(output: str) -> Measured:
    percentiles = {int(p): float(v) * _UNITS[unit] for p, v, unit in _PERCENTILE.findall(output)}
    rate, total = _RATE.search(output), _TOTAL.search(output)
    if rate is None or total is None or 50 not in percentiles or 99 not in percentiles:
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = sum(int(found.group(1)) for found in _NON_2XX.finditer(output))
    socket_errors = _SOCKET.search(output)
    if socket_errors:
        errors += sum(int(group) for group in socket_errors.groups())
    return Measured(
        rate=float(rate.group(1)),
        p50_ms=percentiles[50],
        p99_ms=percentiles[99],
        requests=int(total.group(1)),
        errors=errors,
    )


def run(url: str, script: Path, env: Mapping[str, str], load: Load) -> Measured:
    seconds = max(1, round(load.seconds))
    done = subprocess.run(
        [
            wrk_binary(), f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds}s", "--latency",
            "--timeout", "10s", "-s", str(script), url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )  # fmt: skip
    return parse(done.stdout)
