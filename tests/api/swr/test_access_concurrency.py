"""The "a namespace keeps an admin" rule under concurrent access changes, against a real ``repohub serve``:
two admins who take each other's admin role at the same moment leave one of them an admin."""

import asyncio

import httpx

from repohub.domain.entities import Role
from tests.api.swr.helpers import auth
from tests.server import serve

NS = "/v2/manage/namespaces"
PAIRS = 20
ADMIN, VIEWER = 7, 1

Request = tuple[str, str, object]  # method, token, body


async def _at_once(http: httpx.AsyncClient, url: str, requests: list[Request]) -> list[httpx.Response]:
    """Send the requests to one access URL, released together once all are waiting."""
    start = asyncio.Event()

    async def send(method: str, token: str, body: object) -> httpx.Response:
        await start.wait()
        return await http.request(method, url, json=body, headers=auth(token))

    tasks = [asyncio.create_task(send(*request)) for request in requests]
    await asyncio.sleep(0.01)
    start.set()
    return await asyncio.gather(*tasks)


async def _admins(http: httpx.AsyncClient, url: str, root: str) -> list[str]:
    """The team's admins as a site admin sees them (who is not a member, so not among the others)."""
    shown = (await http.get(url, headers=auth(root))).json()
    return sorted(entry["user_name"] for entry in shown["others_auths"] if entry["auth"] == ADMIN)


async def _two_admin_teams(accounts, prefix: str) -> None:
    for index in range(PAIRS):
        await accounts.org(f"{prefix}{index}", owner="alice")
        await accounts.member(f"{prefix}{index}", "bob", Role.ADMIN)


async def _race_pairs(settings, root: str, prefix: str, pair: object) -> None:
    """For each team, alice's and bob's requests at once (``pair(ids)`` gives them, by the users'
    ids); each time exactly one succeeds, the other is refused, and the team keeps an admin."""
    with serve(settings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            shown = (await http.get(f"{NS}/{prefix}0/access", headers=auth(root))).json()
            ids = {entry["user_name"]: entry["user_id"] for entry in shown["others_auths"]}
            for index in range(PAIRS):
                url = f"{NS}/{prefix}{index}/access"
                responses = await _at_once(http, url, pair(ids))  # type: ignore[operator]
                statuses = sorted(response.status_code for response in responses)
                assert statuses[0] in (201, 204) and statuses[1] in (403, 404, 409), (
                    index,
                    [response.text for response in responses],
                )
                assert len(await _admins(http, url, root)) == 1, index
        log = server.log.read_text()
    assert "Traceback" not in log and " 500 " not in log


async def test_two_admins_demoting_each_other_at_once_leave_one_admin(settings, accounts):
    alice, bob, root = (
        await accounts.user("alice"),
        await accounts.user("bob"),
        await accounts.user("root", admin=True),
    )
    await _two_admin_teams(accounts, "team")

    def demotions(ids: dict[str, str]) -> list[Request]:
        return [
            ("PATCH", alice, [{"user_id": ids["bob"], "auth": VIEWER}]),
            ("PATCH", bob, [{"user_id": ids["alice"], "auth": VIEWER}]),
        ]

    await _race_pairs(settings, root, "team", demotions)


async def test_two_admins_removing_each_other_at_once_leave_one_admin(settings, accounts):
    alice, bob, root = (
        await accounts.user("alice"),
        await accounts.user("bob"),
        await accounts.user("root", admin=True),
    )
    await _two_admin_teams(accounts, "crew")

    def removals(ids: dict[str, str]) -> list[Request]:
        return [("DELETE", alice, [ids["bob"]]), ("DELETE", bob, [ids["alice"]])]

    await _race_pairs(settings, root, "crew", removals)
