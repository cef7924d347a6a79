"""The repository category rule, checked once here for every dialect: on a repository's creation and
change (``CatalogService``) and on a list's category filter (SWR's query parser calls it as it reads
the filter, so that its 400 comes in the order the parser checks its other parameters)."""

from __future__ import annotations

from repohub.domain.entities import CATEGORIES
from repohub.domain.errors import InvalidInput

__all__ = ["CATEGORIES", "check_category"]


def check_category(category: str) -> None:
    """InvalidInput (field ``category``) unless ``category`` is one of ``CATEGORIES``."""
    if category not in CATEGORIES:
        raise InvalidInput(f"category must be one of {', '.join(CATEGORIES)}", field="category")
