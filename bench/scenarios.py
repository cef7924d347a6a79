"""The issue's scenarios: which request, which wrk script, which route must exist to run it."""

from __future__ import annotations

import base64
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from bench.dataset import ADMIN_USER, BENCH_USER, Dataset
from repohub.auth.registry_token import Scope, SigningKey, issue_token

LUA = Path(__file__).resolve().parent / "lua"
EVENTS_PER_ENVELOPE = 100
REGISTRY_SERVICE = "repohub-registry"
EVENTS_SECRET = "repohub-bench-events-secret"  # REPOHUB_REGISTRY_EVENTS_SECRET of the served app


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    method: str
    route: str  # OpenAPI path template that must exist in the app, else "endpoint missing"
    path: str  # request path template ({ns}, {hex}, {repo}, {ns_id}, {repo_id})
    script: str  # file in bench/lua (or "floor:swr_list.lua", the yardstick's own script)
    auth: str = "header"  # "header" (below, {token} filled in), "basic" (API token as password), "none"
    header: str = ""  # "Name: value" with {token}
    body: str = ""  # create_repo: JSON with {name}
    units: int = 1  # work items per request (events per envelope)
    # Concurrency when not wrk's default: Distribution delivers an endpoint's notifications one
    # envelope at a time, so a handful of senders (registry replicas) is the realistic load for 6.
    connections: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str = BENCH_USER  # whose API token it sends: the member of every namespace, or ADMIN_USER
    # False for a page the OpenAPI document leaves out (the web catalogue's /ui/): its route is looked
    # for among the app's own routes instead (``route_exists``).
    in_schema: bool = True


