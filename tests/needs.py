"""What a test needs from the machine: in CI (``CI=true``) its absence fails the test, for a required
part skipped there would hide every test behind it; elsewhere it skips, with the reason."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "chromium", "missing"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package (Makefile TEST_DEBS)
# What headless Chromium needs here: no sandbox (root in a container), none of its own network
# traffic (the machine refuses it, many connections at a time), and no name resolved but
# 127.0.0.1, so a page that reached for a CDN shows it in the request log instead of loading it.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def missing(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}: required in CI")
    pytest.skip(reason)


def chromium() -> str:
    """Debian's chromium, for the browser tests (/docs' and the web catalogue's)."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found is None:
        missing("chromium is not installed (Debian package chromium, Makefile TEST_DEBS)")
    return found
