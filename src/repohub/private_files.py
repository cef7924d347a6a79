"""Files and directories only their owner may open: the SQLite database and its journals, the keys and
secrets of the data directory.

Modes are set explicitly rather than through the umask: the umask is the whole process's (the tests',
an embedding application's), and mkdir's and open's modes are masked by it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "private_dir", "private_file", "tighten"]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600

log = logging.getLogger("repohub.files")


def private_dir(path: Path) -> None:
    """Make ``path`` and its missing parents, each 0700. A directory that exists already is left as
    it is: it may be one the operator shares on purpose (the working directory, ``/var/lib``)."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # another process made it at the same moment: it sets the mode
        directory.chmod(PRIVATE_DIR)


def private_file(path: Path) -> None:
    """Create ``path`` empty and 0600 if it does not exist; otherwise :func:`tighten` it."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE)
    except FileExistsError:
        tighten(path)
        return
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
    finally:
        os.close(descriptor)


def tighten(path: Path) -> None:
    """Take group's and others' permissions off an existing file (one made 0644 by an older version).
    A file this user may not chmod (another owner) is reported, not fatal: the service still runs."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & 0o077:
            path.chmod(current & 0o700)
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("%s is readable by others and cannot be made private (not its owner)", path)
