"""The brief memory of verified API tokens: bounded by its TTL, the token's expiry and its size."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from repohub.domain.entities import Credential, User
from repohub.domain.verified import VerifiedTokens

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USER = User(
    id=1, username="dev", email=None, display_name=None, is_admin=False, created_at=NOW, updated_at=NOW
)
TOKEN = Credential(id=7, user=USER)


def test_remembers_within_ttl_and_forgets_after() -> None:
    tokens = VerifiedTokens(ttl=0.05)
    tokens.put("digest", TOKEN)
    assert tokens.get("digest", NOW) == TOKEN
    time.sleep(0.06)
    assert tokens.get("digest", NOW) is None


def test_never_outlives_the_token_itself() -> None:
    tokens = VerifiedTokens(ttl=60)
    expiring = Credential(id=7, user=USER, expires_at=NOW + timedelta(seconds=1))
    tokens.put("digest", expiring)
    assert tokens.get("digest", NOW) == expiring
    assert tokens.get("digest", NOW + timedelta(seconds=1)) is None


def test_forget_and_size_bound() -> None:
    tokens = VerifiedTokens(ttl=60, max_entries=2)
    for digest in ("a", "b", "c"):
        tokens.put(digest, TOKEN)
    assert tokens.get("a", NOW) is None  # the oldest went first
    assert tokens.get("c", NOW) == TOKEN
    tokens.forget("c")
    assert tokens.get("c", NOW) is None
