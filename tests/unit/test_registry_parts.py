"""``RegistryService`` inherits its three use cases: their own names must not shadow each other."""

from __future__ import annotations

from repohub.domain.registry import EventIntake, Grants, RegistryService, Sync


def test_the_parts_share_no_name() -> None:
    parts = [
        {name for name in vars(part) if not name.startswith("__")} for part in (Grants, EventIntake, Sync)
    ]
    for index, names in enumerate(parts):
        for other in parts[index + 1 :]:
            assert not names & other


def test_the_service_is_all_three() -> None:
    assert RegistryService.__mro__[1:4] == (Grants, EventIntake, Sync)
