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


def write_image(layout: Path, content: str, *, tag: str = "latest") -> Image:
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def blob(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return f"sha256:{digest}", len(data)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = content.encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    layer, layer_size = blob(gzip.compress(raw.getvalue(), mtime=0))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "config": {},
    }
    config_digest, config_size = blob(json.dumps(config).encode())
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
    digest, manifest_size = blob(json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return Image(layout, digest, manifest_size, config_size, layer_size, config_digest)


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


def _platform_manifest(layout: Path, content: str, architecture: str) -> dict[str, object]:
    """One image for linux/``architecture`` (its config says so); its descriptor for the index."""
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
    digest, size = _blob(layout, json.dumps(manifest).encode())
    return {
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": size,
        "platform": {"architecture": architecture, "os": "linux"},
        "x-image-size": size + config_size + layer_size,  # stripped before it goes in the index
    }


def write_index(
    layout: Path, content: str, *, tag: str = "latest", architectures: tuple[str, ...] = ("amd64", "arm64")
) -> Index:
    """An OCI layout whose ``tag`` is an image index of one image per linux/``architecture``; push
    it with ``skopeo copy --all`` (without it skopeo copies only the image of the host's platform)."""
    descriptors = [_platform_manifest(layout, f"{content}{arch}\n", arch) for arch in architectures]
    sizes = tuple(int(str(descriptor.pop("x-image-size"))) for descriptor in descriptors)
    index_body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
    digest, index_size = _blob(layout, json.dumps(index_body).encode())
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": OCI_INDEX,
                "digest": digest,
                "size": index_size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(top))
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    platforms = tuple(f"linux/{arch}" for arch in architectures)
    return Index(layout, digest, index_size, platforms, sizes)
