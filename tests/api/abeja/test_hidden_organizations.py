"""What ABEJA tells a signed-in user without a role about an organization: nothing, unless it holds a
repository the user may read (a public one). Until then every answer about it, the organization
itself included, is word for word (but the id echoed) the answer about an id that does not exist."""

from __future__ import annotations

from tests.api.abeja.support import basic, repository_id, user_id
from tests.api.abeja.test_errors import assert_error
from tests.world import token_header

MISSING = "999999"


async def _outsider(app, accounts) -> dict:
    """Org 'acme' (admin alice) with a private repository; bob, admin of his own org 'globex'."""
    alice = await accounts.user("alice")
    org = str(await accounts.org("acme", owner="alice"))
    bob = await accounts.user("bob")
    await accounts.org("globex", owner="bob")
    return {"org": org, "alice": alice, "bob": basic(await user_id(app, "bob"), bob)}


async def _same_as_missing(client, method: str, path: str, org: str, headers: dict, body=None):
    hidden = await client.request(method, path.format(org=org), json=body, headers=headers)
    missing = await client.request(method, path.format(org=MISSING), json=body, headers=headers)
    assert hidden.status_code == missing.status_code, (path, hidden.text, missing.text)
    expected = missing.json()
    expected["error_description"] = expected["error_description"].replace(f"'{MISSING}'", f"'{org}'")
    assert hidden.json() == expected, path
    return hidden


async def test_an_organization_without_anything_visible_answers_as_a_missing_one(app, client, accounts):
    world = await _outsider(app, accounts)
    made = await client.post(
        "/v1/repositories/acme/", json={"repo_name": "secret"}, headers=token_header(world["alice"])
    )
    assert made.status_code == 201, made.text
    secret = await repository_id(app, "acme", "secret")
    base = "/organizations/{org}"
    repos = base + "/registry/repositories"
    for method, path, body in [
        ("GET", base, None),
        ("GET", repos, None),
        ("POST", repos, {"name": "intruder"}),
        ("GET", f"{repos}/{secret}", None),
        ("GET", f"{repos}/{secret}/tags", None),
        ("DELETE", f"{repos}/{secret}", None),
    ]:
        answer = await _same_as_missing(client, method, path, world["org"], world["bob"], body)
        assert_error(answer, 404, "not_found")


async def test_an_organization_with_a_public_repository_is_shown(app, client, accounts):
    world = await _outsider(app, accounts)
    made = await client.post(
        "/v1/repositories/acme/",
        json={"repo_name": "open", "is_public": True},
        headers=token_header(world["alice"]),
    )
    assert made.status_code == 201, made.text
    shown = await client.get(f"/organizations/{world['org']}", headers=world["bob"])
    assert shown.status_code == 200 and shown.json()["name"] == "acme"
    # Its existence is public already: creating there is forbidden, not missing.
    denied = await client.post(
        f"/organizations/{world['org']}/registry/repositories", json={"name": "x"}, headers=world["bob"]
    )
    assert_error(denied, 403, "forbidden")
