"""What v1 tells a caller without a role about a namespace: nothing, unless the namespace holds a
repository the caller may read (a public one). Until then, every answer about it is, word for word
(but the name echoed), the answer about a namespace that does not exist."""

from __future__ import annotations

import pytest

from tests.api.v1.test_repositories import assert_error

HIDDEN, MISSING = "acme", "ghost"  # acme exists (see the v1 fixture) and holds nothing public


async def _same_as_missing(client, method: str, path: str, headers: dict, body: dict | None = None):
    """The answer for the hidden namespace, checked against the one for a missing namespace."""
    hidden = await client.request(method, path.format(ns=HIDDEN), json=body, headers=headers)
    missing = await client.request(method, path.format(ns=MISSING), json=body, headers=headers)
    assert hidden.status_code == missing.status_code, (path, hidden.text, missing.text)
    assert hidden.json() == {key: value.replace(MISSING, HIDDEN) for key, value in missing.json().items()}, (
        path
    )
    return hidden


@pytest.mark.parametrize("who", [None, "stranger"])
async def test_a_namespace_without_anything_visible_answers_as_a_missing_one(client, v1, who):
    await v1.create("acme", "secret", as_user="dev")  # private
    headers = v1.auth(who) if who else {}
    listed = await _same_as_missing(client, "GET", "/v1/repositories/{ns}/", headers)
    assert_error(listed, 404, "not_found")
    for path in ("/v1/repositories/{ns}/secret", "/v1/repositories/{ns}/secret/tags"):
        assert_error(await _same_as_missing(client, "GET", path, headers), 404, "not_found")
    created = await _same_as_missing(client, "POST", "/v1/repositories/{ns}/", headers, {"repo_name": "x"})
    # With a token: 404, as for a missing namespace; without one: 401 for both, before any lookup.
    assert_error(created, 404 if who else 401, "not_found" if who else "not_authenticated")
    assert [row[0] for row in await v1.repo_rows()] == ["secret"]


async def test_members_still_see_their_empty_namespace(client, v1):
    for who in ("guest", "dev", "boss", "root"):
        listed = await client.get("/v1/repositories/acme/", headers=v1.auth(who))
        assert listed.status_code == 200 and listed.json()["count"] == 0, (who, listed.text)


async def test_a_public_repository_makes_the_namespace_known_and_creating_there_forbidden(client, v1):
    await v1.create("acme", "open", public=True, as_user="dev")
    listed = await client.get("/v1/repositories/acme/", headers=v1.auth("stranger"))
    assert [repo["repo_name"] for repo in listed.json()["results"]] == ["open"]
    created = await client.post(
        "/v1/repositories/acme/", json={"repo_name": "x"}, headers=v1.auth("stranger")
    )
    assert_error(created, 403, "permission_denied")  # its existence is public already
