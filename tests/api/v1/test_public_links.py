"""Links in answers (v1's ``next``/``previous``) and the Host header: an explicit REPOHUB_PUBLIC_URL is
what links are built from, whatever Host or a proxy's X-Forwarded-* say; REPOHUB_ALLOWED_HOSTS refuses
requests for other hosts with a 400 in the dialect's format (probes excepted)."""

from __future__ import annotations

import pytest

from repohub.config import Settings
from tests.api.v1.test_paging import FORWARDED, app_with, client_for, make_repos
from tests.api.v1.test_repositories import assert_error

PAGE = "/v1/repositories/alice/?page_size=1&page=2"
SPOOFED = [{"Host": "evil.example"}, FORWARDED, {**FORWARDED, "Host": "evil.example"}]


@pytest.mark.parametrize("headers", SPOOFED)
async def test_an_explicit_public_url_is_the_base_of_every_link(settings, v1, headers):
    await make_repos(v1, 3)
    public = "https://hub.example.org/registry-api"
    async with app_with(settings, public_url=public + "/") as application, client_for(application) as http:
        body = (await http.get(PAGE, headers=headers)).json()
    assert body["next"] == f"{public}/v1/repositories/alice/?page_size=1&page=3"
    assert body["previous"] == f"{public}/v1/repositories/alice/?page_size=1"


async def test_an_explicit_public_url_replaces_the_root_path_too(settings, v1):
    """REPOHUB_PUBLIC_URL is where the app's root is reached, prefix included (as for the token realm)."""
    await make_repos(v1, 2)
    public = "https://hub.example.org/repohub"
    async with (
        app_with(settings, public_url=public, root_path="/repohub") as application,
        client_for(application) as http,
    ):
        for path in ("/v1/repositories/alice/", "/repohub/v1/repositories/alice/"):
            body = (await http.get(path + "?page_size=1", headers=FORWARDED)).json()
            assert body["next"] == f"{public}/v1/repositories/alice/?page_size=1&page=2", path


def test_the_default_public_url_counts_as_unset():
    assert Settings(_env_file=None).link_base is None
    assert Settings(_env_file=None, public_url="https://a.example/x/").link_base == "https://a.example/x"


async def test_without_an_explicit_public_url_the_host_still_makes_the_links(client, v1):
    await make_repos(v1, 2)
    body = (await client.get("/v1/repositories/alice/?page_size=1", headers={"Host": "hub.local"})).json()
    assert body["next"] == "http://hub.local/v1/repositories/alice/?page_size=1&page=2"


async def test_allowed_hosts_refuse_other_hosts_in_the_dialects_format(settings, v1):
    await make_repos(v1, 2)
    async with (
        app_with(settings, allowed_hosts="a.example, *.b.example") as application,
        client_for(application) as http,
    ):
        for host in ("a.example", "a.example:8443", "api.b.example"):
            allowed = await http.get(PAGE, headers={"Host": host})
            assert allowed.status_code == 200, (host, allowed.text)
        for headers in ({"Host": "evil.example"}, {"Host": "a.example.evil"}, FORWARDED):
            assert_error(await http.get(PAGE, headers=headers), 400, "invalid_input")
        abeja = await http.get("/organizations/1", headers={"Host": "evil.example"})
        assert abeja.status_code == 400 and abeja.json()["error"] == "bad_request"
        swr = await http.get("/v2/manage/repos", headers={"Host": "evil.example"})
        assert swr.status_code == 400 and swr.json()["error_code"] == "SVCSTG.SWR.4000001"
        # Probes and scrapes come by address, and answer nothing built from the host.
        for probe in ("/healthz", "/metrics"):
            probed = await http.get(probe, headers={"Host": "10.0.0.5:8000"})
            assert probed.status_code == 200, (probe, probed.text)
        # Behind a trusted proxy, the host checked is the one it forwards: the one links show.
        forwarded = await http.get(PAGE, headers={"Host": "evil.example", "X-Forwarded-Host": "a.example"})
        assert forwarded.status_code == 200 and forwarded.json()["previous"].startswith("http://a.example/")


@pytest.mark.parametrize("hosts", ["a.*.example", "*example.com", " , "])
def test_a_malformed_allowed_host_stops_the_start(hosts):
    with pytest.raises(ValueError, match="allowed_hosts"):
        Settings(_env_file=None, allowed_hosts=hosts)
