"""The web catalogue's pages in process, on both databases: what each viewer sees (the one access
policy: an outsider's private repository is the missing page), signing in and out, and every form's
refusal when it did not come from our pages."""

from __future__ import annotations

import re

import httpx
import pytest

from repohub.app import create_app
from repohub.domain.entities import Role
from tests.api.ui.conftest import Browser, browser_of
from tests.immutable_rules import add_rule, rule
from tests.ops.test_abuse import app_with
from tests.world import PASSWORD, World

_LISTED = re.compile(r'<li class="repository" data-path="([^"]+)"')


def listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return _LISTED.findall(page.text)


def session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("repohub_session="):
            return header
    return None


async def test_an_anonymous_visitor_lists_the_public_repositories_only(browser, catalogue):
    page = await browser.get("/ui/")
    assert listed(page) == ["acme/web"]
    assert 'id="sign-in"' in page.text and 'id="whoami"' not in page.text


async def test_a_member_lists_the_private_repositories_of_its_namespace_too(browser, catalogue):
    assert (await browser.sign_in("alice")).status_code == 303
    assert sorted(listed(await browser.get("/ui/"))) == ["acme/secret", "acme/web"]


async def test_the_search_box_is_the_fuzzy_name_filter(browser, catalogue):
    await browser.sign_in("alice")
    assert listed(await browser.get("/ui/", params={"q": "EC"})) == ["acme/secret"]
    assert listed(await browser.get("/ui/", params={"q": "nothing-like-it"})) == []
    page = await browser.get("/ui/")
    assert '<input type="search" name="q"' in page.text


async def test_filters_narrow_the_list_by_namespace_category_and_visibility(browser, catalogue):
    await browser.sign_in("alice")
    assert listed(await browser.get("/ui/", params={"visibility": "private"})) == ["acme/secret"]
    assert listed(await browser.get("/ui/", params={"visibility": "public"})) == ["acme/web"]
    assert listed(await browser.get("/ui/", params={"namespace": "alice"})) == []
    acme = listed(await browser.get("/ui/", params={"namespace": "acme"}))
    assert sorted(acme) == ["acme/secret", "acme/web"]
    assert listed(await browser.get("/ui/", params={"category": "linux"})) == []


async def test_sorting_by_name_tags_and_pulls(browser, catalogue: World):
    await catalogue.repository("acme/alpha", by="carol", public=True)
    for name in ("a", "b", "c"):
        await catalogue.tag("acme/alpha", name)
    by_name = listed(await browser.get("/ui/", params={"sort": "name"}))
    assert by_name == ["acme/alpha", "acme/web"]
    assert listed(await browser.get("/ui/", params={"sort": "tags"})) == ["acme/alpha", "acme/web"]
    assert set(listed(await browser.get("/ui/", params={"sort": "pulls"}))) == {"acme/alpha", "acme/web"}


@pytest.mark.parametrize(
    "params",
    [{"sort": "stars"}, {"page": "0"}, {"page": "x"}, {"category": "bogus"}, {"visibility": "secret"},
     {"q": "a" * 300}],
)  # fmt: skip
async def test_a_bad_list_parameter_is_a_400_page(browser, catalogue, params):
    page = await browser.get("/ui/", params=params)
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")
    assert '<p class="error"' in page.text


async def test_signing_in_sets_an_httponly_lax_session_cookie(browser, catalogue):
    answer = await browser.sign_in("carol")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = session_cookie(answer)
    assert cookie is not None
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
    assert "Secure" not in cookie  # plain http here
    assert '<span id="whoami">carol</span>' in (await browser.get("/ui/")).text


async def test_the_session_cookie_is_secure_over_https(app, catalogue):
    browser = await browser_of(app, "https://testserver")
    async with browser.http:
        cookie = session_cookie(await browser.sign_in("carol"))
        assert cookie is not None and "Secure" in cookie


async def test_signing_in_returns_to_a_local_page_only(browser, catalogue):
    back = await browser.submit(
        "/ui/login", {"username": "carol", "password": PASSWORD, "next": "/ui/r/acme/web"}
    )
    assert back.headers["location"] == "/ui/r/acme/web"
    for elsewhere in ("https://evil.example/", "//evil.example/ui/", "/ui/..//evil", "/docs"):
        fields = {"username": "carol", "password": PASSWORD, "next": elsewhere}
        answer = await browser.submit("/ui/login", fields)
        assert answer.headers["location"] == "/ui/", elsewhere


