"""GET /registry/push-check (nginx's auth_request for manifest PUT and DELETE), in process on both
databases: a caller whose own registry token grants the write is refused an immutable tag; anybody
else passes, so the registry answers them as it would without the check."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest

from repohub.auth.registry_token import Scope, issue_token, sign_jws
from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.domain.immutability import parse_rule
from repohub.registry.keys import signing_key
from tests.world import World

V1 = "sha256:" + "1" * 64
LATEST = "sha256:" + "2" * 64


def rule(tags: str, *, decoration: str = "matches", disabled: bool = False) -> dict[str, Any]:
    return {
        "priority": 0,
        "disabled": disabled,
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": decoration, "pattern": tags}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }


async def add_rule(world: World, namespace: str, body: dict[str, Any]) -> int:
    async with world.service() as service:
        store = service.store
        found = await store.namespaces.by_name(namespace)
        assert found is not None
        async with store.transaction():
            return await store.immutables.add(found.id, parse_rule(body))


@pytest.fixture
async def acme(world: World) -> int:
    """acme/app with v1 and also on one digest, latest on another; rule ``v*`` on every repository."""
    await world.user("owner")
    await world.user("member")
    await world.org("acme", owner="owner", members={"member": Role.MEMBER})
    await world.repository("acme/app", by="owner")
    await world.repository("acme/other", by="owner")
    for tag, digest in (("v1", V1), ("also", V1), ("latest", LATEST)):
        await world.tag("acme/app", tag, digest=digest)
    return await add_rule(world, "acme", rule("v*"))


async def bearer(client: httpx.AsyncClient, world: World, user: str, scope: str) -> str:
    credentials = base64.b64encode(f"{user}:{world.tokens[user]}".encode()).decode()
    answer = await client.get(
        "/registry/token",
        params={"service": "repohub-registry", "scope": scope},
        headers={"Authorization": f"Basic {credentials}"},
    )
    assert answer.status_code == 200, answer.text
    return f"Bearer {answer.json()['token']}"


async def check(
    client: httpx.AsyncClient, method: str, uri: str, authorization: str | None
) -> httpx.Response:
    headers = {"X-Original-Method": method, "X-Original-URI": uri}
    if authorization is not None:
        headers["Authorization"] = authorization
    return await client.get("/registry/push-check", headers=headers)


async def test_a_push_over_an_immutable_tag_is_refused_with_the_reason(client, world, acme) -> None:
    token = await bearer(client, world, "member", "repository:acme/app:pull,push")
    refused = await check(client, "PUT", "/v2/acme/app/manifests/v1", token)
    assert refused.status_code == 403
    reason = refused.headers["x-repohub-denied"]
    assert "v1" in reason and "acme/app" in reason and f"rule {acme}" in reason
    assert reason.isascii() and not {'"', "'", "\\"} & set(reason)  # nginx puts it into a JSON string
    assert refused.json() == {"errors": [{"code": "DENIED", "message": reason, "detail": None}]}
    # %-escapes name the same tag to the registry (and to nginx's location), so to the check too.
    assert (await check(client, "PUT", "/v2/acme/app/manifests/v%31?x=1", token)).status_code == 403
    # An OCI push by digest that sets tags as it goes is checked for those tags.
    assert (await check(client, "PUT", f"/v2/acme/app/manifests/{V1}?tag=v1", token)).status_code == 403


async def test_new_tags_unmatched_tags_and_pushes_by_digest_pass(client, world, acme) -> None:
    token = await bearer(client, world, "member", "repository:acme/app:pull,push")
    for uri in (
        "/v2/acme/app/manifests/v2",  # a first push of a tag the rule matches
        "/v2/acme/app/manifests/latest",  # not matched
        f"/v2/acme/app/manifests/{V1}",  # moves no tag
    ):
        answer = await check(client, "PUT", uri, token)
        assert answer.status_code == 204, uri
        assert "x-repohub-denied" not in answer.headers


async def test_a_delete_that_would_remove_a_protected_tag_is_refused(client, world, acme) -> None:
    token = await bearer(client, world, "owner", "repository:acme/app:pull,push,delete")
    assert (await check(client, "DELETE", f"/v2/acme/app/manifests/{V1}", token)).status_code == 403
    assert (await check(client, "DELETE", "/v2/acme/app/manifests/v1", token)).status_code == 403
    assert (await check(client, "DELETE", f"/v2/acme/app/manifests/{LATEST}", token)).status_code == 204
    wildcard = await bearer(client, world, "owner", "repository:acme/app:*")
    assert (await check(client, "DELETE", f"/v2/acme/app/manifests/{V1}", wildcard)).status_code == 403


async def test_callers_the_registry_refuses_anyway_learn_nothing(
    client, world, acme, settings: Settings
) -> None:
    push = await bearer(client, world, "member", "repository:acme/app:pull,push")
    pull = await bearer(client, world, "member", "repository:acme/app:pull")
    other = await bearer(client, world, "member", "repository:acme/other:pull,push")
    key = signing_key(settings)
    scope = [Scope("repository", "acme/app", ("pull", "push", "delete"))]
    stale = issue_token(
        key, issuer="repohub", service="repohub-registry", subject="member", access=scope, now=1_000_000
    )["token"]
    foreign_service = issue_token(key, issuer="repohub", service="elsewhere", subject="x", access=scope)[
        "token"
    ]
    head, payload, signature = push.removeprefix("Bearer ").split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["access"][0]["actions"].append("delete")
    forged = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=").decode()
    for method, authorization in (
        ("PUT", None),  # anonymous
        ("PUT", f"Basic {base64.b64encode(b'member:' + world.tokens['member'].encode()).decode()}"),
        ("PUT", f"Bearer {world.tokens['member']}"),  # an API token is no registry token
        ("PUT", pull),  # pull only
        ("PUT", other),  # another repository
        ("PUT", f"Bearer {stale}"),  # expired long ago
        ("PUT", f"Bearer {foreign_service}"),  # for another registry
        ("DELETE", push),  # push is not delete
        ("DELETE", f"Bearer {head}.{forged}.{signature}"),  # delete added, signature no longer matches
        ("PUT", "Bearer not.a.jwt"),
        ("PUT", "Bearer "),
    ):
        answer = await check(client, method, "/v2/acme/app/manifests/v1", authorization)
        assert answer.status_code == 204, (method, authorization)
    # Our header with another key's signature is not ours either.
    foreign = sign_jws(type(key)(_other_key(), key.cert_pem, key.kid), payload.encode())
    assert (await check(client, "PUT", "/v2/acme/app/manifests/v1", f"Bearer {foreign}")).status_code == 204


def _other_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


async def test_whatever_is_no_manifest_write_of_a_repository_passes(client, world, acme) -> None:
    token = await bearer(client, world, "owner", "repository:acme/app:*")
    for method, uri in (
        ("GET", "/v2/acme/app/manifests/v1"),
        ("HEAD", "/v2/acme/app/manifests/v1"),
        ("PATCH", "/v2/acme/app/manifests/v1"),
        ("PUT", "/v2/acme/app/blobs/uploads/x"),
        ("PUT", "/v2/acme/manifests/v1"),  # a one-component name: no namespace's repository
        ("PUT", "/v2/acme/app/manifests/"),
        ("PUT", "/v2/acme/app/manifests/v1/extra"),
        ("PUT", "not a uri"),
        ("PUT", ""),
        (None, "/v2/acme/app/manifests/v1"),
    ):
        headers = {"Authorization": token}
        if method is not None:
            headers["X-Original-Method"] = method
        headers["X-Original-URI"] = uri
        answer = await client.get("/registry/push-check", headers=headers)
        assert answer.status_code == 204, (method, uri)


async def test_disabled_and_excluding_rules_as_harbor_reads_them(client, world, acme) -> None:
    token = await bearer(client, world, "member", "repository:acme/app:pull,push")
    async with world.service() as service, service.store.transaction():
        await service.store.immutables.delete(acme)
    assert (await check(client, "PUT", "/v2/acme/app/manifests/v1", token)).status_code == 204
    await add_rule(world, "acme", rule("latest", disabled=True))
    assert (await check(client, "PUT", "/v2/acme/app/manifests/latest", token)).status_code == 204
    await add_rule(world, "acme", rule("v*", decoration="excludes"))
    assert (await check(client, "PUT", "/v2/acme/app/manifests/latest", token)).status_code == 403
    assert (await check(client, "PUT", "/v2/acme/app/manifests/v1", token)).status_code == 204