MIDDLE = "{middle}"  # the repository id at half the dataset: v3_marker's marker (``with_middle``)
UI_COOKIE = "Cookie: repohub_session={token}"
SELECTED_TAG = "release-0.1"  # bench/dataset.rule_rows: rule 0 of every namespace selects it
SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthz", "GET /healthz (trivial endpoint, reference for 5)", "get", "/healthz",
             "/healthz", "get.lua", auth="none"),
    Scenario("swr_list", "1. SWR list page, 20 of a namespace", "get", "/v2/manage/repos",
             "/v2/manage/repos?namespace={ns}&limit=20&offset=0", "floor:swr_list.lua",
             header="X-Auth-Token: {token}", env={"LIMIT": "20"}),
    # The first page a site admin's SWR console opens: every repository visible, no filter. Issue 19:
    # 834 ms at 1M when it counted and sorted every row; an index on the order is meant to make it a
    # top-N scan, flat in the size.
    Scenario("swr_admin", "1a. SWR unfiltered page, site admin", "get", "/v2/manage/repos",
             "/v2/manage/repos?limit=20&offset=0", "get.lua", header="X-Auth-Token: {token}",
             user=ADMIN_USER),
    # The same page for a member: its visibility (public, its namespaces, grants, shares) is in the
    # WHERE, so the index scan must skip what it may not see; the bench user belongs to every
    # namespace, the worst case of the membership join.
    Scenario("swr_member", "1b. SWR unfiltered page, member of every namespace", "get",
             "/v2/manage/repos", "/v2/manage/repos?limit=20&offset=0", "get.lua",
             header="X-Auth-Token: {token}"),
    # The sorts the SWR console offers (``order_column``, api/swr/filters.REPO_ORDER_COLUMNS) as a
    # member, each meant to walk its own index: by name (explicit, though repohub's default order
    # is the same today) and by tag count, most first (every bench repository has the same count,
    # so the id breaks every tie: the order's second key is read too).
    Scenario("swr_by_name", "1c. SWR unfiltered page, sorted by name", "get", "/v2/manage/repos",
             "/v2/manage/repos?limit=20&offset=0&order_column=name&order_type=asc", "get.lua",
             header="X-Auth-Token: {token}"),
    Scenario("swr_by_tags", "1d. SWR unfiltered page, sorted by tag count", "get", "/v2/manage/repos",
             "/v2/manage/repos?limit=20&offset=0&order_column=tag_count&order_type=desc", "get.lua",
             header="X-Auth-Token: {token}"),
    Scenario("swr_fuzzy", "2. SWR list, fuzzy name, all namespaces", "get", "/v2/manage/repos",
             "/v2/manage/repos?name={hex}&limit=20&offset=0", "get.lua", header="X-Auth-Token: {token}"),
    # Scenario 2 with its answer held to one repository at every size: a random 4-hex fragment matches
    # ~0.5 names at 10k and ~46 at 1M, so 2's pages grow from empty to full with the data. This one
    # isolates what the table's size alone costs (the index), the growth target's concern.
    Scenario("swr_fuzzy_known", "2. SWR list, fuzzy name, a known repository's 6 hex", "get",
             "/v2/manage/repos", "/v2/manage/repos?name={tail}&limit=20&offset=0", "sample_get.lua",
             header="X-Auth-Token: {token}"),
    Scenario("v1_list", "3. v1 list page (20)", "get", "/v1/repositories/{namespace}",
             "/v1/repositories/{ns}/?page=1&page_size=20", "get.lua", header="Authorization: Token {token}"),
    Scenario("v1_detail", "3. v1 repository detail", "get", "/v1/repositories/{namespace}/{repo_name}",
             "/v1/repositories/{ns}/{repo}", "sample_get.lua", header="Authorization: Token {token}"),
    # The tags half of the web catalogue's repository page (``ui_repo``), beside the detail above.
    Scenario("v1_tags", "3. v1 tags of a repository", "get",
             "/v1/repositories/{namespace}/{repo_name}/tags", "/v1/repositories/{ns}/{repo}/tags",
             "sample_get.lua", header="Authorization: Token {token}"),
    # ABEJA's list of an organization's repositories (by name, as its router asks), beside its tags
    # page: the same namespace page as v1's, rendered by another dialect.
    Scenario("abeja_list", "3. ABEJA repository list page (20)", "get",
             "/organizations/{organization_id}/registry/repositories",
             "/organizations/{ns_id}/registry/repositories?limit=20&offset=0", "sample_get.lua",
             header="Authorization: Bearer {token}"),
    Scenario("abeja_tags", "3. ABEJA tags page", "get",
             "/organizations/{organization_id}/registry/repositories/{repository_id}/tags",
             "/organizations/{ns_id}/registry/repositories/{repo_id}/tags?limit=20", "sample_get.lua",
             header="Authorization: Bearer {token}"),
    Scenario("create_repo", "4. create repository (v1 POST)", "post", "/v1/repositories/{namespace}",
             "/v1/repositories/{ns}/", "create_repo.lua", header="Authorization: Token {token}",
             body='{"repo_name": "{name}", "description": "bench"}'),
    Scenario("registry_token", "5. registry token, API-token Basic, pull+push", "get", "/registry/token",
             f"/registry/token?service={REGISTRY_SERVICE}&scope=repository:{{ns}}/{{repo}}:pull,push",
             "sample_get.lua", auth="basic"),
    Scenario("registry_events", "6. registry events, 100 pulls an envelope", "post", "/registry/events",
             "/registry/events", "post_lines.lua", header=f"Authorization: Bearer {EVENTS_SECRET}",
             units=EVENTS_PER_ENVELOPE, connections=4),
    # What nginx asks before every manifest PUT (``repohub proxy config``): the repository's own push
    # token verified, then the one read of its namespace's 15 rules and the tag (bench/dataset.py).
    Scenario("push_check", "7. push check, manifest PUT, 15 rules in the namespace", "get",
             "/registry/push-check", "/registry/push-check", "push_check.lua", auth="none"),
    # The same where a rule selects the tag (rule 0 of each namespace, release-0.* on **): the tag is
    # read to know whether it exists (it does not: a first push, 204).
    Scenario("push_check_selected", "7. push check, manifest PUT of a tag a rule selects", "get",
             "/registry/push-check", "/registry/push-check", "push_check.lua", auth="none",
             env={"PUSH_TAG": SELECTED_TAG}),
    # SWR v3's keyset page at the issue's depth: the marker is the id at half the dataset (500,000 at
    # 1M), where an offset page would read and drop every row before it (``store.keyset``).
    Scenario("v3_marker", "8. SWR v3 marker page, 20 after the middle id", "get", "/v3/manage/repos",
             f"/v3/manage/repos?marker={MIDDLE}&limit=20", "get.lua", header="X-Auth-Token: {token}"),
    # Issue 20's pages, each after the API call it is to be as fast as (``UI_PAIRS``), as the bench
    # user: its API token is accepted as the session cookie's value (``principal_of_token``).
    Scenario("ui_list", "20. web list page, one namespace", "get", "/ui/", "/ui/?namespace={ns}",
             "get.lua", header=UI_COOKIE, in_schema=False),
    Scenario("ui_member", "20. web list page, unfiltered (by updated), member", "get", "/ui/", "/ui/",
             "get.lua", header=UI_COOKIE, in_schema=False),
    Scenario("ui_by_name", "20. web list page, unfiltered, sorted by name", "get", "/ui/",
             "/ui/?sort=name", "get.lua", header=UI_COOKIE, in_schema=False),
    Scenario("ui_fuzzy", "20. web list page, search box (fuzzy name)", "get", "/ui/", "/ui/?q={hex}",
             "get.lua", header=UI_COOKIE, in_schema=False),
    Scenario("ui_pulls", "20. web list page, unfiltered, sorted by pulls", "get", "/ui/",
             "/ui/?sort=pulls", "get.lua", header=UI_COOKIE, in_schema=False),
    Scenario("ui_repo", "20. web repository page with its tags", "get", "/ui/r/{namespace}/{name}",
             "/ui/r/{ns}/{repo}", "sample_get.lua", header=UI_COOKIE, in_schema=False),
    Scenario("ui_anonymous", "20. web list page, anonymous (public only)", "get", "/ui/", "/ui/",
             "get.lua", auth="none", in_schema=False),
)  # fmt: skip
PUSH_CHECKS = ("push_check", "push_check_selected")
BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}
# The list pages of issue 19's growth target (1M within 1.5x of 10k) and of ``python -m bench.plans``;
# a key starting with "v3_" counts too (the v3 marker page, a scenario of the keyset work).
LIST_PAGES = ("swr_list", "swr_admin", "swr_member", "swr_by_name", "swr_by_tags", "swr_fuzzy",
              "swr_fuzzy_known", "v1_list", "abeja_list", "abeja_tags")  # fmt: skip
