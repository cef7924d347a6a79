"""SWR's docker-login credential is derived from the caller's credential: it never outlives it, dies
with it, and cannot mint another; until then it is a full API token of its user in every dialect."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from repohub.domain.errors import NotAuthenticated
from tests.api.abeja.support import basic as abeja_basic
from tests.api.abeja.support import user_id
from tests.api.swr.helpers import auth
from tests.api.swr.test_signature import signed_headers
from tests.world import World, token_header

MINT = "/v2/manage/utils/authorizationtoken"


@pytest.fixture
async def alice(accounts: World, client: httpx.AsyncClient) -> None:
    await accounts.account("alice")


def registry_basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


async def issued_token(accounts: World, username: str, *, expires_at: datetime | None = None) -> str:
    async with accounts.service() as service:
        return (await service.accounts.create_token(username, expires_at=expires_at)).token
    raise AssertionError("no service")


async def revoke(accounts: World, token: str) -> bool:
    async with accounts.service() as service:
        return await service.accounts.revoke_token(token)
    raise AssertionError("no service")


async def mint(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(MINT, headers=headers)


def derived_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.headers["x-swr-dockerlogin"].split()[5]


def expiry_of(response: httpx.Response) -> datetime:
    return datetime.strptime(response.headers["x-swr-expireat"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


async def statuses(client: httpx.AsyncClient, app, token: str) -> dict[str, int]:
    """What the token gets in each dialect, on a read of the user's own namespace."""
    alice_id = await user_id(app, "alice")
    return {
        "swr": (await client.get("/v2/manage/namespaces/alice", headers=auth(token))).status_code,
        "v1": (await client.get("/v1/repositories/alice/", headers=token_header(token))).status_code,
        "abeja": (
            await client.get(f"/organizations/{alice_id}", headers=abeja_basic(alice_id, token))
        ).status_code,
        "registry": (
            await client.get(
                "/registry/token",
                params={"service": "repohub-registry"},
                headers=registry_basic("alice", token),
            )
        ).status_code,
    }


EVERYWHERE_OK = {"swr": 200, "v1": 200, "abeja": 200, "registry": 200}
EVERYWHERE_401 = {"swr": 401, "v1": 401, "abeja": 401, "registry": 401}


async def test_a_docker_login_credential_expires_no_later_than_a_40_second_parent(
    client: httpx.AsyncClient, accounts: World, alice: None
) -> None:
    parent_expiry = datetime.now(UTC) + timedelta(seconds=40)
    parent = await issued_token(accounts, "alice", expires_at=parent_expiry)
    answer = await mint(client, auth(parent))
    derived = derived_of(answer)
    assert expiry_of(answer) <= parent_expiry
    async with accounts.service() as service:
        with pytest.raises(NotAuthenticated):
            await service.accounts.authenticate_token(derived, now=parent_expiry + timedelta(seconds=1))


async def test_a_docker_login_credential_cannot_mint_another(
    client: httpx.AsyncClient, accounts: World, alice: None
) -> None:
    parent = await issued_token(accounts, "alice", expires_at=datetime.now(UTC) + timedelta(seconds=40))
    derived = derived_of(await mint(client, auth(parent)))
    again = await mint(client, auth(derived))
    assert again.status_code == 403, again.text
    assert again.json()["error_code"].startswith("SVCSTG.SWR.403")
    assert set(again.json()) == {"error_code", "error_msg"}
    assert await statuses(client, accounts.app, derived) == EVERYWHERE_OK  # still a full API token


async def test_revoking_the_parent_revokes_the_docker_login_credential_in_every_dialect(
    client: httpx.AsyncClient, accounts: World, alice: None
) -> None:
    parent = await issued_token(accounts, "alice")
    derived = derived_of(await mint(client, auth(parent)))
    # Each dialect verifies it now, so this process remembers it as verified (domain.verified).
    assert await statuses(client, accounts.app, derived) == EVERYWHERE_OK
    assert await revoke(accounts, parent) is True
    assert await statuses(client, accounts.app, derived) == EVERYWHERE_401
    assert await statuses(client, accounts.app, parent) == EVERYWHERE_401


async def test_an_access_key_mints_a_day_long_credential_that_names_it_as_parent(
    client: httpx.AsyncClient, accounts: World, alice: None
) -> None:
    async with accounts.service() as service:
        key = await service.accounts.create_access_key("alice")
    before = datetime.now(UTC).replace(microsecond=0)
    answer = await mint(client, signed_headers("POST", MINT, key))
    derived = derived_of(answer)
    assert before + timedelta(hours=24) <= expiry_of(answer) <= datetime.now(UTC) + timedelta(hours=24)
    assert await statuses(client, accounts.app, derived) == EVERYWHERE_OK
    assert (await mint(client, auth(derived))).status_code == 403
    async with accounts.service() as service:
        listed = await service.accounts.list_tokens("alice")
    (entry,) = [entry for entry in listed if entry.kind == "docker-login"]
    assert entry.parent_id is not None and entry.parent_id not in {other.id for other in listed}
