"""Every dialect and the registry's token server answer what the access policy says, for every caller
of the access world (``tests/access_world.py``) and every repository of it, on SQLite and PostgreSQL.

For each caller (anonymous, each user by its API token, each robot by its secret):

* v1 (Alauda): each namespace's list (names and ``count``), each repository's detail and tags;
* ABEJA: each organization's list (names, ``has_next``), each repository's detail and tags, by ids;
* SWR: ``GET /v2/manage/repos`` unfiltered and by namespace (names, ``Content-Range``,
  ``total_range``), each repository's detail and tags;
* the token server: the actions granted on every repository of the world and on invented names, one
  scope a request (the usual docker request) and many together, cold and from the grant memo.

What the caller may not read answers, status and body, as a missing repository does (the name
substituted); a namespace not disclosed to it, as a missing namespace does. Credentials that must
not work (a disabled robot, an expired one, an expired API token) are answered as unknown ones.

Robots authenticate by their secret once robot accounts do (issue 18, robot authentication): until
then their part is skipped, but never under ``CI=true``, where a missing feature is a failure (as
everywhere in the suite, ``tests/postgres.py``).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from repohub.config import Settings
from repohub.domain.clock import utcnow
from repohub.domain.queries import RepoQuery
from repohub.domain.registry import MAX_SCOPES
from tests.access_world import (
    DEAD,
    DEAD_ROBOTS,
    REPOSITORIES,
    ROBOTS,
    USERS,
    Model,
    build_world,
    robot_secret,
)
from tests.api.registry.test_token import claims
from tests.world import World, empty_tables, open_service, token_header

GROUPS = ["people", "robots"]

MISSING_NAMESPACE, MISSING_NAME = "nowhere", "ghost"
# Ids no row of the world has (ABEJA addresses by id), each written once in a "not found" answer.
MISSING_ORGANIZATION_ID, MISSING_REPOSITORY_ID = 987654, 987653
# Names a registry client may ask for: one to create in each namespace, and one the registry's
# grammar takes but repohub could never create (longer than its 128 characters): pull at most.
INVENTED = (MISSING_NAME, "new/app", "x" * 129)
WRONG_SECRET = "rbt_not-the-secret-of-anyone"
TAG = "latest"  # every repository's one tag


@dataclass
class Served:
    """The access world behind the app, with each caller's credential."""

    model: Model
    client: httpx.AsyncClient
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)  # user, or "expired:<user>": its API token

    def secret(self, caller: str) -> str:
        if caller.startswith("robot:"):
            return robot_secret(caller.removeprefix("robot:"))
        return self.tokens[caller]

    def login(self, caller: str) -> str:
        """The username it gives the token server with its secret."""
        if caller.startswith("robot:"):
            robot = caller.removeprefix("robot:")
            namespace = ROBOTS[robot][0] if robot in ROBOTS else DEAD_ROBOTS[robot][0]
            return f"robot${namespace}+{robot}"
        return caller.removeprefix("expired:")

    def namespaces(self) -> list[str]:
        return [*self.model.namespace_ids, MISSING_NAMESPACE]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(app: FastAPI, settings: Settings) -> AsyncIterator[Served]:
    """One world per database for the whole module (the tests only read): built on emptied tables,
    a tag in each repository, an API token for each user and an expired one for "member"."""
    await empty_tables(app)
    model = await build_world(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        world = Served(model, client, settings)
        builder = World(app)
        for namespace, name in model.repository_ids:
            await builder.tag(f"{namespace}/{name}", TAG)
        async with open_service(app) as service:
            for name in USERS:
                world.tokens[name] = (await service.accounts.create_token(name)).token
            lapsed = utcnow() - timedelta(minutes=1)
            issued = await service.accounts.create_token("member", expires_at=lapsed)
            world.tokens["expired:member"] = issued.token
        yield world


def _callers(group: str) -> list[str | None]:
    if group == "people":
        return [None, *USERS]
    return [f"robot:{name}" for name in ROBOTS]


class Findings:
    """Mismatches, each with its caller and request, reported together: a matrix fails in patterns."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def expect(self, holds: bool, caller: str | None, what: str, got: httpx.Response | Any) -> None:
        if not holds:
            shown = f"{got.status_code} {got.text[:300]}" if isinstance(got, httpx.Response) else got
            self.found.append(f"{caller or 'anonymous'}: {what}: got {shown}")

    def same(
        self, caller: str | None, what: str, got: httpx.Response, missing: httpx.Response, *swap: str
    ) -> None:
        """``got`` is, status and body, ``missing`` (a missing thing's answer, or an unknown
        credential's) with ``swap``'s pairs of words replaced."""
        body = missing.text
        for old, new in zip(swap[::2], swap[1::2], strict=True):
            body = body.replace(old, new)
        holds = got.status_code == missing.status_code and got.text == body
        self.expect(holds, caller, f"{what} should answer {missing.status_code} {body[:200]}", got)

    def check(self) -> None:
        assert not self.found, f"{len(self.found)} mismatches:\n" + "\n".join(self.found[:60])


def _repositories(namespace: str) -> Iterator[tuple[str, bool]]:
    return ((name, public) for ns, name, public, _ in REPOSITORIES if ns == namespace)


# -- v1 ----------------------------------------------------------------------------------------------
def _v1(served: Served, caller: str | None, secret: str | None = None) -> dict[str, str]:
    """The caller's header (``secret``: the same header with another secret)."""
    return token_header(secret or served.secret(caller)) if caller else {}


@pytest.mark.parametrize("group", GROUPS)
async def test_v1_lists_and_details_show_what_the_policy_lets_each_caller_read(
    served: Served, group: str
) -> None:
    model, client, findings = served.model, served.client, Findings()
    for caller in _callers(group):
        headers = _v1(served, caller)
        nowhere = await client.get(f"/v1/repositories/{MISSING_NAMESPACE}/", headers=headers)
        lost = await client.get(f"/v1/repositories/{MISSING_NAMESPACE}/{MISSING_NAME}", headers=headers)
        findings.expect(nowhere.status_code == lost.status_code == 404, caller, "missing namespace", nowhere)
        for namespace in model.namespace_ids:
            listed = await client.get(f"/v1/repositories/{namespace}/?page_size=100", headers=headers)
            if model.disclosed(caller, namespace):
                expected = model.listed(caller, RepoQuery(namespace=namespace))
                shown = _v1_listed(listed)
                findings.expect(shown == (expected, len(expected)), caller, f"v1 list {namespace}", listed)
            else:
                findings.same(caller, f"v1 list {namespace}", listed, nowhere, MISSING_NAMESPACE, namespace)
            await _v1_details(served, caller, namespace, lost, findings)
    findings.check()


async def _v1_details(
    served: Served, caller: str | None, namespace: str, lost: httpx.Response, findings: Findings
) -> None:
    """Each repository's detail and tags, against a missing repository's in the same namespace."""
    model, client, headers = served.model, served.client, _v1(served, caller)
    ghost = await client.get(f"/v1/repositories/{namespace}/{MISSING_NAME}", headers=headers)
    ghost_tags = await client.get(f"/v1/repositories/{namespace}/{MISSING_NAME}/tags", headers=headers)
    findings.expect(ghost.status_code == 404, caller, f"v1 {namespace}/{MISSING_NAME}", ghost)
    findings.expect(ghost_tags.status_code == 404, caller, f"v1 {namespace}/{MISSING_NAME} tags", ghost_tags)
    if not model.disclosed(caller, namespace):
        what = f"v1 {namespace}/{MISSING_NAME}"
        findings.same(caller, what, ghost, lost, MISSING_NAMESPACE, namespace)
    for name, public in _repositories(namespace):
        detail = await client.get(f"/v1/repositories/{namespace}/{name}", headers=headers)
        tags = await client.get(f"/v1/repositories/{namespace}/{name}/tags", headers=headers)
        what = f"v1 {namespace}/{name}"
        if model.may_read(caller, namespace, name):
            findings.expect(_v1_detail(detail) == (namespace, name, public), caller, what, detail)
            shown = [tag["tag"] for tag in tags.json()] if tags.status_code == 200 else None
            findings.expect(shown == [TAG], caller, what + " tags", tags)
        else:
            findings.same(caller, what, detail, ghost, MISSING_NAME, name)
            findings.same(caller, what + " tags", tags, ghost_tags, MISSING_NAME, name)


def _v1_listed(response: httpx.Response) -> tuple[list[str], int] | None:
    if response.status_code != 200:
        return None
    body = response.json()
    return sorted(f"{item['namespace']}/{item['repo_name']}" for item in body["results"]), body["count"]


def _v1_detail(response: httpx.Response) -> tuple[str, str, bool] | None:
    if response.status_code != 200:
        return None
    body = response.json()
    return body["namespace"], body["repo_name"], body["is_public"]


# -- ABEJA -------------------------------------------------------------------------------------------
def _abeja(served: Served, caller: str, secret: str | None = None) -> dict[str, str]:
    """What the abeja-sdk sends for a user (``Basic user-<id>:<token>``); a robot has no user id, so
    its secret goes as ``Bearer``."""
    secret = secret or served.secret(caller)
    if caller.startswith("robot:"):
        return {"Authorization": f"Bearer {secret}"}
    user_id = served.model.user_id(caller.removeprefix("expired:"))
    return {"Authorization": "Basic " + base64.b64encode(f"user-{user_id}:{secret}".encode()).decode()}


def _abeja_repositories(organization_id: int, query: str = "") -> str:
    return f"/organizations/{organization_id}/registry/repositories{query}"


@pytest.mark.parametrize("group", GROUPS)
async def test_abeja_lists_and_details_show_what_the_policy_lets_each_caller_read(
    served: Served, group: str
) -> None:
    model, client, findings = served.model, served.client, Findings()
    for caller in _callers(group):
        if caller is None:  # ABEJA has no anonymous access
            refused = await client.get(_abeja_repositories(model.namespace_ids["alpha"]))
            findings.expect(refused.status_code == 401, caller, "ABEJA list alpha", refused)
            continue
        headers = _abeja(served, caller)
        missing = str(MISSING_ORGANIZATION_ID)
        nowhere = await client.get(
            _abeja_repositories(MISSING_ORGANIZATION_ID, "?limit=100"), headers=headers
        )
        findings.expect(nowhere.status_code == 404, caller, "ABEJA missing organization", nowhere)
        for namespace, organization_id in model.namespace_ids.items():
            what = f"ABEJA list {namespace}"
            listed = await client.get(_abeja_repositories(organization_id, "?limit=100"), headers=headers)
            first = await client.get(_abeja_repositories(organization_id, "?limit=1"), headers=headers)
            if model.disclosed(caller, namespace):
                names = [
                    path.split("/", 1)[1] for path in model.listed(caller, RepoQuery(namespace=namespace))
                ]
                findings.expect(_abeja_listed(listed) == (names, False), caller, what, listed)
                # The first page of one: one of them, and whether there are more.
                one = _abeja_listed(first) or (["(no page)"], False)
                holds = set(one[0]) <= set(names) and len(one[0]) == min(1, len(names))
                findings.expect(holds and one[1] == (len(names) > 1), caller, what + " limit=1", first)
            else:
                findings.same(caller, what, listed, nowhere, missing, str(organization_id))
            await _abeja_details(served, caller, namespace, findings)
    findings.check()


async def _abeja_details(served: Served, caller: str, namespace: str, findings: Findings) -> None:
    model, headers = served.model, _abeja(served, caller)
    organization_id = model.namespace_ids[namespace]
    missing = str(MISSING_REPOSITORY_ID)
    ghost = await served.client.get(_abeja_repositories(organization_id, f"/{missing}"), headers=headers)
    ghost_tags = await served.client.get(
        _abeja_repositories(organization_id, f"/{missing}/tags"), headers=headers
    )
    findings.expect(ghost.status_code == 404, caller, f"ABEJA {namespace} missing repository", ghost)
    findings.expect(ghost_tags.status_code == 404, caller, f"ABEJA {namespace} missing tags", ghost_tags)
    for name, _ in _repositories(namespace):
        repository_id = model.repository_ids[(namespace, name)]
        path = _abeja_repositories(organization_id, f"/{repository_id}")
        detail = await served.client.get(path, headers=headers)
        tags = await served.client.get(path + "/tags", headers=headers)
        what = f"ABEJA {namespace}/{name}"
        if model.may_read(caller, namespace, name):
            fields = (str(repository_id), str(organization_id), name)
            findings.expect(_abeja_detail(detail) == fields, caller, what, detail)
            shown = [tag["name"] for tag in tags.json()["tags"]] if tags.status_code == 200 else None
            findings.expect(shown == [TAG], caller, what + " tags", tags)
        else:
            findings.same(caller, what, detail, ghost, missing, str(repository_id))
            findings.same(caller, what + " tags", tags, ghost_tags, missing, str(repository_id))


def _abeja_listed(response: httpx.Response) -> tuple[list[str], bool] | None:
    if response.status_code != 200:
        return None
    body = response.json()
    return sorted(item["name"] for item in body["registry_repositories"]), body["has_next"]


def _abeja_detail(response: httpx.Response) -> tuple[str, str, str] | None:
    if response.status_code != 200:
        return None
    body = response.json()
    return body["id"], body["organization_id"], body["name"]


# -- SWR ---------------------------------------------------------------------------------------------
def _swr(served: Served, caller: str, secret: str | None = None) -> dict[str, str]:
    return {"X-Auth-Token": secret or served.secret(caller)}


def _swr_repository(namespace: str, name: str) -> str:
    return f"/v2/manage/namespaces/{namespace}/repos/{quote(name, safe='')}"


@pytest.mark.parametrize("group", GROUPS)
async def test_swr_lists_and_details_show_what_the_policy_lets_each_caller_read(
    served: Served, group: str
) -> None:
    model, client, findings = served.model, served.client, Findings()
    for caller in _callers(group):
        if caller is None:  # every SWR call is authenticated
            refused = await client.get("/v2/manage/repos")
            findings.expect(refused.status_code == 401, caller, "SWR list", refused)
            continue
        headers = _swr(served, caller)
        everything = model.listed(caller, RepoQuery())
        unpaged = await client.get("/v2/manage/repos", headers=headers)
        findings.expect(_swr_listed(unpaged) == (everything, None), caller, "SWR list", unpaged)
        for namespace in served.namespaces():
            what = f"SWR list namespace={namespace}"
            listed = await client.get(
                f"/v2/manage/repos?namespace={namespace}&offset=0&limit=1000", headers=headers
            )
            expected = model.listed(caller, RepoQuery(namespace=namespace))
            findings.expect(
                _swr_listed(listed) == (expected, f"0-{len(expected)}/{len(expected)}"), caller, what, listed
            )
        await _swr_details(served, caller, findings)
    findings.check()


async def _swr_details(served: Served, caller: str, findings: Findings) -> None:
    model, client, headers = served.model, served.client, _swr(served, caller)
    lost = await client.get(_swr_repository(MISSING_NAMESPACE, MISSING_NAME), headers=headers)
    findings.expect(lost.status_code == 404, caller, "SWR missing namespace", lost)
    for namespace, namespace_id in model.namespace_ids.items():
        ghost = await client.get(_swr_repository(namespace, MISSING_NAME), headers=headers)
        ghost_tags = await client.get(_swr_repository(namespace, MISSING_NAME) + "/tags", headers=headers)
        findings.expect(ghost.status_code == 404, caller, f"SWR {namespace}/{MISSING_NAME}", ghost)
        findings.expect(ghost_tags.status_code == 404, caller, f"SWR {namespace} missing tags", ghost_tags)
        if not model.disclosed(caller, namespace):
            what = f"SWR {namespace}/{MISSING_NAME}"
            findings.same(caller, what, ghost, lost, MISSING_NAMESPACE, namespace)
        for name, public in _repositories(namespace):
            detail = await client.get(_swr_repository(namespace, name), headers=headers)
            tags = await client.get(_swr_repository(namespace, name) + "/tags", headers=headers)
            what = f"SWR {namespace}/{name}"
            if model.may_read(caller, namespace, name):
                fields = (model.repository_ids[(namespace, name)], namespace_id, name, public)
                findings.expect(_swr_detail(detail) == fields, caller, what, detail)
                shown = [tag["tag"] for tag in tags.json()] if tags.status_code == 200 else None
                findings.expect(shown == [TAG], caller, what + " tags", tags)
            else:
                findings.same(caller, what, detail, ghost, MISSING_NAME, name)
                findings.same(caller, what + " tags", tags, ghost_tags, MISSING_NAME, name)


def _swr_listed(response: httpx.Response) -> tuple[list[str], str | None] | None:
    if response.status_code != 200:
        return None
    items = response.json()
    if any(item["total_range"] != len(items) for item in items):
        return None  # every page here is the whole list: its total is its length
    names = sorted(f"{item['namespace']}/{item['name']}" for item in items)
    return names, response.headers.get("content-range")


def _swr_detail(response: httpx.Response) -> tuple[int, int, str, bool] | None:
    if response.status_code != 200:
        return None
    body = response.json()
    return body["id"], body["ns_id"], body["name"], body["is_public"]


# -- the registry's token server ---------------------------------------------------------------------
def _token_login(served: Served, caller: str | None, secret: str | None = None) -> dict[str, str]:
    if caller is None:
        return {}
    basic = f"{served.login(caller)}:{secret or served.secret(caller)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(basic).decode()}


async def _granted(
    served: Served, caller: str | None, paths: list[tuple[str, str]]
) -> dict[str, list[str]] | httpx.Response:
    """The actions the token grants on ``paths`` (all three asked for); the answer if it is no token."""
    scopes = [("scope", f"repository:{ns}/{name}:pull,push,delete") for ns, name in paths]
    response = await served.client.get(
        "/registry/token",
        params=[("service", "repohub-registry"), *scopes],
        headers=_token_login(served, caller),
    )
    if response.status_code != 200:
        return response
    decoded = claims(served.settings, response.json())
    return {item["name"]: item["actions"] for item in decoded["access"]}


@pytest.mark.parametrize("group", GROUPS)
async def test_the_token_server_grants_each_caller_what_the_policy_grants(served: Served, group: str) -> None:
    model, findings = served.model, Findings()
    existing = list(model.repository_ids)
    paths = [*existing, *((ns, name) for ns in served.namespaces() for name in INVENTED)]
    batches = [paths[start : start + MAX_SCOPES] for start in range(0, len(paths), MAX_SCOPES)]
    for caller in _callers(group):

        def expected(asked: list[tuple[str, str]], who: str | None = caller) -> dict[str, list[str]]:
            granted = {f"{ns}/{name}": model.granted(who, ns, name) for ns, name in asked}
            return {path: actions for path, actions in granted.items() if actions}

        # One scope a request first (each path's own read), then many (one read together), then the
        # same again (answered from the grant memo): every way to the facts grants the same.
        for path in existing:
            got = await _granted(served, caller, [path])
            findings.expect(got == expected([path]), caller, f"token {path[0]}/{path[1]}", got)
        for attempt in ("cold", "remembered"):
            for batch in batches:
                got = await _granted(served, caller, batch)
                what = f"token, {len(batch)} scopes from {batch[0]}, {attempt}"
                findings.expect(got == expected(batch), caller, what, got)
    findings.check()


# -- credentials that must not work ------------------------------------------------------------------
Headers = Callable[[Served, str, str | None], dict[str, str]]


async def test_a_dead_credential_is_answered_as_an_unknown_one_everywhere(served: Served) -> None:
    """A disabled robot, an expired robot and an expired API token: whatever their grants were, each
    dialect and the token server answer them, status and body, as the same credential with a secret
    nobody has."""
    client, findings = served.client, Findings()
    alpha = served.model.namespace_ids["alpha"]
    priv = served.model.repository_ids[("alpha", "priv")]
    token_query = "?service=repohub-registry&scope=repository:alpha/priv:pull"
    requests: list[tuple[str, Headers]] = [
        ("/v1/repositories/alpha/", _v1),
        ("/v1/repositories/alpha/priv", _v1),
        (_abeja_repositories(alpha), _abeja),
        (_abeja_repositories(alpha, f"/{priv}"), _abeja),
        ("/v2/manage/repos", _swr),
        (_swr_repository("alpha", "priv"), _swr),
        ("/registry/token" + token_query, _token_login),
    ]
    for caller in DEAD:
        for path, headers in requests:
            got = await client.get(path, headers=headers(served, caller, None))
            unknown = await client.get(path, headers=headers(served, caller, WRONG_SECRET))
            findings.expect(got.status_code == 401, caller, path, got)
            findings.same(caller, path, got, unknown)
    findings.check()
