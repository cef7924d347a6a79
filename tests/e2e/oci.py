"""Write a minimal OCI image layout (one layer, one file) with no container engine.

A port of ``shared/registry/mkimage.py``: skopeo copies ``oci:DIR:tag`` from it to the registry.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Image:
    layout: Path
    digest: str  # of the manifest
    manifest_size: int
    config_size: int
    layer_size: int
    config_digest: str

    @property
    def size(self) -> int:
        """What repohub reports: manifest + config + layers."""
        return self.manifest_size + self.config_size + self.layer_size


# -- a multi-platform image (added for tests/ui) -------------------------------------------------------
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


@dataclass(frozen=True)
class Index:
    """An OCI image index in ``layout`` listing one image manifest per platform."""

    layout: Path
    digest: str  # of the index
    index_size: int
    platforms: tuple[str, ...]  # "os/architecture", in the index's order
    images: tuple[int, ...]  # each listed image's size (manifest + config + layers)

    @property
    def size(self) -> int:
        """What repohub reports for an index: the index plus each image it lists."""
        return self.index_size + sum(self.images)


def _blob(layout: Path, data: bytes) -> tuple[str, int]:
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def _write_image(layout: Path, content: str, architecture: str = "amd64") -> Image:
    """The blobs of one linux/``architecture`` image (one layer holding ``hello.txt``)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = content.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    layer, layer_size = _blob(layout, gzip.compress(raw.getvalue(), mtime=0))
    config = {
        "architecture": architecture,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }
    config_digest, config_size = _blob(layout, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": layer_size}
        ],
    }
    digest, manifest_size = _blob(layout, json.dumps(manifest).encode())
    return Image(layout, digest, manifest_size, config_size, layer_size, config_digest)


def _write_layout(layout: Path, media_type: str, digest: str, size: int, tag: str) -> None:
    """The layout's own index.json naming ``digest`` as ``tag``, and its oci-layout marker."""
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": media_type,
                "digest": digest,
                "size": size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(top))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))


def write_image(layout: Path, content: str, *, tag: str = "latest") -> Image:
    image = _write_image(layout, content)
    _write_layout(layout, OCI_MANIFEST, image.digest, image.manifest_size, tag)
    return image


def write_index(
    layout: Path, content: str, *, tag: str = "latest", architectures: tuple[str, ...] = ("amd64", "arm64")
) -> Index:
    """An OCI layout whose ``tag`` is an image index of one image per linux/``architecture``; push
    it with ``skopeo copy --all`` (without it skopeo copies only the image of the host's platform)."""
    images = [_write_image(layout, f"{content}{arch}\n", arch) for arch in architectures]
    descriptors = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": image.digest,
            "size": image.manifest_size,
            "platform": {"architecture": arch, "os": "linux"},
        }
        for image, arch in zip(images, architectures, strict=True)
    ]
    index_body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    digest, index_size = _blob(layout, json.dumps(index_body).encode())
    _write_layout(layout, OCI_INDEX, digest, index_size, tag)
    platforms = tuple(f"linux/{arch}" for arch in architectures)
    return Index(layout, digest, index_size, platforms, tuple(image.size for image in images))
