"""Small rendering helpers shared by the dialects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_ZERO = timedelta(0)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with microseconds and 'Z', as every dialect shows times; an aware time in another
    zone is converted first. (``isoformat`` is a little cheaper than ``strftime``: list pages call
    this twice a row.)"""
    if moment is None:
        return None
    if moment.tzinfo is UTC:  # what the stores hand out
        return moment.isoformat(timespec="microseconds")[:-6] + "Z"
    offset = moment.utcoffset()
    if offset is None:  # naive: already UTC by the store's convention
        return moment.isoformat(timespec="microseconds") + "Z"
    if offset != _ZERO:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"
