"""A robot account through every dialect and the registry's token server, in process, on both
databases: what its secret lists and reads (public repositories and those its patterns match, a
private unmatched one answering as a missing one), what it may never do (manage, mint credentials),
and that disabling, rotating, deleting or expiry stop it."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest

from repohub.config import Settings
from repohub.domain.accounts import project_id_for
from repohub.domain.audit import AuditLog
from repohub.domain.errors import PermissionDenied
from repohub.domain.robots import IssuedRobot
from tests.api.registry.test_token import access, claims
from tests.world import PASSWORD, World

BASE = ["acme/base/app", "acme/ci/app", "acme/pub"]  # what robot$acme+ci sees of acme


def _basic(user: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


def v1(secret: str) -> dict[str, str]:
    return {"Authorization": f"Token {secret}"}


def swr(secret: str) -> dict[str, str]:
    return {"X-Auth-Token": secret}


def abeja(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def _robot(world: World, name: str = "ci", *access: str, expires_in: str | None = None) -> IssuedRobot:
    async with world.service() as service:
        wanted = access or ("pull:base/*", "push:ci/*")
        return await service.robots.create("acme", name, wanted, expires_in=expires_in)


@pytest.fixture
async def robot(world: World) -> dict[str, Any]:
    """acme (boss its admin) with private base/app, ci/app and other, public pub; zeta (a namespace
    the robot has nothing in) with private secret and public open; hidden with private vault only;
    robot$acme+ci: pull base/*, push ci/*."""
    await world.user("boss", password=PASSWORD)
    ids = {name: await world.org(name, owner="boss") for name in ("acme", "zeta", "hidden")}
    for path in ("acme/base/app", "acme/ci/app", "acme/other", "zeta/secret", "hidden/vault"):
        await world.repository(path, by="boss")
    for path in ("acme/pub", "zeta/open"):
        await world.repository(path, by="boss", public=True)
    issued = await _robot(world)
    return {"secret": issued.secret, "org": ids, "boss": world.tokens["boss"]}


async def _same_as_missing(
    client: httpx.AsyncClient, template: str, hidden: str, missing: str, headers: dict[str, str]
) -> None:
    """``template`` with ``hidden`` (something the caller may not see) answers as with ``missing``
    (something that does not exist), word for word but for the name."""
    seen = await client.get(template.format(hidden), headers=headers)
    absent = await client.get(template.format(missing), headers=headers)
    assert seen.status_code == absent.status_code == 404, (seen.text, absent.text)
    assert seen.text.replace(hidden, missing) == absent.text


async def test_lists_show_public_and_matched_repositories_in_every_dialect(
    client: httpx.AsyncClient, robot: dict[str, Any]
) -> None:
    secret = robot["secret"]
    listed = await client.get("/v1/repositories/acme/", headers=v1(secret))
    assert listed.status_code == 200, listed.text
    assert sorted(f"acme/{item['repo_name']}" for item in listed.json()["results"]) == BASE
    assert listed.json()["count"] == 3
    zeta = await client.get("/v1/repositories/zeta/", headers=v1(secret))
    assert [item["repo_name"] for item in zeta.json()["results"]] == ["open"]

    everything = await client.get("/v2/manage/repos?offset=0&limit=10", headers=swr(secret))
    assert everything.status_code == 200, everything.text
    assert sorted(f"{item['namespace']}/{item['name']}" for item in everything.json()) == [*BASE, "zeta/open"]
    assert everything.headers["content-range"].endswith("/4")

    org = robot["org"]["acme"]
    page = await client.get(f"/organizations/{org}/registry/repositories", headers=abeja(secret))
    assert page.status_code == 200, page.text
    names = sorted(f"acme/{item['name']}" for item in page.json()["registry_repositories"])
    assert names == BASE

    for path in ("/v1/repositories/acme/base/app", "/v2/manage/namespaces/acme/repos/ci%2Fapp"):
        headers = v1(secret) if path.startswith("/v1") else swr(secret)
        assert (await client.get(path, headers=headers)).status_code == 200, path


async def test_a_private_unmatched_repository_answers_as_a_missing_one(
    client: httpx.AsyncClient, robot: dict[str, Any], world: World
) -> None:
    secret = robot["secret"]
    await _same_as_missing(client, "/v1/repositories/acme/{}", "other", "nothing", v1(secret))
    await _same_as_missing(client, "/v1/repositories/acme/{}/tags", "other", "nothing", v1(secret))
    await _same_as_missing(client, "/v2/manage/namespaces/acme/repos/{}", "other", "nothing", swr(secret))
    await _same_as_missing(
        client, "/v2/manage/namespaces/acme/repos/{}/tags", "other", "nothing", swr(secret)
    )
    await _same_as_missing(client, "/v1/repositories/{}/vault", "hidden", "nowhere", v1(secret))
    await _same_as_missing(client, "/v2/manage/namespaces/{}/repos/vault", "hidden", "nowhere", swr(secret))
    org = robot["org"]["acme"]
    other = await world.repository_id("acme/other")
    await _same_as_missing(
        client,
        f"/organizations/{org}/registry/repositories/{{}}",
        str(other),
        str(other + 1000),
        abeja(secret),
    )


async def test_a_robot_manages_nothing_403_where_disclosed_404_elsewhere(
    client: httpx.AsyncClient, robot: dict[str, Any]
) -> None:
    secret = robot["secret"]
    hook = {"subject_type": "image_repo", "events": ["image:push"], "url": "http://93.184.215.14/h"}
    member = [{"user_name": "boss", "auth": 1}]
    new_repo = {"repository": "new", "category": "other"}
    share = {"access_domain": "zeta", "permit": "read", "deadline": "forever"}
    calls: list[tuple[str, str, dict[str, str], Any]] = [
        ("POST", "/v1/repositories/{ns}/", v1(secret), {"repo_name": "new"}),
        ("PUT", "/v1/repositories/{ns}/{repo}", v1(secret), {"description": "mine"}),
        ("DELETE", "/v1/repositories/{ns}/{repo}", v1(secret), None),
        ("PUT", "/v1/repositories/{ns}/{repo}/star", v1(secret), None),
        ("POST", "/v1/hooks", v1(secret), {**hook, "subject": "{ns}/{repo}"}),
        ("POST", "/v2/manage/namespaces/{ns}/repos", swr(secret), {**new_repo, "is_public": False}),
        ("PATCH", "/v2/manage/namespaces/{ns}/repos/{repo}", swr(secret), {"is_public": True}),
        ("DELETE", "/v2/manage/namespaces/{ns}/repos/{repo}", swr(secret), None),
        ("GET", "/v2/manage/namespaces/{ns}", swr(secret), None),
        ("GET", "/v2/manage/namespaces/{ns}/access", swr(secret), None),
        ("POST", "/v2/manage/namespaces/{ns}/access", swr(secret), member),
        ("DELETE", "/v2/manage/namespaces/{ns}", swr(secret), None),
        ("GET", "/v2/manage/namespaces/{ns}/repos/{repo}/access", swr(secret), None),
        ("POST", "/v2/manage/namespaces/{ns}/repos/{repo}/access", swr(secret), member),
        ("GET", "/v2/manage/namespaces/{ns}/repositories/{repo}/access-domains", swr(secret), None),
        ("POST", "/v2/manage/namespaces/{ns}/repositories/{repo}/access-domains", swr(secret), share),
        (
            "POST",
            "/v2/manage/namespaces/{ns}/repos/{repo}/retentions",
            swr(secret),
            {"algorithm": "or", "rules": [{"template": "tag_rule", "params": {"num": 2}}]},
        ),
    ]
    # acme is disclosed to the robot (its patterns match there): refused; hidden is not: missing.
    for namespace, repository, status in (("acme", "base%2Fapp", 403), ("hidden", "vault", 404)):
        for method, template, headers, body in calls:
            path = template.format(ns=namespace, repo=repository)
            if template == "/v1/hooks":
                body = {**body, "subject": f"{namespace}/{repository.replace('%2F', '/')}"}
            answer = await client.request(method, path, headers=headers, json=body)
            assert answer.status_code == status, (method, path, answer.text)
    assert (
        await client.post("/v2/manage/namespaces", headers=swr(secret), json={"namespace": "mine"})
    ).status_code == 403
    assert (await client.get("/v2/manage/namespaces", headers=swr(secret))).json() == {"namespaces": []}
    assert (await client.get("/v3/projects", headers=swr(secret))).json() == {"projects": []}
    shared = await client.get("/v2/manage/shared-repositories?center=thirdparty", headers=swr(secret))
    assert shared.status_code == 200 and shared.json() == [], shared.text


async def test_a_robot_mints_no_credentials(
    client: httpx.AsyncClient, robot: dict[str, Any], world: World
) -> None:
    secret = robot["secret"]
    for path in ("/v2/manage/utils/authorizationtoken", "/v2/manage/utils/secret"):
        minted = await client.post(path, headers=swr(secret))
        assert minted.status_code == 403, minted.text
        assert set(minted.json()) == {"error_code", "error_msg"}
    async with world.service() as service:  # SWR reaches these through its instance (404 above)
        principal = await service.accounts.principal_of_token(secret)
        with pytest.raises(PermissionDenied):
            await service.accounts.create_long_term(principal, "ci")
        with pytest.raises(PermissionDenied):
            await service.accounts.long_term_credentials(principal, everyone=False, offset=0, limit=10)
        assert (await AuditLog(service.store, principal).page(None, 0, 10)).items == []
    login = await client.post(
        "/v1/generate-api-token/", json={"username": "robot$acme+ci", "password": secret}
    )
    assert login.status_code == 401, login.text


async def test_the_registry_grants_a_robot_its_patterns_only(
    client: httpx.AsyncClient, settings: Settings, robot: dict[str, Any]
) -> None:
    secret = robot["secret"]
    scopes = [
        "repository:acme/base/app:pull,push",
        "repository:acme/ci/app:pull,push,delete",
        "repository:acme/ci/new:push",  # a name its push pattern matches: may be created
        "repository:acme/other:pull",
        "repository:acme/pub:pull,push",
        "repository:zeta/secret:pull",
        "registry:catalog:*",
    ]
    expected = {
        "repository:acme/base/app": ["pull"],
        "repository:acme/ci/app": ["pull", "push"],
        "repository:acme/ci/new": ["push"],
        "repository:acme/pub": ["pull"],
    }
    for headers in (_basic("robot$acme+ci", secret), {"Authorization": f"Bearer {secret}"}):
        assert await access(client, settings, scopes, headers) == expected
    response = await client.get(
        "/registry/token", params={"service": "repohub-registry"}, headers=_basic("robot$acme+ci", secret)
    )
    assert claims(settings, response.json())["sub"] == "robot$acme+ci"


async def test_a_wrong_robot_login_answers_as_a_wrong_password(
    client: httpx.AsyncClient, world: World, robot: dict[str, Any]
) -> None:
    secret = robot["secret"]
    params = {"service": "repohub-registry", "scope": "repository:acme/base/app:pull"}
    wrong_password = await client.get("/registry/token", params=params, headers=_basic("boss", "not-it"))
    assert wrong_password.status_code == 401
    disabled = await _robot(world, "off", "pull:*")
    async with world.service() as service:
        await service.robots.set_disabled("acme", "off", True)
    attempts = [
        _basic("robot$acme+ci", "rbt_" + "x" * 43),  # a wrong secret
        _basic("robot$acme+ci", "not-even-a-secret"),
        _basic("robot$acme+nobody", secret),  # not the robot whose secret it is
        _basic("robot$acme+ci", robot["boss"]),  # a user's API token
        _basic("boss", secret),  # the robot's secret under a user's name
        _basic("robot$acme+off", disabled.secret),
    ]
    for headers in attempts:
        answer = await client.get("/registry/token", params=params, headers=headers)
        assert (answer.status_code, answer.json()) == (401, wrong_password.json()), headers


async def test_disable_rotate_delete_here_take_effect_at_once_and_expiry_ends_it(
    client: httpx.AsyncClient, robot: dict[str, Any], world: World
) -> None:
    secret = robot["secret"]
    paths = [
        ("/v1/repositories/acme/", v1),
        ("/v2/manage/repos", swr),
        (f"/organizations/{robot['org']['acme']}/registry/repositories", abeja),
    ]

    async def statuses(token: str) -> set[int]:
        return {(await client.get(path, headers=header(token))).status_code for path, header in paths}

    assert await statuses(secret) == {200}  # now remembered by this process for a few seconds
    async with world.service() as service:
        await service.robots.set_disabled("acme", "ci", True)
    assert await statuses(secret) == {401}
    async with world.service() as service:
        await service.robots.set_disabled("acme", "ci", False)
        rotated = await service.robots.rotate("acme", "ci")
    assert await statuses(secret) == {401} and await statuses(rotated.secret) == {200}
    async with world.service() as service:
        await service.robots.delete("acme", "ci")
    assert await statuses(rotated.secret) == {401}

    short = await _robot(world, "short", "pull:base/*", expires_in="2s")
    assert await statuses(short.secret) == {200}
    await asyncio.sleep(2.1)  # past its expiry, though it was remembered just now
    assert await statuses(short.secret) == {401}


async def test_a_robot_has_no_swr_project_nor_an_abeja_user_id(
    client: httpx.AsyncClient, settings: Settings, robot: dict[str, Any], world: World
) -> None:
    secret = robot["secret"]
    async with world.service() as service:
        project = project_id_for(await service.accounts.user("boss"))
    instance = f"/v2/{project}/instances/{settings.resolved_swr_instance_id}"
    paths = ["", "/immutabletagrules", "/webhook/policies", "/long-term-credentials", "/audit-logs"]
    for path in (f"/v2/{project}/instances", *(instance + path for path in paths)):
        assert (await client.get(path, headers=swr(robot["boss"]))).status_code == 200, path  # boss's own
        answer = await client.get(path, headers=swr(secret))
        assert answer.status_code == 404, (path, answer.text)
        assert set(answer.json()) == {"error_code", "error_msg"}
    boss_id = await world.user_id("boss")
    org = robot["org"]["acme"]
    claimed = base64.b64encode(f"user-{boss_id}:{secret}".encode()).decode()
    refused = await client.get(
        f"/organizations/{org}/registry/repositories", headers={"Authorization": f"Basic {claimed}"}
    )
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized", refused.text
