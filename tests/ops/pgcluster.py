"""A throwaway PostgreSQL cluster a test can stop and start again (fault tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from tests.postgres import _free_port, _pg_bin


@dataclass
class Cluster:
    data: str
    directory: str
    port: int
    run_as: list[str]
    pg_ctl: str

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = os.path.join(self.directory, "log")
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", self.data, "-o", options, "-w", "-l", log, "start"],
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", self.data, "-m", mode, "-w", "stop"],
            check=True,
            capture_output=True,
        )


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) are required in CI")
        pytest.skip("no PostgreSQL binaries")
    directory = tempfile.mkdtemp(prefix="repohub-fault-pg-")
    data = os.path.join(directory, "data")
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        shutil.chown(directory, "postgres")
        os.chmod(directory, 0o755)
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, initdb, "-D", data, "-U", "postgres", "-A", "trust"], check=True, capture_output=True
    )
    cluster = Cluster(data=data, directory=directory, port=_free_port(), run_as=run_as, pg_ctl=pg_ctl)
    cluster.start()
    try:
        yield cluster
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