# The first pages across namespaces that the target holds to 3x the namespace page (at 20 x 1,000).
UNFILTERED_PAGES = ("swr_admin", "swr_member", "swr_by_name", "swr_by_tags")


# Each web catalogue page → the API call it is to be as fast as (issue 20), measured in the same
# invocation. The pulls order and the anonymous page have no API twin: they are held to the member's
# unfiltered SWR page, the read they share (visibility in the WHERE, a top-N walk of an index).
UI_PAIRS = {"ui_list": "swr_list", "ui_member": "swr_member", "ui_by_name": "swr_by_name",
            "ui_fuzzy": "swr_fuzzy", "ui_pulls": "swr_member", "ui_repo": "v1_detail",
            "ui_anonymous": "swr_member"}  # fmt: skip


def is_list_page(key: str) -> bool:
    return key in LIST_PAGES or key.startswith("v3_")


def push_tokens(dataset: Dataset, key: SigningKey, count: int) -> list[str]:
    """``ns repo token`` lines for ``push_check.lua``: registry tokens signed with the served app's key,
    each granting pull and push on its repository (of the namespaces holding 15 rules)."""
    lines = []
    for ns, repo, _ns_id, _rid in dataset.rule_samples(count):
        access = [Scope("repository", f"{ns}/{repo}", ("pull", "push"))]
        token = issue_token(key, issuer="repohub", service=REGISTRY_SERVICE, subject=BENCH_USER,
                            access=access, ttl=86_400)["token"]  # fmt: skip
        lines.append(f"{ns} {repo} {token}")
    return lines


