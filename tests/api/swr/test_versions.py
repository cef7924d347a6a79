"""``GET /`` and ``GET /{api_version}``: SWR's list_api_versions and show_api_version; a browser at
the root is sent to the web catalogue; ``/v<n>`` shadows no other page."""

import pytest

from tests.ops.test_abuse import app_with

V2 = {
    "id": "v2",
    "links": {"href": "http://testserver/v2", "rel": "self"},
    "version": "",
    "status": "CURRENT",
    "updated": "2026-12-01T00:00:00Z",
    "min_version": "",
}


async def test_the_root_lists_the_api_versions_without_credentials(client):
    answer = await client.get("/")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"versions": [V2]}
    assert (await client.get("/", headers={"Accept": "application/json"})).json() == {"versions": [V2]}


async def test_show_api_version_answers_v2_only(client):
    assert (await client.get("/v2")).json() == {"version": V2}
    for missing in ("/v9", "/v1", "/v02", "/v20"):
        answer = await client.get(missing)
        assert answer.status_code == 404, missing
        assert answer.json()["error_code"] == "SVCSTG.SWR.4040001", missing


async def test_a_browser_at_the_root_is_sent_to_the_web_catalogue(client):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    answer = await client.get("/", headers=browser)
    assert answer.status_code == 307 and answer.headers["location"] == "/ui/"
    assert (await client.get(answer.headers["location"], headers=browser)).status_code == 200


async def test_the_redirect_and_links_keep_the_root_path(settings):
    async with app_with(settings, root_path="/repohub") as http:
        answer = await http.get("/repohub/", headers={"Accept": "text/html"})
        assert answer.status_code == 307 and answer.headers["location"] == "/repohub/ui/"
        listed = (await http.get("/repohub/")).json()
        assert listed["versions"][0]["links"]["href"] == "http://testserver/repohub/v2"


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/healthz", "/metrics"])
async def test_other_pages_are_not_shadowed(client, path):
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    assert "versions" not in answer.text[:200] and "error_code" not in answer.text[:200]


async def test_paths_that_are_not_a_version_stay_plain_404s(client):
    for path in ("/vx", "/v", "/v2x", "/nope"):
        answer = await client.get(path)
        assert answer.status_code == 404 and answer.json()["code"] == "not_found", path
    refused = await client.post("/", json={})
    assert refused.status_code == 405 and refused.json()["error_code"] == "SVCSTG.SWR.4050005"
