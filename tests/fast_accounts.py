"""Users for tests that are about something other than passwords.

create_user hashes with argon2 (deliberately slow; about a second on a busy machine), which would
dominate tests that need several users. These helpers write the same rows through the real store with
one precomputed hash; create_user itself is tested in tests/unit/test_service_rules.py.
"""

from __future__ import annotations

from repohub.auth.secrets import hash_password
from repohub.domain.entities import NamespaceKind, Role
from repohub.store.unit import Store

PASSWORD = "password-1"
_PASSWORD_HASH = hash_password(PASSWORD)


async def quick_user(store: Store, name: str, *, is_admin: bool = False) -> None:
    """A user with password PASSWORD and its personal namespace, as create_user writes them."""
    async with store.transaction():
        user = await store.users.add(
            username=name, email=f"{name}@example.test", password_hash=_PASSWORD_HASH, is_admin=is_admin
        )
        namespace = await store.namespaces.add(name=name, kind=NamespaceKind.USER, creator_id=user.id)
        await store.namespaces.set_member(namespace.id, user.id, Role.ADMIN)
