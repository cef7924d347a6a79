"""Secrets at rest and in logs: tokens hashed, access-key secrets encrypted, nothing secret logged.

Everything runs for real: the CLI makes the credentials, a ``repohub serve`` at debug log level
handles logins and token requests, and then every column of every table and the whole server log
are searched for the plaintext.
"""

import hashlib
import json

import httpx
from sqlalchemy import select

from repohub.auth.secrets import SecretBox
from repohub.store.tables import Base, CredentialRow
from tests.server import cli, serve

PASSWORD = "correct-horse-battery-staple"


async def dump_database(app) -> str:
    """Every value of every row of every table, as one string."""
    values: list[str] = []
    async with app.state.repohub.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                values.extend(str(value) for value in row)
    return "\n".join(values)


async def test_no_plaintext_secret_in_the_database_or_the_logs(settings, app, clean):
    cli(settings, "users", "create", "carol", "--password", PASSWORD)
    token = json.loads(cli(settings, "tokens", "create", "carol", "--json"))["token"]
    key = json.loads(cli(settings, "access-keys", "create", "carol", "--json"))
    with serve(settings, extra_env={"REPOHUB_LOG_LEVEL": "debug"}) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            login = await http.post(
                "/v1/generate-api-token/", data={"username": "carol", "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            login_token = login.json()["token"]
            json_login = await http.post(
                "/v1/generate-api-token", json={"username": "carol", "password": PASSWORD}
            )
            assert json_login.status_code == 200
            refused = await http.post(
                "/v1/generate-api-token/", data={"username": "carol", "password": PASSWORD + "x"}
            )
            assert refused.status_code == 401 and PASSWORD not in refused.text
            for index, bearer in enumerate((token, login_token)):
                created = await http.post(
                    "/v1/repositories/carol/",
                    json={"repo_name": f"r{index}"},
                    headers={"Authorization": f"Token {bearer}"},
                )
                assert created.status_code == 201, created.text
            bad = await http.get("/v1/repositories/carol/", headers={"Authorization": f"Token {token}x"})
            assert bad.status_code == 401 and token not in bad.text
        log = server.log.read_text()
    secrets = {"password": PASSWORD, "cli token": token, "login token": login_token,
               "login token 2": json_login.json()["token"], "secret key": key["secret_key"]}  # fmt: skip
    for name, secret in secrets.items():
        assert secret not in log, f"{name} appears in the server log"

    stored = await dump_database(app)
    for name, secret in secrets.items():
        assert secret not in stored, f"{name} is stored in plaintext"
    async with app.state.repohub.sessions() as session:
        rows = (await session.execute(select(CredentialRow))).scalars().all()
    lookups = {row.lookup for row in rows}
    for token_value in (token, login_token):
        assert hashlib.sha256(token_value.encode()).hexdigest() in lookups  # stored as SHA-256
    (access,) = [row for row in rows if row.kind == "access_key"]
    assert access.lookup == key["access_key"] and access.encrypted_secret
    assert SecretBox(settings.resolved_secret_key).open(access.encrypted_secret) == key["secret_key"]
    assert SecretBox("another server key").open(access.encrypted_secret) is None
    assert all(row.encrypted_secret is None for row in rows if row.kind == "token")
