"""The web catalogue (/ui/) in a real headless Chromium against a served repohub with pushed images.

The bed (``conftest.py``): acme/web public (scratch, v1 immutable, multi a two-platform index, v2 the
newest) and acme/secret private; carol admin of acme, alice a member, mallory an outsider. The
markup the tests read is the contract of issue 20 (ids, data- attributes); an element missing fails
its test within seconds. The last test checks the request log of every page the module opened.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Page

from tests.ui.conftest import BULK, PASSWORD, Catalogue, foreign, new_page

MAX_PAGE_BYTES = 100_000
_CSRF = re.compile(r"<input\b[^>]*\bname=\"csrf\"[^>]*>", re.I)
_VALUE = re.compile(r"\bvalue=\"([^\"]*)\"")
_EXACT_UTC = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
_HUMAN_SIZE = re.compile(r"^\d+(?:\.\d+)? (?:B|KiB|MiB|GiB)$")


# -- helpers ----------------------------------------------------------------------------------------
async def visit(page: Page, path: str, status: int = 200) -> str:
    """Open ``path``; its status must be ``status`` and its HTML under 100 KB. Returns the HTML."""
    response = await page.goto(path)
    assert response is not None, f"no response for {path}"
    assert response.status == status, f"{path}: {response.status}"
    body = await response.body()
    assert len(body) < MAX_PAGE_BYTES, f"{path} is {len(body)} bytes"
    return body.decode()


async def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    await visit(page, "/ui/login")
    form = page.locator("form#login")
    await form.locator('[name="username"]').fill(username)
    await form.locator('[name="password"]').fill(password)
    async with page.expect_navigation():
        await form.locator('button, input[type="submit"]').first.click()


async def text(page: Page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


def csrf_of(html: str) -> str:
    field = _CSRF.search(html)
    assert field, "no hidden csrf field in the form"
    value = _VALUE.search(field.group(0))
    assert value and value.group(1), field.group(0)
    return value.group(1)


@contextmanager
def http(catalogue: Catalogue) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=catalogue.url, timeout=30, follow_redirects=False) as client:
        yield client


def login_form(client: httpx.Client, **fields: str) -> dict[str, str]:
    """The login form's fields as the page gives them (csrf included), with ``fields`` over them."""
    page = client.get("/ui/login")
    assert page.status_code == 200, page.text
    return {"username": "alice", "password": PASSWORD, "csrf": csrf_of(page.text), **fields}


def session_cookie(response: httpx.Response) -> str | None:
    cookies = [
        value for value in response.headers.get_list("set-cookie") if value.startswith("repohub_session=")
    ]
    return cookies[0] if cookies else None


async def rows(page: Page) -> dict[str, dict[str, Any]]:
    """Each row of #tags by its data-tag: every cell's text and the attributes the contract names."""
    found: dict[str, dict[str, Any]] = await page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#tags tr[data-tag]')].map(row => {
            const cell = name => row.querySelector('td.' + name);
            const time = name => cell(name) && cell(name).querySelector('time');
            // A cell's text without its controls (the digest cell may hold a copy button).
            const shown = element => { const copy = element.cloneNode(true);
                copy.querySelectorAll('button').forEach(button => button.remove());
                return copy.textContent.trim(); };
            const texts = Object.fromEntries(['digest', 'size', 'media', 'pushed', 'pulled', 'pulls',
                'immutable'].map(name => [name, cell(name) ? shown(cell(name)) : null]));
            return [row.dataset.tag, {...texts,
                digest_title: cell('digest') && cell('digest').getAttribute('title'),
                bytes: cell('size') && cell('size').dataset.bytes,
                pushed_at: time('pushed') && time('pushed').getAttribute('datetime'),
                pushed_title: time('pushed') && time('pushed').getAttribute('title'),
                pulled_at: time('pulled') && time('pulled').getAttribute('datetime'),
                delete: (row.querySelector('a.delete-tag') || {getAttribute: () => null})
                    .getAttribute('href'),
            }];
        }))"""
    )
    return found


async def listed(page: Page) -> list[str]:
    paths: list[str] = await page.eval_on_selector_all(
        "#repositories li.repository", "items => items.map(item => item.dataset.path)"
    )
    return paths


async def search(page: Page, query: str) -> list[str]:
    """Type ``query`` into the search box and submit the form as a person would."""
    box = page.locator('form#search input[type="search"][name="q"]')
    await box.fill(query)
    async with page.expect_navigation():
        await box.press("Enter")
    assert f"q={query}" in page.url, page.url
    return await listed(page)


def newest_tag(catalogue: Catalogue) -> str:
    tags = catalogue.v1_tags()
    return max(tags, key=lambda name: str(tags[name]["updated_at"]))


# -- the bed itself ----------------------------------------------------------------------------------
def test_the_catalogue_holds_the_pushed_images_their_sizes_and_the_immutable_rule(
    catalogue: Catalogue,
) -> None:
    """What the page tests compare with: the API's view of the bed (no UI involved)."""
    pushed = {**catalogue.images, "multi": catalogue.multi}
    tags = catalogue.v1_tags()
    assert {name: item["digest"] for name, item in tags.items()} == {
        name: i.digest for name, i in pushed.items()
    }
    assert catalogue.swr_sizes() == {name: image.size for name, image in pushed.items()}
    assert newest_tag(catalogue) == "v2"
    assert set(catalogue.v1_tags("secret")) == {"v1"}
    assert catalogue.v1("GET", "/repositories/acme/secret", user="mallory").status_code == 404
    refused = catalogue.swr("DELETE", "/manage/namespaces/acme/repos/web/tags/v1")
    assert refused.status_code == 409 and "immutable" in refused.text, refused.text


