"""Parsing each dialect's Authorization header into what it claims (no verification here)."""

from __future__ import annotations

import base64
import binascii


class MalformedCredentials(ValueError):
    pass


def split_authorization(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if not rest.strip():
        raise MalformedCredentials("the Authorization header needs a scheme and credentials")
    return scheme.lower(), rest.strip()


def decode_basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise MalformedCredentials("Basic credentials are not valid base64 of 'user:password'") from error
    username, sep, password = decoded.partition(":")
    if not sep:
        raise MalformedCredentials("Basic credentials must be 'user:password'")
    return username, password
