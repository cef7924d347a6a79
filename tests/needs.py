"""What a test needs from the machine: in CI (``CI=true``) its absence fails the test, for a required
part skipped there would hide every test behind it; elsewhere it skips, with the reason."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["CHROMIUM", "chromium", "missing"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package (Makefile TEST_DEBS)


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