def push_headers(line: str, tag: str = "v1") -> dict[str, str]:
    """The headers ``push_check.lua`` sends for one ``ns repo token`` line (the probe's request)."""
    ns, repo, token = line.split()
    return {"X-Original-Method": "PUT", "X-Original-URI": f"/v2/{ns}/{repo}/manifests/{tag}",
            "Authorization": f"Bearer {token}"}  # fmt: skip


def with_middle(template: str, dataset: Dataset) -> str:
    """``template`` with the id at half the dataset for ``{middle}`` (ids run 1 to its size)."""
    return template.replace(MIDDLE, str(max(1, dataset.size.repositories // 2)))


def script_path(scenario: Scenario, floor_script: Path) -> Path:
    return floor_script if scenario.script.startswith("floor:") else LUA / scenario.script


def auth_header(scenario: Scenario, dataset: Dataset) -> str:
    if scenario.auth == "basic":
        basic = base64.b64encode(f"{BENCH_USER}:{dataset.token}".encode()).decode()
        return f"Authorization: Basic {basic}"
    token = dataset.admin_token if scenario.user == ADMIN_USER else dataset.token
    return scenario.header.replace("{token}", token)


def expand(template: str, sample: tuple[str, str, int, int]) -> str:
    """The Lua scripts' template expansion, for the probe request made before a run."""
    ns, repo, ns_id, rid = sample
    values = {"ns": ns, "repo": repo, "ns_id": str(ns_id), "repo_id": str(rid), "hex": repo[-4:],
              "tail": repo[-6:]}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def app_routes() -> dict[str, set[str]]:
    """The routes repohub includes that its OpenAPI document leaves out: template → methods.

    Read from the routers the app is made of (``api.dialects.routers``), the same code the served app
    runs from this venv; converters are dropped (``{name:path}`` → ``{name}``) as the document does.
    """
    from repohub.api.dialects import routers  # the app's own modules: only when a scenario needs them

    found: dict[str, set[str]] = {}
    for router in routers():
        for route in router.routes:
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if isinstance(path, str) and methods and not getattr(route, "include_in_schema", True):
                template = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
                found.setdefault(template, set()).update(method.lower() for method in methods)
    return found


def route_exists(
    openapi: dict[str, object], scenario: Scenario, outside: dict[str, set[str]] | None = None
) -> bool:
    """The scenario's route in the OpenAPI document; a page outside it among ``outside`` (its routes)."""
    if not scenario.in_schema:
        return scenario.method in (outside or {}).get(scenario.route, set())
    paths = openapi.get("paths", {})
    assert isinstance(paths, dict)
    wanted = scenario.route.rstrip("/")
    return any(
        path.rstrip("/") == wanted and scenario.method in methods
        for path, methods in paths.items()
        if isinstance(methods, dict)
    )


def event_envelopes(dataset: Dataset, count: int, registry_host: str) -> list[str]:
    """Distribution notification envelopes of pull events for generated repositories, one per line.

    Each event id is ``{uid}``, which the wrk script makes unique per request, so a receiver that
    deduplicates by event id still applies every event.
    """
    rng = random.Random(11)
    samples = dataset.sample(500, seed=13)
    lines = []
    for _ in range(count):
        events = []
        for _ in range(EVENTS_PER_ENVELOPE):
            ns, repo, _ns_id, rid = rng.choice(samples)
            tag = "v1"
            digest = "sha256:" + f"{rid:064x}"[-64:]
            events.append(
                {
                    "id": "{uid}",
                    "timestamp": "2026-11-23T14:00:00.000000Z",
                    "action": "pull",
                    "target": {
                        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                        "digest": digest,
                        "size": 1234,
                        "length": 1234,
                        "repository": f"{ns}/{repo}",
                        "url": f"http://{registry_host}/v2/{ns}/{repo}/manifests/{digest}",
                        "tag": tag,
                    },
                    "request": {
                        "id": "{uid}",
                        "addr": "127.0.0.1:40000",
                        "host": registry_host,
                        "method": "GET",
                        "useragent": "bench",
                    },
                    "actor": {"name": BENCH_USER},
                    "source": {"addr": "registry:5000", "instanceID": "bench"},
                }
            )
        lines.append(json.dumps({"events": events}, separators=(",", ":")))
    return lines
