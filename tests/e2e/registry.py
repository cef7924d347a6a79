"""Run the real Distribution registry (Debian ``docker-registry``) and drive it with ``skopeo``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import needs

REGISTRY_BINARY = "docker-registry"
SKOPEO = "skopeo"


def require_binaries() -> None:
    """Both binaries come from Debian packages (``make test`` installs them); in CI absence fails."""
    missing = [name for name in (REGISTRY_BINARY, SKOPEO) if shutil.which(name) is None]
    if not missing:
        return
    needs.missing(f"{', '.join(missing)} not installed (Debian packages docker-registry, skopeo)")


def registry_config(fragment: str, storage: Path, port: int, *, delete: bool = True) -> str:
    """The config repohub printed (auth.token, notifications) plus storage, http and quiet logs."""
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"  delete:\n    enabled: {str(delete).lower()}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + fragment
    )


@dataclass
class Registry:
    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited:\n{self.log.read_text()}")
            try:
                # Token auth is on: an unauthenticated /v2/ answers 401 once the registry is up.
                if httpx.get(f"{self.url}/v2/", timeout=1).status_code == 401:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"docker-registry did not start:\n{self.log.read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def running_registry(config: Path, port: int) -> Iterator[Registry]:
    registry = Registry(config=config, port=port, log=config.with_suffix(".log"))
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


@dataclass(frozen=True)
class Skopeo:
    """skopeo over plain HTTP with an empty auth file, so only the credentials given are used."""

    workdir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        auth_file = self.workdir / "auth.json"
        if not auth_file.exists():
            auth_file.write_text('{"auths": {}}')
        env = {**os.environ, "REGISTRY_AUTH_FILE": str(auth_file), "TMPDIR": str(self.workdir)}
        return subprocess.run(
            [SKOPEO, "--insecure-policy", *args], env=env, capture_output=True, text=True, timeout=120
        )

    def push(self, layout: Path, target: str, *creds: str) -> subprocess.CompletedProcess[str]:
        return self.run("copy", "--dest-tls-verify=false", *creds, f"oci:{layout}", f"docker://{target}")

    def pull(self, source: str, layout: Path, *creds: str) -> subprocess.CompletedProcess[str]:
        return self.run("copy", "--src-tls-verify=false", *creds, f"docker://{source}", f"oci:{layout}")

    def inspect(self, target: str, *creds: str) -> subprocess.CompletedProcess[str]:
        return self.run("inspect", "--tls-verify=false", *creds, f"docker://{target}")