async def test_a_wrong_password_is_a_401_page_and_no_session(browser, catalogue):
    answer = await browser.sign_in("carol", "not-the-password")
    assert answer.status_code == 401 and session_cookie(answer) is None
    assert 'class="error"' in answer.text and 'id="login"' in answer.text
    unknown = await browser.sign_in("nobody-at-all")
    assert unknown.status_code == 401 and unknown.text.count("Wrong username or password") == 1


async def test_a_forged_sign_in_form_is_refused_and_signs_nobody_in(browser, catalogue):
    await browser.get("/ui/login")  # the browser holds a CSRF cookie, as a victim's would
    credentials = {"username": "carol", "password": PASSWORD}
    forged = [
        await browser.http.post("/ui/login", data=credentials),  # no token
        await browser.http.post("/ui/login", data={**credentials, "csrf": "0" * 32}),  # a wrong one
        await browser.http.post("/ui/login", json={**credentials, "csrf": await browser.csrf()}),
    ]
    token = await browser.csrf()
    forged.append(
        await browser.http.post(
            "/ui/login", data={**credentials, "csrf": token}, headers={"Origin": "http://evil.example"}
        )
    )
    forged.append(
        await browser.http.post(
            "/ui/login", data={**credentials, "csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}
        )
    )
    for answer in forged:
        assert answer.status_code == 403, answer.text
        assert session_cookie(answer) is None
        assert (
            "did not come from this site" in answer.text
            or "another site" in answer.text
            or ("urlencoded" in answer.text)
        )
    assert 'id="whoami"' not in (await browser.get("/ui/")).text


async def test_a_token_from_another_browser_is_refused(app, browser, catalogue):
    other = await browser_of(app)
    async with other.http:
        stolen = await other.csrf()
    await browser.get("/ui/login")
    fields = {"username": "carol", "password": PASSWORD, "csrf": stolen}
    answer = await browser.http.post("/ui/login", data=fields)
    assert answer.status_code == 403 and session_cookie(answer) is None


async def test_signing_out_ends_the_session_everywhere(browser, catalogue):
    await browser.sign_in("carol")
    kept = browser.http.cookies.get("repohub_session")
    assert kept
    out = await browser.submit("/ui/logout", {}, page="/ui/")
    assert out.status_code == 303
    assert 'id="sign-in"' in (await browser.get("/ui/")).text
    # The revoked token signs nobody in, even sent again as a copied cookie.
    browser.http.cookies.set("repohub_session", kept, path="/ui")
    page = await browser.get("/ui/")
    assert 'id="whoami"' not in page.text and listed(page) == ["acme/web"]


async def test_an_outsiders_view_of_a_private_repository_is_the_missing_page(browser, catalogue):
    await browser.sign_in("mallory")
    hidden = await browser.get("/ui/r/acme/secret")
    missing = await browser.get("/ui/r/acme/no-such-repository")
    assert hidden.status_code == missing.status_code == 404
    assert "<h1>Not found</h1>" in hidden.text
    assert hidden.text.replace("secret", "X") == missing.text.replace("no-such-repository", "X")
    assert (await browser.get("/ui/r/acme/secret/-/tags/latest/delete")).status_code == 404
    # acme itself is no secret (acme/web is public): its access list is a plain refusal.
    assert (await browser.get("/ui/n/acme")).status_code == 403


async def test_a_repository_page_shows_its_readme_pull_command_and_tags(browser, catalogue):
    page = await browser.get("/ui/r/acme/web")
    assert page.status_code == 200
    assert '<code id="pull-command">docker pull registry.example.test/acme/web:v2</code>' in page.text
    assert "<h1>Web</h1>" in page.text and "<li>fast</li>" in page.text
    assert '<td class="size" data-bytes="1536">1.5 KiB</td>' in page.text
    assert '<td class="size" data-bytes="3145728">3.0 MiB</td>' in page.text
    assert 'id="star"' not in page.text  # nobody to star as
    assert len(page.content) < 100_000
    assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_starring_and_unstarring(browser, catalogue):
    await browser.sign_in("alice")
    starred = await browser.submit("/ui/r/acme/web/-/star", {"starred": "1"}, page="/ui/r/acme/web")
    assert starred.status_code == 303 and starred.headers["location"] == "/ui/r/acme/web"
    page = (await browser.get("/ui/r/acme/web")).text
    assert '<span id="stars">1</span>' in page and ">Unstar</button>" in page
    await browser.submit("/ui/r/acme/web/-/star", {"starred": "0"}, page="/ui/r/acme/web")
    page = (await browser.get("/ui/r/acme/web")).text
    assert '<span id="stars">0</span>' in page and ">Star</button>" in page


async def test_a_forged_star_changes_nothing(browser, catalogue):
    await browser.sign_in("alice")
    forged = await browser.http.post("/ui/r/acme/web/-/star", data={"starred": "1"})
    assert forged.status_code == 403
    assert '<span id="stars">0</span>' in (await browser.get("/ui/r/acme/web")).text


async def test_admins_delete_a_tag_after_confirming(browser, catalogue: World):
    await browser.sign_in("carol")
    page = (await browser.get("/ui/r/acme/web")).text
    assert 'href="/ui/r/acme/web/-/tags/v2/delete"' in page
    confirm = await browser.get("/ui/r/acme/web/-/tags/v2/delete")
    assert 'id="confirm-delete"' in confirm.text
    path = "/ui/r/acme/web/-/tags/v2/delete"
    deleted = await browser.submit(path, {}, page=path)
    assert deleted.status_code == 303
    assert 'data-tag="v2"' not in (await browser.get("/ui/r/acme/web")).text


async def test_members_may_not_delete_tags(browser, catalogue):
    await browser.sign_in("alice")
    assert "delete-tag" not in (await browser.get("/ui/r/acme/web")).text
    assert (await browser.get("/ui/r/acme/web/-/tags/v2/delete")).status_code == 403
    refused = await browser.submit("/ui/r/acme/web/-/tags/v2/delete", {}, page="/ui/r/acme/web")
    assert refused.status_code == 403
    assert 'data-tag="v2"' in (await browser.get("/ui/r/acme/web")).text


async def test_an_immutable_tag_is_refused_with_the_reason(app, browser, catalogue):
    rule_id = await add_rule(app, "acme", rule("v1", "web"))
    await browser.sign_in("carol")
    page = (await browser.get("/ui/r/acme/web")).text
    assert re.search(r'<tr data-tag="v1">.*?<td class="immutable">immutable</td>', page, re.S)
    assert re.search(r'<tr data-tag="v2">.*?<td class="immutable"></td>', page, re.S)
    confirm = await browser.get("/ui/r/acme/web/-/tags/v1/delete")
    assert "is immutable" in confirm.text and f"rule {rule_id}" in confirm.text
    assert 'id="confirm-delete"' not in confirm.text
    refused = await browser.submit("/ui/r/acme/web/-/tags/v1/delete", {}, page="/ui/r/acme/web")
    assert refused.status_code == 409 and "immutable" in refused.text
    assert 'data-tag="v1"' in (await browser.get("/ui/r/acme/web")).text


async def test_namespaces_show_members_to_members_and_rules_to_admins(app, browser, catalogue):
    await add_rule(app, "acme", rule("release-*", "**"))
    await browser.sign_in("alice")
    mine = await browser.get("/ui/namespaces")
    assert 'data-namespace="acme"' in mine.text and 'data-namespace="alice"' in mine.text
    seen = (await browser.get("/ui/n/acme")).text
    assert re.search(r'<tr data-user="carol">.*?<td class="role">admin</td>', seen)
    assert 'id="immutability"' not in seen
    await browser.submit("/ui/logout", {}, page="/ui/")
    await browser.sign_in("carol")
    administered = (await browser.get("/ui/n/acme")).text
    assert 'id="immutability"' in administered and "release-*" in administered


async def test_anonymous_namespaces_send_to_sign_in(browser, catalogue):
    answer = await browser.get("/ui/namespaces")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")


async def test_the_sign_in_form_is_limited_as_the_api_login_is(settings, catalogue):
    async with app_with(settings, login_rate_per_client=3) as http:
        browser = Browser(http)
        for _ in range(3):
            assert (await browser.sign_in("carol", "wrong")).status_code == 401
        limited = await browser.sign_in("carol")
        assert limited.status_code == 429 and session_cookie(limited) is None
        assert limited.headers["content-type"].startswith("text/html")


async def test_assets_are_served_by_repohub_itself(browser, catalogue):
    page = (await browser.get("/ui/")).text
    for asset in re.findall(r'(?:href|src)="(/ui/static/[^"]+)"', page):
        answer = await browser.get(asset)
        assert answer.status_code == 200 and "immutable" in answer.headers["cache-control"]
    assert re.findall(r'(?:href|src)="(https?:)?//', page) == []
    assert (await browser.get("/ui/static/nope.css")).status_code == 404


async def test_a_site_admin_sees_every_namespace_and_may_act_in_it(browser, catalogue: World):
    await catalogue.account("root", admin=True)
    await browser.sign_in("root")
    assert sorted(listed(await browser.get("/ui/"))) == ["acme/secret", "acme/web"]
    assert (await browser.get("/ui/n/acme")).status_code == 200
    assert (await browser.get("/ui/r/acme/secret")).status_code == 200


async def test_a_viewer_in_the_namespace_reads_but_may_not_star_anonymous(browser, catalogue: World):
    await catalogue.account("vera")
    await catalogue.member("acme", "vera", Role.VIEWER)
    await browser.sign_in("vera")
    assert (await browser.get("/ui/r/acme/secret")).status_code == 200


async def test_admins_read_the_retention_policies_of_their_repositories(browser, catalogue: World):
    policy = {
        "algorithm": "or",
        "rules": [{"template": "tag_rule", "params": {"num": "3"}, "tag_selectors": [
            {"kind": "regexp", "pattern": "^release-"}]}],
    }  # fmt: skip
    async with catalogue.service("carol") as service:
        await service.retentions.create(await service.catalog.repository("acme", "web"), policy)
    await browser.sign_in("carol")
    for path in ("/ui/n/acme", "/ui/r/acme/web"):
        page = (await browser.get(path)).text
        assert "keep the 3 most recently pushed tags, delete the rest; never tags matching regexp" in page
        assert "<code>^release-</code>" in page and "<form" not in page.split('id="retention"')[1]
    await browser.submit("/ui/logout", {}, page="/ui/")
    await browser.sign_in("alice")  # a member: the API would show it, the pages keep it to admins
    assert 'id="retention"' not in (await browser.get("/ui/n/acme")).text
    assert 'id="retention"' not in (await browser.get("/ui/r/acme/web")).text


async def test_a_tag_sharing_its_image_with_an_immutable_one_shows_why_it_stays(app, browser, catalogue):
    # The registry deletes images, not tags: deleting alias would delete prod, which a rule protects.
    await catalogue.tag("acme/web", "prod", digest="sha256:" + "ab" * 32, creator="carol")
    await catalogue.tag("acme/web", "alias", digest="sha256:" + "ab" * 32, creator="carol")
    await add_rule(app, "acme", rule("prod", "web"))
    await browser.sign_in("carol")
    page = (await browser.get("/ui/r/acme/web")).text
    shown = r'<tr data-tag="alias">.*?<td class="immutable">shares its image with immutable'
    assert re.search(shown, page, re.S)
    confirm = await browser.get("/ui/r/acme/web/-/tags/alias/delete")
    assert "shares its image with immutable tag" in confirm.text and 'id="confirm-delete"' not in confirm.text


async def test_a_repository_named_like_an_action_has_its_own_page(browser, catalogue: World):
    await catalogue.repository("acme/app/tags/v1/delete", by="carol", public=True)
    await catalogue.repository("acme/app/star", by="carol", public=True)
    for path in ("/ui/r/acme/app/tags/v1/delete", "/ui/r/acme/app/star"):
        answer = await browser.get(path)
        assert answer.status_code == 200 and f"<h1>{path.split('/', 4)[4]}</h1>" in answer.text, path


async def test_a_page_past_the_end_links_to_the_last(browser, catalogue):
    past = await browser.get("/ui/", params={"page": "9"})
    assert past.status_code == 200 and listed(past) == []
    assert "Page 9 is past the end" in past.text and 'rel="prev"' not in past.text
    tags = await browser.get("/ui/r/acme/web", params={"tags_page": "5"})
    assert "Page 5 is past the end" in tags.text
    # The pull command names the newest tag on every page of tags.
    assert "docker pull registry.example.test/acme/web:v2<" in tags.text


async def test_a_long_readme_is_cut_and_the_page_stays_small(browser, catalogue: World):
    await catalogue.repository("acme/long", by="carol", public=True, full_description="![" * 50_000)
    answer = await browser.get("/ui/r/acme/long")
    assert answer.status_code == 200 and len(answer.content) < 100_000
    assert "The description goes on" in answer.text


async def test_the_csrf_token_is_bound_to_the_session_and_renewed_at_sign_in(browser, catalogue):
    anonymous_token = await browser.csrf()
    answer = await browser.sign_in("alice")
    assert any(h.startswith("repohub_csrf=") for h in answer.headers.get_list("set-cookie"))
    # The form of a page read before signing in is no good after it.
    stale = await browser.http.post("/ui/r/acme/web/-/star", data={"starred": "1", "csrf": anonymous_token})
    assert stale.status_code == 403
    assert (await browser.submit("/ui/r/acme/web/-/star", {"starred": "1"}, page="/ui/")).status_code == 303


async def test_signing_in_again_ends_the_previous_session(browser, catalogue):
    await browser.sign_in("alice")
    first = browser.http.cookies.get("repohub_session")
    await browser.sign_in("carol")
    browser.http.cookies.set("repohub_session", first, path="/ui")
    assert 'id="whoami"' not in (await browser.get("/ui/")).text


async def test_the_public_url_is_an_origin_of_ours_behind_an_untrusted_proxy(settings, catalogue):
    # A proxy repohub does not trust serves https://hub.example; repohub sees its own host only.
    application = create_app(settings.model_copy(update={"public_url": "https://hub.example"}))
    async with application.router.lifespan_context(application):
        browser = await browser_of(application, "https://internal:8000")
        async with browser.http as http:
            token = await browser.csrf()
            fields = {"username": "carol", "password": PASSWORD, "csrf": token}
            answer = await http.post("/ui/login", data=fields, headers={"Origin": "https://hub.example"})
            assert answer.status_code == 303
            cookie = session_cookie(answer)
            assert cookie is not None and "Secure" in cookie
            other = await http.post("/ui/login", data=fields, headers={"Origin": "https://hub.example.evil"})
            assert other.status_code == 403 and "FORWARDED_ALLOW_IPS" in other.text
        # Over the proxy's plain http leg too, the cookies are for an https site: Secure.
        plain = await browser_of(application, "http://internal:8000")
        async with plain.http as http:
            form = await http.get("/ui/login")
            assert "Secure" in form.headers["set-cookie"] and "repohub_csrf=" in form.headers["set-cookie"]


async def test_namespaces_are_paged_by_name(browser, catalogue: World):
    for number in range(105):
        await catalogue.org(f"team{number:03d}", members={"alice": Role.VIEWER})
    await browser.sign_in("alice")
    first = (await browser.get("/ui/namespaces")).text
    names = re.findall(r'data-namespace="([^"]+)"', first)
    assert len(names) == 100 and names == sorted(names)
    following = re.search(r'rel="next" href="([^"]+)"', first)
    assert following
    rest = re.findall(r'data-namespace="([^"]+)"', (await browser.get(following.group(1))).text)
    assert set(names) | set(rest) == {"acme", "alice", *(f"team{n:03d}" for n in range(105))}
    assert not set(names) & set(rest)


async def test_admins_add_change_and_remove_members_and_keep_an_admin(browser, catalogue: World):
    await catalogue.account("nina")
    await browser.sign_in("carol")
    page = "/ui/n/acme"
    assert (
        await browser.submit("/ui/n/acme/-/members", {"username": "nina", "role": "viewer"}, page=page)
    ).status_code == 303
    shown = (await browser.get(page)).text
    assert re.search(r'<tr data-user="nina">.*?<td class="role">viewer</td>', shown, re.S)
    await browser.submit("/ui/n/acme/-/members/nina", {"role": "member"}, page=page)
    assert re.search(
        r'<tr data-user="nina">.*?<td class="role">member</td>', (await browser.get(page)).text, re.S
    )
    await browser.submit("/ui/n/acme/-/members/nina/remove", {}, page=page)
    assert 'data-user="nina"' not in (await browser.get(page)).text
    # The namespace keeps an admin: carol cannot demote or remove herself, the last one.
    refused = await browser.submit("/ui/n/acme/-/members/carol", {"role": "viewer"}, page=page)
    assert refused.status_code == 409 and "at least one admin" in refused.text
    assert (await browser.submit("/ui/n/acme/-/members/carol/remove", {}, page=page)).status_code == 409
    bad = await browser.submit("/ui/n/acme/-/members/alice", {"role": "owner"}, page=page)
    assert bad.status_code == 400


async def test_members_read_the_access_list_but_may_not_change_it(browser, catalogue: World):
    await browser.sign_in("alice")
    page = (await browser.get("/ui/n/acme")).text
    assert 'id="add-member"' not in page and "member-role" not in page
    refused = await browser.submit("/ui/n/acme/-/members/carol", {"role": "viewer"}, page="/ui/n/acme")
    assert refused.status_code == 403
    forged = await browser.http.post("/ui/n/acme/-/members", data={"username": "alice", "role": "admin"})
    assert forged.status_code == 403
    assert re.search(
        r'<tr data-user="alice">.*?<td class="role">member</td>', (await browser.get("/ui/n/acme")).text, re.S
    )
