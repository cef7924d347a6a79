"""The caller's own docker-login credentials through the real huaweicloudsdkswr ``SwrClient`` (AK/SK)
against a real ``repohub serve``: ``create_secret`` and the four long-term credential calls, each
credential tried where it is used, at the registry's token server (``GET /registry/token``, Basic
auth, as docker and skopeo send it) and as an API token."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
from huaweicloudsdkswr.v2 import (
    CreateAuthorizationTokenRequest,
    CreateInstanceLtCredentialRequest,
    CreateLongTermCredentialRequestBody,
    CreateSecretRequest,
    DeleteInstanceLtCredentialRequest,
    ListInstanceLtCredentialsRequest,
    SwrClient,
    UpdateInstanceLtCredentialRequest,
    UpdateLongTermCredentialRequestBody,
)
from sqlalchemy import delete

from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.domain.verified import TTL_SECONDS
from repohub.store.tables import UserRow
from tests.compat.test_swr_sdk import access_key, refused, swr_client
from tests.server import Server, cli, serve
from tests.world import World

SCOPE = "repository:acme/app:pull"


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


@dataclass(frozen=True)
class Clients:
    alice: SwrClient  # admin of acme
    bob: SwrClient  # member of acme
    root: SwrClient  # site admin
    instance: str
    project: str  # alice's

    def base(self, server: Server) -> str:
        """alice's enterprise-edition calls, for requests the SDK would not send."""
        return f"{server.url}/v2/{self.project}/instances/{self.instance}"


async def _clients(server: Server, settings: Settings, accounts: World) -> Clients:
    for name in ("alice", "bob"):
        await accounts.user(name)
    await accounts.user("root", admin=True)
    await accounts.org("acme", owner="alice", members={"bob": Role.MEMBER})
    await accounts.repository("acme/app", by="alice")
    key = json.loads(cli(settings, "access-keys", "create", "alice", "--json"))
    return Clients(
        swr_client(server.url, key),
        swr_client(server.url, await access_key(accounts, "bob")),
        swr_client(server.url, await access_key(accounts, "root")),
        key["instance_id"],
        key["project_id"],
    )


def pulls(server: Server, user: str, password: str) -> int | list[str]:
    """What the registry's token server grants ``user:password`` on acme/app: its actions, or the
    HTTP status of a refusal."""
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    response = httpx.get(
        f"{server.url}/registry/token",
        params={"service": "repohub-registry", "scope": SCOPE},
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
    )
    if response.status_code != 200:
        return response.status_code
    claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
    return [action for item in claims["access"] for action in item["actions"]]


