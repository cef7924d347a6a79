"""The SQLite database holds password hashes, token digests and encrypted secrets: whichever command
creates it, the file and its -wal/-shm are 0600 and the directories made for it and for the data 0700."""

import os
import stat
import subprocess
from pathlib import Path

import httpx

from repohub.config import Settings
from tests.server import REPOHUB, serve

# A usual umask, under which SQLite (and mkdir) would make the files 0644 and directories 0755.
UMASK = 0o022


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def environment(database: Path, data_dir: Path) -> dict[str, str]:
    """No secret key given: the commands generate one in the data directory, creating it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("REPOHUB_")}
    return {
        **env,
        "REPOHUB_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "REPOHUB_DATA_DIR": str(data_dir),
        "REPOHUB_ADMIN_PASSWORD": "admin-password",
    }


def repohub(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(REPOHUB), *args], env=env, capture_output=True, text=True, timeout=120, umask=UMASK
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_migrate_creates_the_database_0600_and_its_directories_0700(tmp_path):
    database = tmp_path / "new" / "nested" / "repohub.db"
    data_dir = tmp_path / "data"
    repohub(environment(database, data_dir), "migrate")
    assert mode(database) == 0o600
    assert mode(tmp_path / "new") == mode(database.parent) == 0o700
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "secret.key") == 0o600


def test_serve_keeps_the_database_its_wal_and_shm_0600(tmp_path):
    database = tmp_path / "served" / "repohub.db"
    (tmp_path / "logs").mkdir()  # where ``serve`` keeps the server's log
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        data_dir=tmp_path / "logs",
        secret_key="test-secret-key",
        _env_file=None,
    )
    old = os.umask(UMASK)  # the server inherits it
    try:
        with serve(settings) as server:
            assert httpx.get(f"{server.url}/readyz").status_code == 200  # the app's connections open
            files = [database, database.with_name("repohub.db-wal"), database.with_name("repohub.db-shm")]
            assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        os.umask(old)
    assert mode(database.parent) == 0o700


def test_a_command_tightens_a_database_left_readable_by_others(tmp_path):
    """A database made before (0644, as SQLite made it) is 0600 after any command that opens it."""
    database = tmp_path / "db" / "repohub.db"
    env = environment(database, tmp_path / "data")
    repohub(env, "migrate")
    database.chmod(0o644)
    repohub(env, "users", "create", "carol", "--password", "pw-carol-1")
    assert mode(database) == 0o600
