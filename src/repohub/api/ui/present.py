"""How the pages show values: sizes in binary units, times relative and exact, digests short, and
what a tag holds (an image, an index of platforms, another artifact)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup

from repohub.api.render import iso

__all__ = ["Shown", "exact_time", "human_size", "media_of", "relative_time", "short_digest", "time_element"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_INDEXES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)
_IMAGES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)
# An OCI manifest whose config says it is an image; any other config type is another artifact
# (a Helm chart, a signature, an SBOM).
_IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)


def human_size(size: int) -> str:
    """``1.2 KiB``-style: one decimal below 10 of a unit, none above; bytes exactly. The unit is
    chosen after rounding, so 1,048,575 bytes are ``1.0 MiB``, not ``1024 KiB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS[1:]:
        value /= 1024
        shown = f"{value:.1f}" if round(value, 1) < 10 else f"{value:.0f}"
        if float(shown) < 1024 or unit == _UNITS[-1]:
            return f"{shown} {unit}"
    raise AssertionError("unreachable")


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _exact(stamp: str) -> str:
    """``YYYY-MM-DD HH:MM:SS UTC`` from ``iso``'s text."""
    return f"{stamp[:10]} {stamp[11:19]} UTC"


def exact_time(moment: datetime) -> str:
    return _exact(iso(moment))  # orjson's, in C: two strftime calls per tag were a tenth of a page


def time_element(moment: datetime, now: datetime) -> Markup:
    """``<time>`` with the machine-readable time, the exact UTC time on hover and the relative one
    as its text (nothing in it needs escaping: digits, signs and words of ours)."""
    stamp = iso(moment)
    shown = relative_time(moment, now)
    return Markup(f'<time datetime="{stamp[:19]}Z" title="{_exact(stamp)}">{shown}</time>')


_SPANS = ((365 * 86400, "year"), (30 * 86400, "month"), (86400, "day"), (3600, "hour"), (60, "minute"))


def relative_time(moment: datetime, now: datetime) -> str:
    seconds = int((_utc(now) - _utc(moment)).total_seconds())
    if seconds < 60:
        return "just now"
    for span, unit in _SPANS:
        if seconds >= span:
            count = seconds // span
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    raise AssertionError("unreachable")


def short_digest(digest: str) -> str:
    """The first 12 hex characters, as ``docker images`` shows an id."""
    return digest.partition(":")[2][:12] or digest[:12]


@dataclass(frozen=True, slots=True)
class Shown:
    kind: str  # "image" | "index" | "other"
    platforms: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        if self.kind == "index" and self.platforms:
            return f"index ({', '.join(self.platforms)})"
        return self.kind


def media_of(media_type: str, manifest: str | None) -> Shown:
    """What a tag holds, from its manifest's media type and, for an index, the platforms it lists."""
    body = _parsed(manifest)
    if media_type in _INDEXES:
        return Shown("index", _platforms(body))
    if media_type in _IMAGES:
        config = body.get("config") if isinstance(body, dict) else None
        config_type = config.get("mediaType") if isinstance(config, dict) else None
        image = config_type is None or config_type in _IMAGE_CONFIGS
        return Shown("image" if image else "other")
    return Shown("other")


def _parsed(manifest: str | None) -> object:
    if not manifest:
        return None
    try:
        return json.loads(manifest)
    except ValueError:
        return None


def _platforms(body: object) -> tuple[str, ...]:
    manifests = body.get("manifests") if isinstance(body, dict) else None
    found: list[str] = []
    for entry in manifests if isinstance(manifests, list) else []:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(platform, dict) or platform.get("os") in (None, "unknown"):
            continue  # attestations (os "unknown") are no platform
        parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
        name = "/".join(str(part) for part in parts if part)
        if name not in found:
            found.append(name)
    return tuple(found)
