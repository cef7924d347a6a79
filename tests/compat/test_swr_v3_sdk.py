"""huaweicloudsdkswr's v3 marker calls (``list_repo_details``, ``list_repository_tag``) against a real
``repohub serve``: a walk of 2,500 repositories in pages of 100 sees each once while others are
created and deleted under it, and a tag walk sees every tag of a repository once."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkswr.v2 import ListRepoDetailsRequest, ListRepositoryTagRequest, SwrClient
from sqlalchemy import insert

from repohub.config import Settings
from repohub.domain.clock import utcnow
from repohub.store.tables import RepositoryRow
from tests.api.swr.helpers import add_tag
from tests.compat.test_swr_sdk import access_key, swr_client
from tests.server import Server, serve

STABLE, DOOMED_EVERY = 2_500, 10  # one doomed repository before every ten that stay


@pytest.fixture(scope="module")
def server(settings: Settings) -> Iterator[Server]:
    with serve(settings) as running:
        yield running


async def seed(app, accounts) -> tuple[set[str], list[str]]:
    """2,500 repositories that outlive the walk, and 250 interleaved with them (by id) that die in it,
    written in one statement (the domain's create takes a transaction each)."""
    await accounts.user("alice")
    namespace_id = await accounts.org("team", owner="alice")
    creator_id = await accounts.user_id("alice")
    stable = [f"r{number:05d}" for number in range(STABLE)]
    doomed = [f"d{number:05d}" for number in range(0, STABLE, DOOMED_EVERY)]
    names = [name for number, kept in enumerate(stable) for name in (doomed[number // DOOMED_EVERY], kept)]
    names = list(dict.fromkeys(names))  # each doomed one before the tenth stable one it precedes
    now = utcnow()
    rows = [
        {"namespace_id": namespace_id, "name": name, "creator_id": creator_id, "is_public": False}
        | {"created_at": now, "updated_at": now}
        for name in names
    ]
    async with app.state.repohub.sessions() as session:
        await session.execute(insert(RepositoryRow.__table__), rows)
        await session.commit()
    return set(stable), doomed


def sdk_walk(client: SwrClient, progress: list[int]) -> tuple[list[str], int]:
    """Every page of ``list_repo_details`` by 100, waiting after each page until the churn has moved
    on, so that creates and deletes land between the walk's pages, and during them."""
    seen: list[str] = []
    marker, pages = None, 0
    while True:
        response = client.list_repo_details(ListRepoDetailsRequest(limit=100, marker=marker))
        pages += 1
        assert len(response.repos) <= 100
        seen += [repo.name for repo in response.repos]
        if response.next_marker is None:
            return seen, pages
        assert response.next_marker == response.repos[-1].id
        marker = response.next_marker
        moved = progress[0]
        deadline = time.monotonic() + 10
        while progress[0] == moved and time.monotonic() < deadline:
            time.sleep(0.002)


async def churn(accounts, doomed: list[str], progress: list[int], done: asyncio.Event) -> set[str]:
    """Create a repository and delete a doomed one, over and over, until the walk is done."""
    created: set[str] = set()
    order = random.Random(19).sample(doomed, len(doomed))
    async with accounts.service("alice") as service:
        while not done.is_set() and order:
            name = f"new{len(created):04d}"
            await service.catalog.create_repository("team", name)
            created.add(name)
            await service.catalog.delete_repository(await service.catalog.repository("team", order.pop()))
            progress[0] += 1
            await asyncio.sleep(0)
    return created


async def test_the_sdk_walks_2500_repositories_once_each_while_others_come_and_go(server, app, accounts):
    stable, doomed = await seed(app, accounts)
    client = swr_client(server.url, await access_key(accounts, "alice"))
    progress, done = [0], asyncio.Event()
    churning = asyncio.create_task(churn(accounts, doomed, progress, done))
    try:
        seen, pages = await asyncio.to_thread(sdk_walk, client, progress)
    finally:
        done.set()
        created = await churning
    assert pages >= STABLE // 100
    assert progress[0] >= pages - 1  # a create and a delete between every two pages
    assert len(seen) == len(set(seen)), "a repository was seen twice"
    assert stable <= set(seen), sorted(stable - set(seen))[:10]
    assert set(seen) <= stable | set(doomed) | created


async def test_the_sdk_walks_a_repositorys_tags(server, app, accounts):
    await accounts.user("alice")
    await accounts.org("team", owner="alice")
    await accounts.repository("team/app", by="alice")
    for number in range(25):
        await add_tag(app, "team", "app", f"v{number}")
    client = swr_client(server.url, await access_key(accounts, "alice"))
    seen, marker = [], None
    while True:
        request = ListRepositoryTagRequest(namespace="team", repository="app", limit=10, marker=marker)
        response = client.list_repository_tag(request)
        seen += [tag.tag for tag in response.tags]
        if not response.has_more:
            assert response.next_marker is None
            break
        assert response.next_marker == str(response.tags[-1].id)
        marker = response.next_marker
    assert seen == [f"v{number}" for number in range(25)]
    with pytest.raises(ClientRequestException) as caught:
        client.list_repo_details(ListRepoDetailsRequest(limit=5000))
    assert caught.value.status_code == 400
    assert caught.value.error_code == "SVCSTG.SWR.4000001"
