"""SWR's enterprise-edition instance: repohub is one, under each caller's own project; any other
instance id or project id is a 404 in SWR's format, and no credentials a 401."""

import pytest

from repohub.domain.accounts import project_id_for
from tests.api.swr.helpers import auth
from tests.api.swr.test_signature import key, signed_headers  # noqa: F401 (the fixture)


async def project_of(accounts, name: str) -> str:
    async with accounts.service(name) as service:
        return project_id_for(service.principal.user)
    raise AssertionError("unreachable")


def assert_swr_404(answer) -> None:
    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert set(body) == {"error_code", "error_msg"} and body["error_code"] == "SVCSTG.SWR.4040001"


async def test_show_and_list_answer_our_instance_in_the_callers_project(client, accounts, settings):
    alice = await accounts.user("alice")
    project = await project_of(accounts, "alice")
    ours = settings.resolved_swr_instance_id
    shown = await client.get(f"/v2/{project}/instances/{ours}", headers=auth(alice))
    assert shown.status_code == 200, shown.text
    instance = shown.json()
    assert (instance["id"], instance["project_id"], instance["status"]) == (ours, project, "Running")
    assert instance["access_address"] == settings.registry_host and instance["spec"] == "swr.ee.professional"
    assert instance["created_at"].endswith("Z")
    listed = await client.get(f"/v2/{project}/instances", headers=auth(alice))
    assert listed.json() == {"instances": [instance], "total": 1}
    for query in ("status=Creating", "enterprise_project_id=other", "offset=1&limit=1"):
        other = (await client.get(f"/v2/{project}/instances?{query}", headers=auth(alice))).json()
        assert other["instances"] == [], query
    assert (await client.get(f"/v2/{project}/instances?status=Running", headers=auth(alice))).json() == {
        "instances": [instance],
        "total": 1,
    }


async def test_signed_requests_reach_the_instance(client, key, settings):  # noqa: F811
    url = f"/v2/{project_id_for(key.user)}/instances/{settings.resolved_swr_instance_id}"
    answer = await client.get(url, headers=signed_headers("GET", url, key))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "instance", ["other", "00000000-0000-0000-0000-000000000000", "%2e%2e", "x" * 300, "a%2Fb"]
)
async def test_any_other_instance_id_is_not_found(client, accounts, instance):
    alice = await accounts.user("alice")
    project = await project_of(accounts, "alice")
    assert_swr_404(await client.get(f"/v2/{project}/instances/{instance}", headers=auth(alice)))


async def test_another_callers_project_is_what_a_missing_project_is(client, accounts, settings):
    alice = await accounts.user("alice")
    await accounts.user("bob")
    bobs = await project_of(accounts, "bob")
    missing = "0" * 32
    ours = settings.resolved_swr_instance_id
    answers = []
    for project in (bobs, missing):
        listed = await client.get(f"/v2/{project}/instances", headers=auth(alice))
        shown = await client.get(f"/v2/{project}/instances/{ours}", headers=auth(alice))
        for answer in (listed, shown):
            assert_swr_404(answer)
        answers.append(
            (
                listed.json()["error_msg"].replace(project, "P"),
                shown.json()["error_msg"].replace(project, "P"),
            )
        )
    assert answers[0] == answers[1]  # bob's project id tells alice nothing


async def test_unknown_calls_under_an_instance_keep_swr_format(client, accounts, settings):
    alice = await accounts.user("alice")
    project = await project_of(accounts, "alice")
    assert_swr_404(
        await client.get(
            f"/v2/{project}/instances/{settings.resolved_swr_instance_id}/nope", headers=auth(alice)
        )
    )
    bad_limit = await client.get(f"/v2/{project}/instances?limit=0", headers=auth(alice))
    assert bad_limit.status_code == 400 and bad_limit.json()["error_code"].startswith("SVCSTG.SWR.400")


async def test_unauthenticated_is_401_before_any_lookup(client, accounts, settings):
    await accounts.user("alice")
    project = await project_of(accounts, "alice")
    for path in (f"/v2/{project}/instances", f"/v2/{project}/instances/{settings.resolved_swr_instance_id}"):
        for headers in ({}, {"X-Auth-Token": "not-a-token"}):
            answer = await client.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers)
            assert answer.json()["error_code"].startswith("SVCSTG.SWR.401")
