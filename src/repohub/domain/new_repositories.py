"""How a repository enters the catalogue: the one place its defaults are written.

Three paths create repositories: the dialects' "create repository" (``CatalogService``), a first
tagged push event (``registry.events``) and ``repohub registry sync`` (``registry.sync``). The last
two make what the registry brought in: private, category ``other``, empty descriptions. Each caller
has validated the name already, with its own message for a bad one (the catalogue raises, the events
log, sync reports), and holds the transaction the insert runs in.
"""

from __future__ import annotations

from repohub.store.unit import Store

__all__ = ["DEFAULT_CATEGORY", "add_repository"]

DEFAULT_CATEGORY = "other"


async def add_repository(
    store: Store,
    *,
    namespace_id: int,
    name: str,
    creator_id: int | None,
    description: str = "",
    full_description: str = "",
    category: str = DEFAULT_CATEGORY,
    is_public: bool = False,
) -> int:
    """Insert a repository whose ``name`` was validated; its id. Without the optional arguments it is
    one the registry created: private, category ``other``, no descriptions."""
    return await store.repositories.add(
        namespace_id=namespace_id,
        name=name,
        description=description,
        full_description=full_description,
        category=category,
        is_public=is_public,
        creator_id=creator_id,
    )
