"""The token signing key, loaded once per process (the token endpoint is hot: no file reads per call)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from repohub.auth.registry_token import SigningKey, load_or_create_signing_key
from repohub.config import Settings
from repohub.registry.client import RegistryClient


@lru_cache(maxsize=4)
def _load(key_path: Path, cert_path: Path) -> SigningKey:
    return load_or_create_signing_key(key_path, cert_path)


def signing_key(settings: Settings) -> SigningKey:
    """The key and certificate, created on first use and kept under ``data_dir`` unless configured."""
    return _load(settings.token_key_path.absolute(), settings.token_cert_path.absolute())


def registry_client(settings: Settings) -> RegistryClient | None:
    """A client for ``REPOHUB_REGISTRY_URL``, or None when no registry is configured."""
    if not settings.registry_url:
        return None
    return RegistryClient(
        settings.registry_url,
        signing_key(settings),
        issuer=settings.registry_issuer,
        service=settings.registry_service,
    )
