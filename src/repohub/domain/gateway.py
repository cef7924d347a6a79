"""What the domain needs from the image registry, as a Protocol (implemented in ``repohub.registry``).

The catalogue calls it before deleting so the registry never keeps images the catalogue forgot;
event handling and sync call it to learn what a manifest weighs and which tags exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

# The account the registry sees on repohub's own calls: not a valid username, so never a person.
INTERNAL_SUBJECT = "@repohub"
# What a manifest is: the registry client asks for these, the event intake counts events on them.
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    digest: str
    media_type: str
    size: int  # manifest + config + layers (for an index: the index plus each image it lists)
    image_id: str  # config digest without "sha256:"; empty for an index
    manifest: str | None  # the manifest's JSON text


@dataclass(frozen=True, slots=True)
class TagDeletion:
    """What ``RegistryGateway.delete_tags`` did."""

    deleted: list[str]  # gone from the registry now, or already absent from it
    skipped: list[str]  # left alone: the registry's tag points at another digest than expected


class RegistryGateway(Protocol):
    async def delete_repository(self, path: str) -> None:
        """Delete every tagged manifest of ``namespace/name``; nothing to do if the registry has none."""

    async def delete_tag(self, path: str, tag: str) -> None:
        """Remove one tag; other tags on the same digest survive."""

    async def delete_tags(self, path: str, doomed: Mapping[str, str | None]) -> TagDeletion:
        """Remove many tags of one repository (tag → the digest the catalogue knows, or None for
        whatever it points at); every other tag survives, those sharing a deleted digest included.
        A tag whose digest in the registry is not the expected one (re-pushed since) is skipped.
        Raises UpstreamUnavailable / UpstreamFailed when the registry is down or refuses."""

    async def put_tag(self, path: str, source: str, destination: str) -> ManifestInfo | None:
        """Put the manifest of tag ``source`` under tag ``destination`` too (a retag); None when
        ``source`` does not exist in the registry."""

    async def repositories(self) -> list[str]:
        """Every repository path the registry knows (``/v2/_catalog``)."""

    async def tags(self, path: str) -> list[str]:
        """Tags of one repository; empty when the registry has none."""

    async def tag_digest(self, path: str, tag: str) -> str | None:
        """The manifest digest a tag points at, None when the tag does not exist."""

    async def manifest_info(self, path: str, reference: str) -> ManifestInfo | None:
        """Digest, media type and total size of a manifest (by tag or digest); None when missing."""
