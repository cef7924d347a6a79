"""What SWR tells a caller without a role about a namespace that holds nothing it may read: word for
word (but the name echoed) what it tells about a namespace that does not exist."""

from __future__ import annotations

from tests.api.swr.helpers import auth

HIDDEN, MISSING = "acme", "ghost"


async def test_a_namespace_without_anything_visible_answers_as_a_missing_one(client, accounts):
    alice = await accounts.user("alice")
    await accounts.org("acme", owner="alice")
    bob = await accounts.user("bob")
    made = await client.post(
        f"/v2/manage/namespaces/{HIDDEN}/repos",
        json={"repository": "secret", "is_public": False},
        headers=auth(alice),
    )
    assert made.status_code == 201, made.text
    ns = "/v2/manage/namespaces/{ns}"
    for method, path, body in [
        ("GET", ns, None),
        ("GET", ns + "/access", None),
        ("POST", ns + "/repos", {"repository": "intruder", "is_public": True}),
        ("GET", ns + "/repos/secret", None),
        ("GET", ns + "/repos/secret/tags", None),
    ]:
        hidden = await client.request(method, path.format(ns=HIDDEN), json=body, headers=auth(bob))
        missing = await client.request(method, path.format(ns=MISSING), json=body, headers=auth(bob))
        assert hidden.status_code == missing.status_code == 404, (method, path, hidden.text)
        expected = {key: value.replace(MISSING, HIDDEN) for key, value in missing.json().items()}
        assert hidden.json() == expected, (method, path)
