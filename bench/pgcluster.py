"""Throwaway PostgreSQL clusters (``initdb``/``pg_ctl``), and a streaming standby of one.

Shared by the fault and replica tests (``tests/ops/pgcluster.py`` adds pytest's skip) and by
``bench.replica``: here, so that the bench does not import the tests. A cluster can be stopped and
started again; a standby is made with ``pg_basebackup -R`` from a primary started with
``wal_level=replica`` and runs with ``hot_standby`` on, so it answers reads while it replays.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = [
    "Cluster",
    "NoBinaries",
    "free_port",
    "pg_bin",
    "replayed",
    "standby_of",
    "throwaway_cluster",
    "wait_streaming",
]


class NoBinaries(RuntimeError):
    """initdb, pg_ctl or pg_basebackup is not installed."""


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binaries(*names: str) -> list[str]:
    found = [pg_bin(name) for name in names]
    missing = [name for name, path in zip(names, found, strict=True) if path is None]
    if missing:
        raise NoBinaries(f"PostgreSQL binaries required: {', '.join(missing)}")
    return [path for path in found if path is not None]


@dataclass
class Cluster:
    data: str
    directory: str
    port: int
    run_as: list[str]
    pg_ctl: str
    options: str = ""  # extra ``-c name=value`` settings of the server

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = os.path.join(self.directory, "log")
        subprocess.run(
            [
                *self.run_as,
                self.pg_ctl,
                "-D",
                self.data,
                "-o",
                f"{options} {self.options}",
                "-w",
                "-l",
                log,
                "start",
            ],
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", self.data, "-m", mode, "-w", "stop"],
            check=True,
            capture_output=True,
        )

    def psql(self, sql: str) -> str:
        """One statement's unaligned output, through ``psql`` (no driver needed)."""
        psql = _binaries("psql")[0]
        done = subprocess.run(
            [psql, "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-c", sql],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def discard(self) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def _workspace(prefix: str) -> tuple[str, list[str]]:
    directory = tempfile.mkdtemp(prefix=prefix)
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        shutil.chown(directory, "postgres")
        os.chmod(directory, 0o755)
        run_as = ["runuser", "-u", "postgres", "--"]
    return directory, run_as


# pg_stat_statements on both: the standby's own counters show which reads it answered.
_STATEMENTS = "-c shared_preload_libraries=pg_stat_statements"
# A primary a standby can stream from: WAL for replicas, and room for a few of them.
PRIMARY_OPTIONS = f"-c wal_level=replica -c max_wal_senders=5 {_STATEMENTS}"
STANDBY_OPTIONS = f"-c hot_standby=on {_STATEMENTS}"


@contextmanager
def throwaway_cluster(*, replicable: bool = False) -> Iterator[Cluster]:
    """A new cluster on a free port, trusted, user postgres; ``replicable``: a standby may be made of it."""
    initdb, pg_ctl = _binaries("initdb", "pg_ctl")
    directory, run_as = _workspace("repohub-fault-pg-")
    data = os.path.join(directory, "data")
    subprocess.run(
        [*run_as, initdb, "-D", data, "-U", "postgres", "-A", "trust"], check=True, capture_output=True
    )
    options = PRIMARY_OPTIONS if replicable else ""
    cluster = Cluster(data, directory, free_port(), run_as, pg_ctl, options)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.discard()


# ``-R``: the standby's connection to its primary written into the copy; WAL streamed alongside.
_BACKUP = ("-R", "-X", "stream", "-c", "fast", "-D")


@contextmanager
def standby_of(primary: Cluster) -> Iterator[Cluster]:
    """A hot standby of ``primary`` (made by ``throwaway_cluster(replicable=True)``), streaming from it."""
    (basebackup,) = _binaries("pg_basebackup")
    directory, run_as = _workspace("repohub-standby-pg-")
    data = os.path.join(directory, "data")
    subprocess.run(
        [*run_as, basebackup, "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", *_BACKUP, data],
        check=True,
        capture_output=True,
    )
    standby = Cluster(data, directory, free_port(), run_as, primary.pg_ctl, STANDBY_OPTIONS)
    try:
        standby.start()
        wait_streaming(standby)
        yield standby
    finally:
        standby.discard()


def replayed(primary: Cluster, standby: Cluster, timeout: float = 30.0) -> None:
    """Until ``standby`` has replayed everything ``primary`` had written when this was called."""
    lsn = primary.psql("SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while standby.psql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") != "t":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the standby did not replay up to {lsn}")
        time.sleep(0.05)


def wait_streaming(standby: Cluster, timeout: float = 30.0) -> None:
    """Until the standby's WAL receiver streams from its primary."""
    deadline = time.monotonic() + timeout
    while standby.psql("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'") != "1":
        if time.monotonic() > deadline:
            raise RuntimeError("the standby does not stream from its primary")
        time.sleep(0.1)
