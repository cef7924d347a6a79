"""Times as every dialect shows them: UTC, microseconds always, 'Z'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from repohub.api.render import iso


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        (datetime(2026, 12, 1, 12, 30, 5, 123456, tzinfo=UTC), "2026-12-01T12:30:05.123456Z"),
        (datetime(2026, 12, 1, 12, 30, 5, tzinfo=UTC), "2026-12-01T12:30:05.000000Z"),  # zero fraction
        (datetime(2026, 12, 1, 12, 30, 5, 120000, tzinfo=UTC), "2026-12-01T12:30:05.120000Z"),
        (datetime(2026, 12, 1, 12, 30, 5, 7), "2026-12-01T12:30:05.000007Z"),  # naive: UTC (SQLite)
        (datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=2))), "2026-11-30T22:30:00.000000Z"),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00.000000Z"),
    ],
)
def test_iso_is_utc_with_microseconds_and_z(moment: datetime, shown: str) -> None:
    assert iso(moment) == shown


def test_iso_agrees_with_isoformat_for_every_fraction() -> None:
    base = datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
    for microsecond in (0, 1, 9, 10, 99, 100, 999, 1000, 99999, 100000, 999999):
        moment = base.replace(microsecond=microsecond)
        assert iso(moment) == moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def test_no_time_is_none() -> None:
    assert iso(None) is None
