"""A long-term credential's name is unique among its owner's under concurrent creations, against a
real ``repohub serve``: two creations of one name at the same moment make one credential (201) and a
409, the user's row held for the check (``UserStore.lock``)."""

import asyncio

import httpx

from repohub.domain.accounts import project_id_for
from tests.server import serve

ROUNDS = 10


async def _at_once(http: httpx.AsyncClient, url: str, body: object, headers: dict[str, str]) -> list[int]:
    """Two POSTs of ``body``, released together once both are waiting; their statuses, sorted."""
    start = asyncio.Event()

    async def send() -> httpx.Response:
        await start.wait()
        return await http.post(url, json=body, headers=headers)

    tasks = [asyncio.create_task(send()) for _ in range(2)]
    await asyncio.sleep(0.01)
    start.set()
    return sorted(response.status_code for response in await asyncio.gather(*tasks))


async def test_two_creations_of_one_name_at_once_make_one_credential(settings, accounts):
    token = await accounts.user("alice")
    async with accounts.service() as service:
        project = project_id_for(await service.accounts.user("alice"))
    base = f"/v2/{project}/instances/{settings.resolved_swr_instance_id}"
    headers = {"X-Auth-Token": token}
    with serve(settings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            for index in range(ROUNDS):
                body = {"name": f"ci-{index}"}
                statuses = await _at_once(http, f"{base}/long-term-credential", body, headers)
                assert statuses == [201, 409], (index, statuses)
            listed = (await http.get(f"{base}/long-term-credentials", headers=headers)).json()
    assert sorted(item["name"] for item in listed["auth_tokens"]) == sorted(f"ci-{i}" for i in range(ROUNDS))
