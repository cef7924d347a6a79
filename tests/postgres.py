"""A real PostgreSQL server for tests: the local one on 127.0.0.1:5432, else a throwaway cluster.

In CI (``CI=true``) having neither is a failure, never a skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

from bench.pgcluster import free_port, pg_bin

from tests.needs import missing

LOCAL = ("127.0.0.1", 5432)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _throwaway_cluster() -> tuple[str, int, str]:
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) found")
    directory = tempfile.mkdtemp(prefix="repohub-pg-")
    data = os.path.join(directory, "data")
    user = "postgres"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(directory, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, initdb, "-D", data, "-U", user, "-A", "trust"], check=True, capture_output=True)
    port = free_port()
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*run_as, pg_ctl, "-D", data, "-o", options, "-w", "-l", os.path.join(directory, "log"), "start"],
        check=True,
        capture_output=True,
    )
    atexit.register(
        lambda: subprocess.run([*run_as, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
    )
    return "127.0.0.1", port, user


def _psql(host: str, port: int, user: str, sql: str) -> None:
    psql = pg_bin("psql")
    if psql is None:
        raise RuntimeError("psql not found")
    subprocess.run(
        [psql, "-h", host, "-p", str(port), "-U", user, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
    )


def create_database() -> str:
    """A fresh, empty database; returns its SQLAlchemy URL. Dropped when the test run ends."""
    try:
        if _answers(*LOCAL):
            host, port, user = LOCAL[0], LOCAL[1], "postgres"
        else:
            host, port, user = _throwaway_cluster()
        name = f"repohub_test_{uuid.uuid4().hex[:12]}"
        _psql(host, port, user, f"CREATE DATABASE {name}")
    except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
        missing(f"no PostgreSQL available: {error}")
    atexit.register(lambda: _drop(host, port, user, name))
    return f"postgresql+asyncpg://{user}@{host}:{port}/{name}"


def _drop(host: str, port: int, user: str, name: str) -> None:
    for _ in range(3):
        try:
            _psql(host, port, user, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            return
        except subprocess.CalledProcessError:
            time.sleep(0.5)
