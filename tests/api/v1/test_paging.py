"""v1 paging: page/page_size defaults and limits, absolute next/previous behind proxies and root paths."""

from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.datastructures import URL

from repohub.app import create_app
from tests.api.v1.test_repositories import assert_error


async def make_repos(v1, count: int) -> None:
    for index in range(count):
        await v1.create("alice", f"r{index:02d}", public=True, as_user="alice")


@asynccontextmanager
async def client_for(app, *, peer: str = "127.0.0.1"):
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@asynccontextmanager
async def app_with(settings, **changes):
    application = create_app(settings.model_copy(update=changes))
    async with application.router.lifespan_context(application):
        yield application


async def test_default_page_is_20_with_absolute_links(client, v1):
    await make_repos(v1, 25)
    first = (await client.get("/v1/repositories/alice/")).json()
    assert first["count"] == 25 and len(first["results"]) == 20
    assert first["results"][0]["repo_name"] == "r00" and first["results"][-1]["repo_name"] == "r19"
    assert first["next"] == "http://testserver/v1/repositories/alice/?page=2" and first["previous"] is None
    second = (await client.get(first["next"])).json()
    assert [item["repo_name"] for item in second["results"]] == [f"r{index}" for index in range(20, 25)]
    assert second["next"] is None and second["previous"] == "http://testserver/v1/repositories/alice/"


async def test_page_size_and_links_keep_the_other_parameters(client, v1):
    await make_repos(v1, 7)
    body = (await client.get("/v1/repositories/alice?page_size=3&page=2")).json()
    assert [item["repo_name"] for item in body["results"]] == ["r03", "r04", "r05"] and body["count"] == 7
    assert body["next"] == "http://testserver/v1/repositories/alice?page_size=3&page=3"
    assert body["previous"] == "http://testserver/v1/repositories/alice?page_size=3"
    last = (await client.get(body["next"])).json()
    assert [item["repo_name"] for item in last["results"]] == ["r06"] and last["next"] is None
    assert last["previous"] == "http://testserver/v1/repositories/alice?page_size=3&page=2"
    everything = (await client.get("/v1/repositories/alice/?page_size=100")).json()
    assert len(everything["results"]) == 7 and everything["next"] is None


# Queries whose other parameters Starlette's link building re-encodes, reorders or drops.
ODD_QUERIES = [
    "page=2&page_size=1",
    "page_size=1&x=a+b&y=%2F%7e&page=2&z=&flag",
    "page_size=1&page=2&page=2",
    "q=%E2%98%83&page_size=1&page=3&q=%20",
    "page_size=1&page=2&a=%26%3D%3F&b=%23",
]


@pytest.mark.parametrize("path", ["/v1/repositories/alice", "/v1/repositories/alice/"])
@pytest.mark.parametrize("query", ODD_QUERIES)
async def test_links_are_the_ones_starlette_builds_from_any_query(client, v1, path, query):
    await make_repos(v1, 4)
    body = (await client.get(f"{path}?{query}")).json()
    page = int([value for key, _, value in (p.partition("=") for p in query.split("&")) if key == "page"][-1])
    url = URL(f"http://testserver{path}?{query}")
    assert body["next"] == str(url.include_query_params(page=page + 1))
    previous = url.remove_query_params("page") if page == 2 else url.include_query_params(page=page - 1)
    assert body["previous"] == str(previous)


@pytest.mark.parametrize(
    "query", ["page=0", "page=-1", "page=abc", "page_size=0", "page_size=101", "page_size=x", "page=1.5"]
)
async def test_bad_paging_parameters_are_400(client, v1, query):
    assert_error(await client.get(f"/v1/repositories/alice/?{query}"), 400, "invalid_input")


