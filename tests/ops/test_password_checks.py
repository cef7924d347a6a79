"""Password checks: one login body read once and strictly, one per-user failure budget across every
endpoint that checks a password, and the same hashing cost whether the user exists or not."""

from __future__ import annotations

import asyncio
from typing import Any

import argon2
import httpx
import pytest

from tests.api.registry.test_token import basic
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


# -- item 8: one failure budget per user across every password check --------------------------------


async def test_registry_basic_password_guesses_are_refused_once_the_login_spent_the_budget(
    settings, accounts
):
    token = await accounts.user("bob", password="bob-password")
    async with app_with(settings, **BUDGET) as http:
        await spend_budget(http, "bob")
        for i in range(33):
            assert_budget_spent(await http.get(TOKEN, headers=basic("bob", f"guess-{i}")), registry=True)
        # Spent means spent: the right password is refused too, until the window turns.
        assert_budget_spent(await http.get(TOKEN, headers=basic("bob", "bob-password")), registry=True)
        assert_budget_spent(await http.post(LOGIN, data={"username": "bob", "password": "bob-password"}))
        # An API token is no password check: docker logins with one go on working.
        assert (await http.get(TOKEN, headers=basic("bob", token))).status_code == 200


async def test_login_is_refused_once_registry_basic_guesses_spent_the_budget(settings, accounts):
    await accounts.user("bob", password="bob-password")
    async with app_with(settings, **BUDGET) as http:
        for i in range(3):
            wrong = await http.get(TOKEN, headers=basic("bob", f"guess-{i}"))
            assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == "UNAUTHORIZED"
        assert_budget_spent(await http.get(TOKEN, headers=basic("bob", "bob-password")), registry=True)
        assert_budget_spent(await http.post(LOGIN, json={"username": "bob", "password": "bob-password"}))


async def test_concurrent_guesses_get_no_more_checks_than_the_budget(settings, accounts):
    await accounts.user("bob", password="bob-password")
    async with app_with(settings, **BUDGET) as http:
        answers = await asyncio.gather(
            *(http.get(TOKEN, headers=basic("bob", f"guess-{i}")) for i in range(8))
        )
        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [401] * 3 + [429] * 5


async def test_right_passwords_do_not_spend_the_budget(settings, accounts):
    await accounts.user("bob", password="bob-password")
    async with app_with(settings, **BUDGET) as http:
        for _ in range(2):
            assert (await http.post(LOGIN, json={"username": "bob", "password": "wrong"})).status_code == 401
        for _ in range(4):
            assert (await http.get(TOKEN, headers=basic("bob", "bob-password"))).status_code == 200
            ok = await http.post(LOGIN, json={"username": "bob", "password": "bob-password"})
            assert ok.status_code == 200
        assert (await http.post(LOGIN, json={"username": "bob", "password": "wrong"})).status_code == 401
        assert_budget_spent(await http.post(LOGIN, json={"username": "bob", "password": "bob-password"}))


async def test_an_unknown_user_spends_a_budget_like_a_known_one(settings, accounts):
    await accounts.user("bob", password="bob-password")
    async with app_with(settings, **BUDGET) as http:
        await spend_budget(http, "bob")
        await spend_budget(http, "nobody")  # the same answers: a 429 tells no name apart
        metrics = (await http.get("/metrics")).text
        assert 'repohub_rate_limited_total{limit="login_per_user"}' in metrics


# -- item 6: unknown users pay the same password-hash cost -------------------------------------------


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 verified passwords against (argon2's own verifier, counted and called)."""
    hashes: list[str] = []
    real = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        hashes.append(hash if isinstance(hash, str) else hash.decode())
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    return hashes


async def test_an_unknown_user_costs_one_password_hash_of_the_same_parameters(client, accounts, verified):
    await accounts.user("erin", password="erin-password")
    for username in ("erin", "no-such-user"):
        login = await client.post(LOGIN, json={"username": username, "password": "wrong-password"})
        assert_v1_error(login, 401, "not_authenticated")
        registry = await client.get(TOKEN, headers=basic(username, "wrong-password"))
        assert registry.status_code == 401
    assert len(verified) == 4  # one hash verification per check, user or no user
    known, unknown = verified[0], verified[2]
    assert argon2.extract_parameters(unknown) == argon2.extract_parameters(known)
