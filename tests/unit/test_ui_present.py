"""How the catalogue shows sizes, times, digests and what a tag holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from repohub.api.ui.present import exact_time, human_size, media_of, relative_time, short_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE = "application/vnd.oci.image.manifest.v1+json"


@pytest.mark.parametrize(
    ("size", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (10 * 1024, "10 KiB"),
     (10188, "9.9 KiB"), (10239, "10 KiB"), (1048575, "1.0 MiB"),
     (3 * 1024**2, "3.0 MiB"), (int(2.25 * 1024**3), "2.2 GiB"), (5 * 1024**6, "5120 PiB")],
)  # fmt: skip
def test_sizes_are_in_binary_units(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_times_are_relative_with_the_exact_utc_time_beside() -> None:
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert relative_time(now - timedelta(seconds=5), now) == "just now"
    assert relative_time(now - timedelta(minutes=1), now) == "1 minute ago"
    assert relative_time(now - timedelta(hours=5), now) == "5 hours ago"
    assert relative_time(now - timedelta(days=40), now) == "1 month ago"
    assert relative_time(datetime(2024, 1, 1), now) == "2 years ago"  # naive: UTC, as SQLite's
    assert exact_time(datetime(2024, 1, 1, 3, 4, 5)) == "2024-01-01 03:04:05 UTC"


def test_a_digest_shows_its_first_twelve_hex_characters() -> None:
    assert short_digest("sha256:" + "ab" * 32) == "abababababab"


def test_an_index_shows_its_platforms_without_attestations() -> None:
    manifests = [
        {"platform": {"os": "linux", "architecture": "amd64"}},
        {"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        {"platform": {"os": "unknown", "architecture": "unknown"}},  # buildx's attestation
    ]
    shown = media_of(OCI_INDEX, json.dumps({"manifests": manifests}))
    assert shown.label == "index (linux/amd64, linux/arm64/v8)"


def test_images_and_other_artifacts() -> None:
    image = {"config": {"mediaType": "application/vnd.oci.image.config.v1+json"}}
    chart = {"config": {"mediaType": "application/vnd.cncf.helm.config.v1+json"}}
    assert media_of(OCI_IMAGE, json.dumps(image)).label == "image"
    assert media_of(OCI_IMAGE, None).label == "image"
    assert media_of(OCI_IMAGE, json.dumps(chart)).label == "other"
    assert media_of("application/vnd.example+json", None).label == "other"
    assert media_of(OCI_INDEX, "not json").label == "index"