# -- signing in and out -----------------------------------------------------------------------------
async def test_signing_in_through_the_form_shows_the_user_and_sets_an_httponly_lax_cookie(page: Page) -> None:
    await visit(page, "/ui/")
    assert await page.locator("a#sign-in").get_attribute("href") == "/ui/login"
    await sign_in(page, "alice")
    assert page.url.endswith("/ui/")
    assert await text(page, "span#whoami") == "alice"
    assert await page.locator("a#sign-in").count() == 0
    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    session = cookies["repohub_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Lax"
    assert session["secure"] is False  # plain http here; https is the in-process tests' business


async def test_a_wrong_password_answers_401_with_the_form_and_an_error(page: Page) -> None:
    await visit(page, "/ui/login")
    form = page.locator("form#login")
    await form.locator('[name="username"]').fill("alice")
    await form.locator('[name="password"]').fill("not-the-password")
    async with page.expect_navigation() as navigation:
        await form.locator('button, input[type="submit"]').first.click()
    response = await navigation.value
    assert response is not None and response.status == 401
    assert await text(page, ".error")
    assert await page.locator("form#login").count() == 1
    assert "repohub_session" not in {cookie["name"] for cookie in await page.context.cookies()}


async def test_signing_out_returns_to_anonymous(page: Page) -> None:
    await sign_in(page, "alice")
    assert await text(page, "span#whoami") == "alice"
    form = page.locator('form#sign-out[method="post"][action="/ui/logout"]')
    assert await form.locator('input[type="hidden"][name="csrf"]').count() == 1
    async with page.expect_navigation():
        await form.locator("button").click()
    assert await page.locator("span#whoami").count() == 0
    await visit(page, "/ui/")
    assert await page.locator("a#sign-in").count() == 1
    assert await page.locator("span#whoami").count() == 0


# -- forged forms (plain httpx, no browser) ---------------------------------------------------------
def test_the_login_form_with_its_csrf_field_and_own_origin_signs_in(catalogue: Catalogue) -> None:
    """The control for the refusals below: the same POST with everything right is a 303 and a cookie."""
    with http(catalogue) as client:
        done = client.post("/ui/login", data=login_form(client), headers={"Origin": catalogue.url})
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith("/ui/")
    cookie = session_cookie(done)
    assert cookie is not None
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()


def test_behind_an_https_proxy_the_session_cookie_is_secure(catalogue: Catalogue) -> None:
    """127.0.0.1 is a trusted proxy by default: its X-Forwarded-Proto makes the request https."""
    https = {"X-Forwarded-Proto": "https"}
    origin = catalogue.url.replace("http://", "https://")
    with http(catalogue) as client:
        fields = login_form(client)
        done = client.post("/ui/login", data=fields, headers={**https, "Origin": origin})
    assert done.status_code == 303, done.text
    cookie = session_cookie(done)
    assert cookie is not None and "secure" in cookie.lower().split("; "), cookie


def test_a_login_without_or_with_a_wrong_csrf_field_is_refused_403_without_a_cookie(
    catalogue: Catalogue,
) -> None:
    with http(catalogue) as client:
        fields = login_form(client)
        missing = client.post("/ui/login", data={k: v for k, v in fields.items() if k != "csrf"})
        wrong = client.post("/ui/login", data={**fields, "csrf": "forged-" + fields["csrf"][::-1]})
    for refused in (missing, wrong):
        assert refused.status_code == 403, refused.text
        assert "set-cookie" not in refused.headers, refused.headers


def test_a_login_from_a_foreign_origin_is_refused_403_without_a_cookie(catalogue: Catalogue) -> None:
    with http(catalogue) as client:
        refused = client.post("/ui/login", data=login_form(client), headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403, refused.text
    assert "set-cookie" not in refused.headers, refused.headers


def test_login_follows_a_local_next_and_ignores_a_foreign_one(catalogue: Catalogue) -> None:
    with http(catalogue) as client:
        local = client.post("/ui/login", data=login_form(client, next="/ui/r/acme/web"))
    with http(catalogue) as client:
        away = client.post("/ui/login", data=login_form(client, next="http://evil.example/ui/"))
    assert (local.status_code, local.headers["location"].removeprefix(catalogue.url)) == (
        303,
        "/ui/r/acme/web",
    )
    assert (away.status_code, away.headers["location"].removeprefix(catalogue.url)) == (303, "/ui/")


# -- the list, search --------------------------------------------------------------------------------
async def test_the_search_box_finds_acme_web_and_an_anonymous_visitor_never_sees_acme_secret(
    page: Page,
) -> None:
    await visit(page, "/ui/")
    form = page.locator('form#search[method="get"][action="/ui/"]')
    # namespace may be a free-text field (a select of a million namespaces would not be a page)
    assert await form.locator('select[name="namespace"], input[name="namespace"]').count() == 1
    for name in ("category", "visibility", "sort"):
        assert await form.locator(f'select[name="{name}"]').count() == 1, f"no select {name}"
    assert await form.locator('button, input[type="submit"]').count() >= 1
    assert "acme/secret" not in await listed(page)
    assert "acme/web" in await search(page, "web")
    assert await page.locator('li.repository[data-path="acme/web"] a[href="/ui/r/acme/web"]').count() == 1
    assert await search(page, "secret") == []


async def test_a_member_searching_finds_the_private_repository(page: Page) -> None:
    await sign_in(page, "alice")
    assert "acme/secret" in await search(page, "secret")


async def test_the_visibility_filter_and_sort_are_query_parameters(page: Page) -> None:
    await sign_in(page, "alice")
    await visit(page, "/ui/?visibility=private&sort=name")
    assert await listed(page) == ["acme/secret"]
    await visit(page, "/ui/?visibility=public&namespace=acme&sort=name")
    assert await listed(page) == ["acme/web"]


async def test_every_sort_of_the_search_form_lists_the_same_repositories(page: Page) -> None:
    await visit(page, "/ui/")
    sorts = await page.eval_on_selector_all(
        'form#search select[name="sort"] option', "options => options.map(option => option.value)"
    )
    assert {"updated", "name", "tags", "pulls"} <= set(sorts), sorts
    for sort in ("updated", "name", "tags", "pulls"):
        await visit(page, f"/ui/?sort={sort}")
        assert await listed(page) == ["acme/web"], sort  # anonymous: the one public repository


async def test_paging_with_next_and_prev_links_walks_every_repository_once(page: Page) -> None:
    await sign_in(page, "carol")
    await visit(page, "/ui/?namespace=bulk&sort=name")
    seen, pages = await listed(page), 1
    while await page.locator("a[rel=next]").count():
        async with page.expect_navigation():
            await page.locator("a[rel=next]").first.click()
        assert await page.locator("a[rel=prev]").count() >= 1, f"no prev link on page {pages + 1}"
        seen, pages = seen + await listed(page), pages + 1
        assert pages <= BULK, "the next links never end"
    assert pages >= 2, "the bulk namespace fits one page: no paging seen"
    assert seen == [f"bulk/r{number:03}" for number in range(BULK)]


async def test_bad_list_parameters_are_a_4xx_page(page: Page) -> None:
    await visit(page, "/ui/?sort=name&page=1")  # the good ones are served, so a 4xx below is the value's
    for query in ("sort=nonsense", "page=0", "page=abc", "visibility=everyone"):
        response = await page.goto(f"/ui/?{query}")
        assert response is not None and response.status in (400, 422), (query, response and response.status)


# -- a repository's page -----------------------------------------------------------------------------
async def test_opening_a_repository_from_the_list_shows_its_page(page: Page) -> None:
    await visit(page, "/ui/")
    async with page.expect_navigation():
        await page.locator('li.repository[data-path="acme/web"] a[href="/ui/r/acme/web"]').click()
    assert page.url.endswith("/ui/r/acme/web")
    assert await text(page, "#description") == "The acme web server"
    assert await text(page, "#visibility") == "public"
    assert int(await text(page, "#stars")) >= 0
    assert await page.locator("form#star").count() == 0  # anonymous: nothing to star with


async def test_copy_puts_the_pull_command_of_the_newest_tag_on_the_clipboard(
    page: Page, catalogue: Catalogue
) -> None:
    expected = f"docker pull {catalogue.registry.host}/acme/web:{newest_tag(catalogue)}"
    assert expected.endswith(":v2")  # pushed last
    await visit(page, "/ui/r/acme/web")
    assert await text(page, "code#pull-command") == expected
    await page.locator('button#copy-pull[type="button"]').click()
    # writeText resolves after the click handler returns: poll the clipboard briefly.
    copied = await page.wait_for_function(
        "async expected => (await navigator.clipboard.readText()) === expected", arg=expected
    )
    assert await copied.json_value() is True


async def test_the_tags_show_the_pushed_digests_and_the_catalogues_sizes(
    page: Page, catalogue: Catalogue
) -> None:
    await visit(page, "/ui/r/acme/web")
    shown, tags, sizes = await rows(page), catalogue.v1_tags(), catalogue.swr_sizes()
    pushed = {**catalogue.images, "multi": catalogue.multi}
    assert set(pushed) - {"scratch"} <= set(shown), shown.keys()
    for name, row in shown.items():
        digest = pushed[name].digest
        assert tags[name]["digest"] == digest
        assert (row["digest"], row["digest_title"]) == (digest.removeprefix("sha256:")[:12], digest), name
        assert int(row["bytes"]) == sizes[name] == pushed[name].size, name
        assert _HUMAN_SIZE.match(row["size"]), row["size"]
        assert row["pulls"] == str(tags[name]["download"]), name


async def test_the_tags_show_media_times_and_immutability(page: Page) -> None:
    await visit(page, "/ui/r/acme/web")
    shown = await rows(page)
    assert {name: row["media"] for name, row in shown.items() if name != "scratch"} == {
        "v1": "image",
        "v2": "image",
        "multi": "index (linux/amd64, linux/arm64)",
    }
    assert {name: row["immutable"] for name, row in shown.items() if name != "scratch"} == {
        "v1": "immutable",
        "v2": "",
        "multi": "",
    }
    for name, row in shown.items():
        assert row["pushed_at"] and row["pushed_at"].endswith("Z"), (name, row)
        assert _EXACT_UTC.match(row["pushed_title"] or ""), (name, row)
        assert "ago" in row["pushed"] or "now" in row["pushed"], (name, row)  # relative, not the date
        assert row["pulled"] == "never" or (row["pulled_at"] or "").endswith("Z"), (name, row)
    assert (shown["v1"]["pulled_at"] or "").endswith("Z") and shown["v1"]["pulls"] == "1", shown["v1"]
    assert (shown["v2"]["pulled"], shown["v2"]["pulls"]) == ("never", "0")


async def test_starring_then_unstarring_changes_the_count(page: Page) -> None:
    await sign_in(page, "alice")
    await visit(page, "/ui/r/acme/web")
    before = int(await text(page, "#stars"))
    star = page.locator('form#star[method="post"][action="/ui/r/acme/web/-/star"]')
    assert await star.locator('input[type="hidden"][name="csrf"]').count() == 1
    assert await star.locator("button").inner_text() == "Star"
    async with page.expect_navigation():
        await star.locator("button").click()
    assert int(await text(page, "#stars")) == before + 1
    assert (await star.locator("button").inner_text()).strip() == "Unstar"
    async with page.expect_navigation():
        await star.locator("button").click()
    assert int(await text(page, "#stars")) == before
    assert (await star.locator("button").inner_text()).strip() == "Star"


async def test_the_readme_is_rendered_markdown_without_script_or_event_handlers(page: Page) -> None:
    await visit(page, "/ui/r/acme/web")
    found = await page.evaluate(
        """() => {
            const readme = document.querySelector('#readme');
            return {
                scripts: document.querySelectorAll('#readme script').length,
                handlers: [...readme.querySelectorAll('*')].filter(element =>
                    [...element.attributes].some(attribute => attribute.name.startsWith('on'))).length,
                onerror: document.querySelectorAll('[onerror]').length,
                heading: (readme.querySelector('h1, h2') || {}).textContent,
                items: [...readme.querySelectorAll('ul > li')].map(item => item.textContent.trim()),
            };
        }"""
    )
    assert found["scripts"] == 0 and found["handlers"] == 0 and found["onerror"] == 0, found
    assert "Web server image" in (found["heading"] or "")
    assert found["items"] == ["first point", "second point"]
    page_scripts = await page.eval_on_selector_all("script", "all => all.map(s => s.textContent)")
    assert not any("alert(1)" in script for script in page_scripts)


async def test_the_repository_page_screenshot_is_saved_as_an_artifact(page: Page, artifacts: Path) -> None:
    await page.set_viewport_size({"width": 1280, "height": 900})
    await visit(page, "/ui/r/acme/web")
    shot = artifacts / "repository-acme-web.png"
    shot.unlink(missing_ok=True)
    await page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank page compresses to a couple of KB; one with a header, a README and a table is larger.
    assert len(data) > 20_000, len(data)


# -- who sees what ----------------------------------------------------------------------------------
async def test_an_outsider_gets_the_not_found_page_for_a_private_repository(page: Page) -> None:
    await visit(page, "/ui/r/acme/secret", status=404)  # anonymous: the same
    await sign_in(page, "mallory")
    await visit(page, "/ui/r/acme/secret", status=404)
    hidden = await text(page, "h1")
    await visit(page, "/ui/r/acme/no-such-repository", status=404)
    assert hidden == await text(page, "h1") == "Not found"


async def test_a_member_sees_the_private_repository(page: Page) -> None:
    await sign_in(page, "alice")
    await visit(page, "/ui/r/acme/secret")
    assert await text(page, "#visibility") == "private"
    assert "v1" in await rows(page)


async def test_only_a_namespace_admin_gets_delete_links(
    page: Page, browser: Browser, catalogue: Catalogue
) -> None:
    await sign_in(page, "alice")
    await visit(page, "/ui/r/acme/web")
    assert {row["delete"] for row in (await rows(page)).values()} == {None}
    admin = await new_page(catalogue, browser)
    try:
        await sign_in(admin, "carol")
        await visit(admin, "/ui/r/acme/web")
        links = {name: row["delete"] for name, row in (await rows(admin)).items()}
        assert links["v2"] == "/ui/r/acme/web/-/tags/v2/delete"
    finally:
        await admin.context.close()


async def test_deleting_an_immutable_tag_is_refused_409_with_the_reason(
    page: Page, catalogue: Catalogue
) -> None:
    await sign_in(page, "carol")
    await visit(page, "/ui/r/acme/web/-/tags/v1/delete")
    confirm = page.locator('form#confirm-delete[method="post"]')
    if await confirm.count():  # a confirmation to submit: its answer is the refusal
        async with page.expect_navigation() as navigation:
            await confirm.locator("button").click()
        response = await navigation.value
        assert response is not None and response.status == 409
    assert "immutable" in await text(page, ".error")
    # The POST itself, with the session and a valid csrf (as a form that skipped the page would send)
    csrf = await page.locator('form#sign-out input[name="csrf"]').get_attribute("value")
    refused = await page.context.request.post(
        "/ui/r/acme/web/-/tags/v1/delete",
        form={"csrf": csrf or ""},
        headers={"Origin": catalogue.url},
        max_redirects=0,
    )
    assert refused.status == 409, await refused.text()
    assert "immutable" in await refused.text()
    await visit(page, "/ui/r/acme/web")
    assert "v1" in await rows(page)


async def test_deleting_a_tag_after_confirming_removes_it(page: Page, catalogue: Catalogue) -> None:
    await sign_in(page, "carol")
    await visit(page, "/ui/r/acme/web")
    async with page.expect_navigation():
        await page.locator('tr[data-tag="scratch"] a.delete-tag').click()
    assert await page.locator('form#confirm-delete input[type="hidden"][name="csrf"]').count() == 1
    async with page.expect_navigation():
        await page.locator('form#confirm-delete[method="post"] button').click()
    await visit(page, "/ui/r/acme/web")
    assert "scratch" not in await rows(page)
    assert "scratch" not in catalogue.v1_tags()


async def test_the_namespaces_page_lists_members_and_shows_rules_to_admins_only(
    page: Page, browser: Browser, catalogue: Catalogue
) -> None:
    await sign_in(page, "alice")
    await visit(page, "/ui/namespaces")
    assert await page.locator('#namespaces li[data-namespace="acme"] a[href="/ui/n/acme"]').count() == 1
    await visit(page, "/ui/n/acme")
    assert await text(page, '#members tr[data-user="alice"] td.role') == "member"
    assert await text(page, '#members tr[data-user="carol"] td.role') == "admin"
    assert await page.locator("#retention, #immutability").count() == 0
    admin = await new_page(catalogue, browser)
    try:
        await sign_in(admin, "carol")
        await visit(admin, "/ui/n/acme")
        assert await admin.locator("#retention").count() == 1
        assert "v1" in await text(admin, "#immutability")
    finally:
        await admin.context.close()


# -- phone, keyboard, size, hosts ---------------------------------------------------------------------
async def test_the_list_page_has_no_horizontal_scroll_at_phone_width(
    browser: Browser, catalogue: Catalogue
) -> None:
    phone = await new_page(catalogue, browser, viewport={"width": 390, "height": 844})
    try:
        await visit(phone, "/ui/")
        assert await listed(phone), "nothing listed"
        assert await phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        await phone.context.close()


async def test_tab_reaches_the_search_box_then_the_first_repository_link(page: Page) -> None:
    await visit(page, "/ui/")
    first_link = await page.locator("#repositories li.repository a").first.get_attribute("href")
    reached: list[str] = []
    for _ in range(40):
        await page.keyboard.press("Tab")
        reached.append(
            await page.evaluate(
                """() => { const e = document.activeElement;
                    return e.matches('input[type=search][name=q]') ? 'search'
                        : e.closest('#repositories') ? 'repository:' + e.getAttribute('href')
                        : e.tagName; }"""
            )
        )
        if reached[-1].startswith("repository:"):
            break
    assert "search" in reached, reached
    assert reached[-1] == f"repository:{first_link}", reached
    assert reached.index("search") < len(reached) - 1


def test_every_page_is_under_100_kb(catalogue: Catalogue) -> None:
    with http(catalogue) as client:
        signed = client.post("/ui/login", data=login_form(client, username="carol"))
        assert signed.status_code == 303, signed.text
        for path in (
            "/ui/",
            "/ui/login",
            "/ui/r/acme/web",
            "/ui/namespaces",
            "/ui/n/acme",
            "/ui/r/acme/web/-/tags/v2/delete",
        ):
            served = client.get(path)
            assert served.status_code == 200, (path, served.status_code)
            assert len(served.content) < MAX_PAGE_BYTES, (path, len(served.content))


async def test_no_page_requested_another_host(browser: Browser, catalogue: Catalogue) -> None:
    """Last in the module, so the log holds every request of every page the tests above opened; it
    opens each kind of page itself too, so run alone it still checks something."""
    visitor = await new_page(catalogue, browser)
    try:
        await sign_in(visitor, "carol")
        for path in ("/ui/", "/ui/r/acme/web", "/ui/namespaces", "/ui/n/acme"):
            await visit(visitor, path)
            await visitor.wait_for_load_state("networkidle")
    finally:
        await visitor.context.close()
    assert any(url.startswith(f"{catalogue.url}/ui/r/acme/web") for url in catalogue.requests)
    assert foreign(catalogue) == []