def as_token(server: Server, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    """A request the SDK would not send: ``path`` (or a whole URL) with ``token`` as X-Auth-Token."""
    url = path if path.startswith("http") else f"{server.url}{path}"
    return httpx.request(method, url, json=body, headers={"X-Auth-Token": token}, timeout=30)


def create(client: SwrClient, instance: str, name: str) -> Any:
    body = CreateLongTermCredentialRequestBody(name=name)
    return client.create_instance_lt_credential(
        CreateInstanceLtCredentialRequest(instance_id=instance, body=body)
    )


def listed(client: SwrClient, instance: str, **query: Any) -> list[tuple[str, str, bool]]:
    answer = client.list_instance_lt_credentials(
        ListInstanceLtCredentialsRequest(instance_id=instance, **query)
    )
    assert answer.total >= len(answer.auth_tokens)
    return [(token.name, token.user_id, token.enable) for token in answer.auth_tokens]


def enable(client: SwrClient, instance: str, credential_id: str, enabled: bool) -> Any:
    body = UpdateLongTermCredentialRequestBody(enable=enabled)
    request = UpdateInstanceLtCredentialRequest(instance_id=instance, credential_id=credential_id, body=body)
    return client.update_instance_lt_credential(request)


def remove(client: SwrClient, instance: str, credential_id: str) -> Any:
    request = DeleteInstanceLtCredentialRequest(instance_id=instance, credential_id=credential_id)
    return client.delete_instance_lt_credential(request)


async def test_create_secret_answers_as_authorizationtoken_with_a_working_login(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    secret = sdk.alice.create_secret(CreateSecretRequest(projectname="cn-north-4"))
    token = sdk.alice.create_authorization_token(CreateAuthorizationTokenRequest())
    assert secret.status_code == token.status_code == 200
    assert set(secret.auths) == set(token.auths) == {"registry.example.test"}
    user, password = base64.b64decode(secret.auths["registry.example.test"].auth).decode().split(":", 1)
    assert user == "alice"
    assert secret.x_swr_dockerlogin == f"docker login -u alice -p {password} registry.example.test"
    assert secret.x_swr_expireat.endswith("Z") and token.x_swr_expireat.endswith("Z")
    assert pulls(server, "alice", password) == ["pull"]
    assert pulls(server, "bob", password) == 401  # the token is alice's
    # Without projectname too; a docker-login token mints no other (403), as authorizationtoken's.
    assert sdk.bob.create_secret(CreateSecretRequest()).auths
    minted = as_token(server, password, "POST", "/v2/manage/utils/secret")
    assert minted.status_code == 403 and minted.json()["error_code"] == "SVCSTG.SWR.4030001"


async def test_the_four_long_term_credential_calls_and_what_the_credential_does(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    alice, instance = sdk.alice, sdk.instance

    # create: 201, the token shown this once, never expiring; the username is what docker takes
    made = create(alice, instance, "ci-pull")
    assert made.status_code == 201
    assert (made.user_id, made.expire_date) == ("alice", None)
    assert made.created_at.endswith("Z") and made.token_id.isdigit() and made.auth_token
    second = create(alice, instance, "deploy.v2")
    token, credential = made.auth_token, made.token_id

    # used at the token server with the username, and as alice's API token elsewhere
    assert pulls(server, "alice", token) == ["pull"]
    assert pulls(server, "bob", token) == 401
    assert as_token(server, token, "GET", "/v2/manage/namespaces/acme").status_code == 200

    # list: newest first, never a token
    answer = alice.list_instance_lt_credentials(ListInstanceLtCredentialsRequest(instance_id=instance))
    assert answer.total == 2
    assert [(t.name, t.token_id, t.enable, t.user_id) for t in answer.auth_tokens] == [
        ("deploy.v2", second.token_id, True, "alice"),
        ("ci-pull", credential, True, "alice"),
    ]
    first = answer.auth_tokens[1]
    assert (first.instance_id, first.expire_date, first.created_at) == (instance, None, made.created_at)
    assert token not in json.dumps(answer.to_json_object())
    page = alice.list_instance_lt_credentials(
        ListInstanceLtCredentialsRequest(instance_id=instance, offset=1, limit=1)
    )
    assert (page.total, [t.name for t in page.auth_tokens]) == (2, ["ci-pull"])

    # disable: refused at once everywhere (the verified memory of this server forgets it); enable
    assert enable(alice, instance, credential, False).status_code == 200
    assert listed(alice, instance)[1] == ("ci-pull", "alice", False)
    assert pulls(server, "alice", token) == 401
    assert as_token(server, token, "GET", "/v2/manage/namespaces/acme").status_code == 401
    enable(alice, instance, credential, True)
    assert pulls(server, "alice", token) == ["pull"]

    # it mints nothing: neither a docker-login token nor another long-term credential
    assert as_token(server, token, "POST", "/v2/manage/utils/authorizationtoken").status_code == 403
    again = as_token(server, token, "POST", f"{sdk.base(server)}/long-term-credential", {"name": "sneaky"})
    assert again.status_code == 403, again.text

    # delete: gone from the list, refused at once
    assert remove(alice, instance, credential).status_code == 200
    assert [name for name, _, _ in listed(alice, instance)] == ["deploy.v2"]
    assert pulls(server, "alice", token) == 401
    refused(lambda: remove(alice, instance, credential), 404)
    refused(lambda: enable(alice, instance, credential, True), 404)


async def test_bad_input_and_other_users_credentials(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    alice, bob, root, instance = sdk.alice, sdk.bob, sdk.root, sdk.instance
    made = create(alice, instance, "alice-ci")
    bobs = create(bob, instance, "bob-ci")

    for bad in ("Upper", "-dash", "a..b", "a_", "x" * 65, ""):
        assert refused(lambda bad=bad: create(alice, instance, bad), 400).error_msg.startswith("name must be")
    assert "exists" in refused(lambda: create(alice, instance, "alice-ci"), 409).error_msg
    # the same name is another user's own to take
    assert create(bob, instance, "alice-ci").status_code == 201

    # unknown ids, ids that are no integer, and another user's: all missing alike
    for missing in ("999999", "0", "abc", "9" * 30, bobs.token_id):
        refused(lambda missing=missing: enable(alice, instance, missing, False), 404)
        refused(lambda missing=missing: remove(alice, instance, missing), 404)
    assert pulls(server, "bob", bobs.auth_token) == ["pull"]  # untouched by alice's attempts
    assert [name for name, _, _ in listed(alice, instance, self_only=False)] == ["alice-ci"]
    refused(
        lambda: alice.list_instance_lt_credentials(
            ListInstanceLtCredentialsRequest(instance_id=instance, limit=101)
        ),
        400,
    )
    refused(lambda: create(alice, "not-ours", "x1"), 404)

    # bad bodies, which the SDK's models would not send
    base = sdk.base(server)
    token = accounts.tokens["alice"]
    for body in ({}, {"name": 7}, {"name": "ok", "extra": 1}, [], "name"):
        answer = as_token(server, token, "POST", f"{base}/long-term-credential", body)
        assert answer.status_code == 400 and answer.json()["error_code"].startswith("SVCSTG.SWR.400"), body
    for body in ({}, {"enable": "yes"}, {"enable": 1}, {"enable": True, "name": "x"}):
        answer = as_token(server, token, "PUT", f"{base}/long-term-credentials/{made.token_id}", body)
        assert answer.status_code == 400, (body, answer.text)

    # a site admin lists everyone's with self_only=false, and may disable any
    assert listed(root, instance) == []
    everyone = listed(root, instance, self_only=False)
    assert sorted(everyone) == [
        ("alice-ci", "alice", True),
        ("alice-ci", "bob", True),
        ("bob-ci", "bob", True),
    ]
    assert enable(root, instance, bobs.token_id, False).status_code == 200
    assert pulls(server, "bob", bobs.auth_token) == 401


async def test_a_long_term_credential_goes_with_its_user(server, settings, accounts):
    sdk = await _clients(server, settings, accounts)
    made = create(sdk.bob, sdk.instance, "bob-ci")
    assert pulls(server, "bob", made.auth_token) == ["pull"]
    # Revoking the user's tokens (the CLI) takes it along: another process, so within the TTL.
    cli(settings, "tokens", "revoke", "--user", "bob")
    assert listed(sdk.root, sdk.instance, self_only=False) == []
    _refused_within_ttl(server, "bob", made.auth_token)

    other = create(sdk.alice, sdk.instance, "alice-ci")
    assert pulls(server, "alice", other.auth_token) == ["pull"]
    async with accounts.app.state.repohub.sessions() as session:  # the user deleted: its rows cascade
        await session.execute(delete(UserRow).where(UserRow.username == "alice"))
        await session.commit()
    _refused_within_ttl(server, "alice", other.auth_token)


def _refused_within_ttl(server: Server, user: str, token: str) -> None:
    """Refused at the token server once the server's memory of the verified token has lapsed."""
    deadline = time.monotonic() + TTL_SECONDS + 2
    while pulls(server, user, token) != 401:
        assert time.monotonic() < deadline, "still accepted after the verified memory's TTL"
        time.sleep(0.25)
