"""The v1 dialect against a real ``repohub serve`` process, accounts made with the real CLI."""

import json

import httpx

from tests.server import cli, serve


def test_login_create_list_over_tcp(settings, clean):
    cli(settings, "users", "create", "carol", "--password", "s3cret-pass")
    with serve(settings) as server:
        login = httpx.post(
            f"{server.url}/v1/generate-api-token/", data={"username": "carol", "password": "s3cret-pass"}
        )
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        assert login.json()["username"] == "carol"
        headers = {"Authorization": f"Token {token}"}
        created = httpx.post(
            f"{server.url}/v1/repositories/carol/",
            json={"repo_name": "web", "description": "site", "is_public": False},
            headers=headers,
        )
        assert created.status_code == 201, created.text
        listed = httpx.get(f"{server.url}/v1/repositories/carol/", headers=headers).json()
        assert [item["repo_path"] for item in listed["results"]] == ["carol/web"]
        # Private: anonymous callers do not see it at all.
        assert httpx.get(f"{server.url}/v1/repositories/carol/web").status_code == 404
        cli_token = json.loads(cli(settings, "tokens", "create", "carol", "--json"))
        assert cli_token["username"] == "carol"
        detail = httpx.get(
            f"{server.url}/v1/repositories/carol/web",
            headers={"Authorization": f"Token {cli_token['token']}"},
        )
        assert detail.json()["is_repo_starred"] is False
