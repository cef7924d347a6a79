"""CPU time a server process (and its worker processes) used: the cost per request that does not move
with whatever else the machine is doing, unlike requests/s on a shared 2-core box."""

from __future__ import annotations

import os
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # fields after "pid (comm)": state is [0]


def seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and of its live child processes (uvicorn's workers)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat(int(entry.name))
        if fields is None:
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return total
