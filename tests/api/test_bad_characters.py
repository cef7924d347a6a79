"""A NUL that reaches PostgreSQL through any dialect's lookup is rendered as a 400, not a 500."""

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from repohub.api import errors
from repohub.store.engine import create_engine
from tests.postgres import create_database


async def test_postgresql_character_errors_are_400_in_the_dialect_format():
    engine = create_engine(create_database())
    app = FastAPI()
    renderers = errors.ErrorRenderers()
    renderers.register("/v1/", errors.default_renderer)
    errors.install(app, renderers)

    @app.get("/v1/lookup/{name}")
    async def lookup(name: str) -> dict[str, str]:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT :name"), {"name": name})
        return {"name": name}

    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            assert (await http.get("/v1/lookup/plain")).json() == {"name": "plain"}
            response = await http.get("/v1/lookup/a%00b")
    finally:
        await engine.dispose()
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "invalid_input" and "NUL" in response.json()["detail"]
