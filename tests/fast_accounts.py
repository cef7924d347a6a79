"""Moved to ``tests.world`` (the one world builder); this name stays for branches written before it."""

from tests.world import PASSWORD, quick_user

__all__ = ["PASSWORD", "quick_user"]
