"""Password checks: one login body read once and strictly, one per-user failure budget across every
endpoint that checks a password, and the same hashing cost whether the user exists or not."""

from __future__ import annotations

import httpx

from tests.ops.test_abuse import app_with

LOGIN = "/v1/generate-api-token/"
TOKEN = "/registry/token?service=repohub-registry&scope=repository:bob/app:pull"
# The budget of failed password checks a user has a minute, small to keep the tests quick; the
# per-client windows are off so that only the per-user rule is tested.
BUDGET = {"login_rate_per_user": 3, "login_rate_per_client": 0, "token_rate_per_client": 0}


def assert_v1_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"detail", "code"} and response.json()["code"] == code


def assert_budget_spent(response: httpx.Response, *, registry: bool = False) -> None:
    """A 429 in the endpoint's own format, with the seconds left in the window as Retry-After."""
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    if registry:
        assert response.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    else:
        assert response.json()["code"] == "rate_limited"


async def spend_budget(http: httpx.AsyncClient, username: str) -> None:
    for attempt in range(BUDGET["login_rate_per_user"]):
        wrong = await http.post(LOGIN, json={"username": username, "password": f"guess-{attempt}"})
        assert_v1_error(wrong, 401, "not_authenticated")
    assert_budget_spent(await http.post(LOGIN, json={"username": username, "password": "guess"}))


# -- item 1: the limit is keyed on the username that is authenticated ------------------------------


async def test_a_repeated_credential_field_is_400_and_never_checked(settings, accounts):
    await accounts.user("bob", password="bob-password")
    await accounts.user("carol", password="carol-password")
    async with app_with(settings, **BUDGET) as http:
        await spend_budget(http, "bob")
        for i in range(33):  # a decoy name in front of bob's used to pass the limit and reach bob
            smuggled = await http.post(
                LOGIN,
                content=f"username=decoy{i}&username=bob&password=guess-{i}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert_v1_error(smuggled, 400, "invalid_input")
        form, json = "application/x-www-form-urlencoded", "application/json"
        for body, kind in (
            ("username=decoy&username=carol&password=carol-password", form),
            ("username=carol&password=nothing&password=carol-password", form),
            ('{"username": "decoy", "username": "carol", "password": "carol-password"}', json),
        ):
            answered = await http.post(LOGIN, content=body, headers={"Content-Type": kind})
            assert_v1_error(answered, 400, "invalid_input")
        # Carol's budget was not touched by any of that, and she still logs in.
        fine = await http.post(LOGIN, data={"username": "carol", "password": "carol-password"})
        assert fine.status_code == 200 and fine.json()["username"] == "carol"


async def test_a_multipart_login_is_refused_before_any_password_check(settings, accounts):
    await accounts.user("bob", password="bob-password")
    async with app_with(settings, **BUDGET) as http:
        for i in range(33):
            multipart = await http.post(
                LOGIN, files={"username": (None, "bob"), "password": (None, f"guess-{i}")}
            )
            assert_v1_error(multipart, 415, "invalid_input")
        right = await http.post(LOGIN, files={"username": (None, "bob"), "password": (None, "bob-password")})
        assert_v1_error(right, 415, "invalid_input")
        # None of them was a password check: bob's budget is whole.
        assert (
            await http.post(LOGIN, json={"username": "bob", "password": "bob-password"})
        ).status_code == 200


async def test_a_login_body_of_no_known_media_type_is_415(client):
    for headers in ({"Content-Type": "text/plain"}, {}):
        refused = await client.post(LOGIN, content=b"username=bob&password=x", headers=headers)
        assert_v1_error(refused, 415, "invalid_input")
