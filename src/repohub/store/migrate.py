"""Apply Alembic migrations from code (``repohub migrate``, ``serve`` on SQLite, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

# A source checkout keeps alembic.ini and migrations/ beside src/; an installed package (the Docker
# image) finds them in the working directory.
_CANDIDATES = (Path(__file__).resolve().parents[3], Path.cwd())


def project_root() -> Path:
    for candidate in _CANDIDATES:
        if (candidate / "alembic.ini").is_file() and (candidate / "migrations").is_dir():
            return candidate
    raise FileNotFoundError("alembic.ini and migrations/ not found beside the package or in the cwd")


def alembic_config(database_url: str) -> Config:
    root = project_root()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str) -> None:
    """Bring the database to the newest revision (blocking: call it outside an event loop)."""
    command.upgrade(alembic_config(database_url), "head")


def heads() -> frozenset[str]:
    """The newest revision ids the code ships (what a database at head has in alembic_version)."""
    from alembic.script import ScriptDirectory

    root = project_root()
    return frozenset(ScriptDirectory(str(root / "migrations")).get_heads())


async def applied(engine: AsyncEngine) -> frozenset[str]:
    """The revisions recorded in the database (raises if it cannot be reached)."""
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return frozenset(result.scalars())
