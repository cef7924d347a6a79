"""The token signing key, read from (or created under) its configured paths.

Read on each call: whoever needs it across requests keeps it (the app's state loads it once, on first
use; the token endpoint is hot, so no file reads per call), so two apps of one process never share a
key they were not both configured with.
"""

from __future__ import annotations

from repohub.auth.registry_token import SigningKey, load_or_create_signing_key
from repohub.config import Settings
from repohub.registry.client import RegistryClient


def signing_key(settings: Settings) -> SigningKey:
    """The key and certificate, created on first use and kept under ``data_dir`` unless configured."""
    return load_or_create_signing_key(settings.token_key_path.absolute(), settings.token_cert_path.absolute())


def registry_client(settings: Settings, key: SigningKey | None = None) -> RegistryClient | None:
    """A client for ``REPOHUB_REGISTRY_URL``, or None when no registry is configured; it signs with
    ``key`` (default: the configured key, read now)."""
    if not settings.registry_url:
        return None
    return RegistryClient(
        settings.registry_url,
        key if key is not None else signing_key(settings),
        issuer=settings.registry_issuer,
        service=settings.registry_service,
    )
