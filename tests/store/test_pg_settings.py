"""PostgreSQL sessions of both executors run without JIT (``store.engine.PG_SESSION_SETTINGS``)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import text


async def test_the_reader_and_the_sessions_run_without_jit(app: FastAPI) -> None:
    state = app.state.repohub
    if state.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's setting")  # the SQLite run of a parametrised fixture
    rows = await state.reader.fetch("SELECT current_setting('jit') AS jit", [])
    assert rows[0]["jit"] == "off"
    async with state.engine.connect() as connection:
        assert (await connection.execute(text("SELECT current_setting('jit')"))).scalar_one() == "off"
