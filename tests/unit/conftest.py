"""Unit tests run without a database, a network or a process: a test here that asks for one fails.

Database-backed tests live in tests/store (the store, both databases), tests/domain (use cases over a
real database) and tests/api (through HTTP).
"""

from __future__ import annotations

import pytest

# The fixtures of tests/conftest.py that make or reach a database (each needs ``database_url``).
DATABASE_FIXTURES = frozenset({"database_url", "settings", "app", "clean", "client", "world", "accounts"})


def _parametrized(node: pytest.Item) -> set[str]:
    """The argument names a test's own ``parametrize`` marks give (``client`` may be a mere value)."""
    names: set[str] = set()
    for mark in node.iter_markers("parametrize"):
        argnames = mark.args[0]
        names.update(argnames.replace(" ", "").split(",") if isinstance(argnames, str) else argnames)
    return names


@pytest.fixture(autouse=True)
def _no_database(request: pytest.FixtureRequest) -> None:
    used = sorted(DATABASE_FIXTURES.intersection(request.fixturenames) - _parametrized(request.node))
    if used:
        pytest.fail(
            f"{request.node.nodeid} uses the database ({', '.join(used)}): "
            "move it to tests/store, tests/domain or tests/api"
        )
