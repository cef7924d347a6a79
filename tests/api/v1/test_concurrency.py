"""Uniqueness under concurrent requests against a real ``repohub serve``: one 201, nineteen 409s."""

import asyncio

import httpx

from repohub.store.tables import RepositoryRow
from tests.server import serve

ATTEMPTS = 20


async def _race(url: str, headers: dict[str, str], body: dict) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=ATTEMPTS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        start = asyncio.Event()

        async def create() -> httpx.Response:
            await start.wait()  # all connections are opened first, then released together
            return await http.post("/v1/repositories/acme/", json=body, headers=headers)

        tasks = [asyncio.create_task(create()) for _ in range(ATTEMPTS)]
        await asyncio.sleep(0.05)
        start.set()
        return await asyncio.gather(*tasks)


async def test_parallel_creates_of_one_name_give_one_201_and_409s(settings, v1):
    with serve(settings) as server:
        responses = await _race(server.url, v1.auth("dev"), {"repo_name": "raced", "is_public": True})
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] + [409] * (ATTEMPTS - 1), [r.text for r in responses if r.status_code >= 500]
        for response in responses:
            if response.status_code == 409:
                assert response.json()["code"] == "conflict" and set(response.json()) == {"detail", "code"}
        async with httpx.AsyncClient(base_url=server.url) as http:
            listed = (await http.get("/v1/repositories/acme/")).json()
        assert [item["repo_name"] for item in listed["results"]] == ["raced"]
        log = server.log.read_text()
    assert await v1.count(RepositoryRow) == 1
    assert "Traceback" not in log and " 500 " not in log


async def test_parallel_creates_of_different_names_all_succeed(settings, v1):
    with serve(settings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/v1/repositories/acme/", json={"repo_name": f"r{index}"}, headers=v1.auth("dev")
                    )
                    for index in range(ATTEMPTS)
                )
            )
    assert [response.status_code for response in responses] == [201] * ATTEMPTS
    assert await v1.count(RepositoryRow) == ATTEMPTS
