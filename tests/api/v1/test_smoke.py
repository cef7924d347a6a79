from tests.world import token_header


async def test_create_and_get(client, accounts):
    token = await accounts.user("alice")
    created = await client.post(
        "/v1/repositories/alice/",
        json={"repo_name": "hello", "description": "d", "is_public": True},
        headers=token_header(token),
    )
    assert created.status_code == 201, created.text
    got = await client.get("/v1/repositories/alice/hello")
    assert got.status_code == 200, got.text
    assert got.json()["repo_path"] == "alice/hello"
    listed = await client.get("/v1/repositories/alice/")
    assert listed.json()["count"] == 1


async def test_request_id_is_echoed_or_generated(client):
    given = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    generated = await client.get("/v1/repositories/nobody/")
    assert generated.status_code == 404
    assert len(generated.headers["x-request-id"]) == 32