async def test_a_page_past_the_end_is_404(client, v1):
    await make_repos(v1, 2)
    assert_error(await client.get("/v1/repositories/alice/?page=2"), 404, "not_found")
    # An empty namespace is an empty page to its own people (to others it is missing).
    empty = (await client.get("/v1/repositories/stranger/", headers=v1.auth("stranger"))).json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "hub.example.com",
    "X-Forwarded-Prefix": "/api",
}


async def test_links_honour_forwarded_headers_from_a_trusted_proxy(client, v1):
    await make_repos(v1, 3)
    body = (await client.get("/v1/repositories/alice/?page_size=1&page=2", headers=FORWARDED)).json()
    assert body["next"] == "https://hub.example.com/api/v1/repositories/alice/?page_size=1&page=3"
    assert body["previous"] == "https://hub.example.com/api/v1/repositories/alice/?page_size=1"
    host_only = await client.get(
        "/v1/repositories/alice/?page_size=1", headers={"X-Forwarded-Host": "hub.example.com:8443"}
    )
    assert host_only.json()["next"] == "http://hub.example.com:8443/v1/repositories/alice/?page_size=1&page=2"


async def test_forwarded_headers_from_untrusted_peers_are_ignored(app, v1):
    await make_repos(v1, 2)
    async with client_for(app, peer="203.0.113.9") as outsider:
        body = (await outsider.get("/v1/repositories/alice/?page_size=1", headers=FORWARDED)).json()
    assert body["next"] == "http://testserver/v1/repositories/alice/?page_size=1&page=2"


@pytest.mark.parametrize(
    "headers",
    [{"X-Forwarded-Host": "evil.example/steal?"}, {"X-Forwarded-Host": "a b"},
     {"X-Forwarded-Proto": "javascript"}, {"X-Forwarded-Prefix": "/"}, {"X-Forwarded-Prefix": "/a b"}],
)  # fmt: skip
async def test_malformed_forwarded_values_are_ignored(client, v1, headers):
    await make_repos(v1, 2)
    body = (await client.get("/v1/repositories/alice/?page_size=1", headers=headers)).json()
    assert body["next"] == "http://testserver/v1/repositories/alice/?page_size=1&page=2"


async def test_proxy_headers_off_ignores_even_trusted_peers(settings, v1):
    await make_repos(v1, 2)
    async with app_with(settings, proxy_headers=False) as application, client_for(application) as http:
        body = (await http.get("/v1/repositories/alice/?page_size=1", headers=FORWARDED)).json()
    assert body["next"] == "http://testserver/v1/repositories/alice/?page_size=1&page=2"


async def test_trust_all_proxies_with_a_star(settings, v1):
    await make_repos(v1, 2)
    async with (
        app_with(settings, forwarded_allow_ips="*") as application,
        client_for(application, peer="198.51.100.7") as http,
    ):
        body = (await http.get("/v1/repositories/alice/?page_size=1", headers=FORWARDED)).json()
    assert body["next"] == "https://hub.example.com/api/v1/repositories/alice/?page_size=1&page=2"


@pytest.mark.parametrize("requested", ["/v1/repositories/alice/", "/repohub/v1/repositories/alice/"])
async def test_root_path_is_in_links_whether_or_not_the_proxy_strips_it(settings, v1, requested):
    await make_repos(v1, 2)
    async with app_with(settings, root_path="/repohub") as application, client_for(application) as http:
        response = await http.get(requested + "?page_size=1")
        assert response.status_code == 200, response.text
        assert (
            response.json()["next"] == "http://testserver/repohub/v1/repositories/alice/?page_size=1&page=2"
        )
        behind = await http.get(requested + "?page_size=1", headers=FORWARDED)
        assert behind.json()["next"] == (
            "https://hub.example.com/api/repohub/v1/repositories/alice/?page_size=1&page=2"
        )
        assert_error(await http.get(requested.replace("alice", "nobody")), 404, "not_found")
        docs = await http.get("/repohub/docs")
        assert docs.status_code == 200 and "/repohub/openapi.json" in docs.text
