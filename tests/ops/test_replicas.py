"""Two ``repohub serve`` processes on one PostgreSQL under concurrent writes: a test that counts."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from repohub.auth.secrets import SecretBox
from repohub.config import Settings
from repohub.domain.entities import Role
from repohub.store import migrate
from repohub.store.engine import create_engine, create_sessionmaker
from tests.postgres import create_database
from tests.server import serve
from tests.world import make_service

USERS = [f"user{i}" for i in range(6)]
NAMES = [f"r{i}" for i in range(8)]
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


async def _setup(settings: Settings) -> tuple[dict[str, str], str]:
    """Users (members of org ``team``; user0 its admin) with one API token each."""
    engine = create_engine(settings.database_url)
    tokens: dict[str, str] = {}
    try:
        async with create_sessionmaker(engine)() as session:
            service = make_service(session, SecretBox(settings.resolved_secret_key))
            for name in USERS:
                await service.accounts.create_user(name, f"{name}-password")
                tokens[name] = (await service.accounts.create_token(name)).token
            org = await service.accounts.create_org("team", owner="user0")
            for name in USERS[1:]:
                await service.accounts.add_member("team", name, Role.MEMBER)
    finally:
        await engine.dispose()
    return tokens, str(org.id)


def _pull_event(number: int, repository: str) -> dict[str, object]:
    return {
        "id": f"pull-{number}",
        "timestamp": "2026-01-01T00:00:00Z",
        "action": "pull",
        "target": {
            "mediaType": MANIFEST,
            "digest": "sha256:" + hashlib.sha256(b"m").hexdigest(),
            "repository": repository,
            "size": 10,
        },
        "request": {"method": "GET"},
        "actor": {"name": "user1"},
    }


def test_two_replicas_concurrent_creates_deletes_stars_and_events(tmp_path: Path):
    url = create_database()
    migrate.upgrade(url)
    settings = Settings(database_url=url, data_dir=tmp_path, secret_key="replica-secret", _env_file=None)
    tokens, org_id = asyncio.run(_setup(settings))
    events_secret = settings.resolved_events_secret
    with serve(settings) as one, serve(settings) as two, ThreadPoolExecutor(12) as pool:
        servers = itertools.cycle([one.url, two.url])
        client = httpx.Client(timeout=30)

        def create(job: tuple[int, str, str]) -> tuple[str, int]:
            number, name, base = job
            token = tokens[USERS[number % len(USERS)]]
            dialect = number % 3
            if dialect == 0:
                answer = client.post(
                    f"{base}/v1/repositories/team/",
                    json={"repo_name": name, "is_public": True},
                    headers={"Authorization": f"Token {token}"},
                )
            elif dialect == 1:
                answer = client.post(
                    f"{base}/organizations/{org_id}/registry/repositories",
                    json={"name": name},
                    headers={"Authorization": f"Bearer {token}"},
                )
            else:
                answer = client.post(
                    f"{base}/v2/manage/namespaces/team/repos",
                    json={"repository": name, "is_public": True},
                    headers={"X-Auth-Token": token},
                )
            return name, answer.status_code

        jobs = [(n, NAMES[n % len(NAMES)], next(servers)) for n in range(48)]
        created = list(pool.map(create, jobs))
        by_name: dict[str, Counter[int]] = {name: Counter() for name in NAMES}
        for name, status in created:
            by_name[name][status] += 1
        for name, statuses in by_name.items():
            wins = statuses[200] + statuses[201]
            assert wins == 1, (name, statuses)  # exactly one create of each name won
            assert set(statuses) - {200, 201} <= {409}, (name, statuses)

        # Stars: every user stars r0..r3 twice over (both servers); then three users unstar r0.
        def star(job: tuple[str, str, str, str]) -> int:
            user, name, method, base = job
            answer = client.request(
                method,
                f"{base}/v1/repositories/team/{name}/star",
                headers={"Authorization": f"Token {tokens[user]}"},
            )
            return answer.status_code

        star_jobs = [
            (user, name, "PUT", next(servers)) for user in USERS for name in NAMES[:4] for _ in range(2)
        ]
        assert set(pool.map(star, star_jobs)) == {200}
        unstar = [(user, "r0", "DELETE", next(servers)) for user in USERS[:3]]
        assert set(pool.map(star, unstar)) == {200}

        # Deletes: r4..r7, each asked of both servers at once by the org admin.
        def remove(job: tuple[str, str]) -> int:
            name, base = job
            answer = client.delete(
                f"{base}/v1/repositories/team/{name}", headers={"Authorization": f"Token {tokens['user0']}"}
            )
            return answer.status_code

        jobs_by_name = [(name, base) for name in NAMES[4:] for base in (one.url, two.url)]
        deleted = list(pool.map(remove, jobs_by_name))
        for index, name in enumerate(NAMES[4:]):  # of the two deletes of a name, one wins, one finds nothing
            pair = deleted[2 * index : 2 * index + 2]
            assert sorted(pair) == [204, 404], (name, pair)

        # Registry events: 30 distinct pulls of r1, each envelope delivered to both servers at once.
        def deliver(job: tuple[int, str]) -> int:
            number, base = job
            answer = client.post(
                f"{base}/registry/events",
                content=json.dumps({"events": [_pull_event(number, "team/r1")]}),
                headers={
                    "Authorization": f"Bearer {events_secret}",
                    "Content-Type": "application/vnd.docker.distribution.events.v1+json",
                },
            )
            return answer.status_code

        deliveries = [(number, base) for number in range(30) for base in (one.url, two.url)]
        assert set(pool.map(deliver, deliveries)) == {200}

        admin = {"Authorization": f"Token {tokens['user0']}"}
        listing = client.get(f"{one.url}/v1/repositories/team/?page_size=100", headers=admin).json()
        assert sorted(item["repo_name"] for item in listing["results"]) == NAMES[:4]
        assert listing["count"] == 4
        for name in NAMES[:4]:
            detail = client.get(f"{two.url}/v1/repositories/team/{name}", headers=admin).json()
            expected = len(USERS) - (3 if name == "r0" else 0)
            assert detail["repo_starred_count"] == expected, (name, detail)
        swr = client.get(
            f"{one.url}/v2/manage/namespaces/team/repos/r1", headers={"X-Auth-Token": tokens["user0"]}
        )
        assert swr.json()["num_download"] == 30, swr.json()  # 60 deliveries of 30 distinct events
        detail = client.get(f"{two.url}/v1/repositories/team/r1", headers=admin).json()
        assert detail["download"] == 30 and detail["pulled_at"] is not None, detail
        others = [client.get(f"{one.url}/v1/repositories/team/{name}", headers=admin) for name in NAMES[4:]]
        assert [answer.status_code for answer in others] == [404] * len(NAMES[4:])
        client.close()
    for server in (one, two):
        assert '"status":500' not in server.log.read_text()
