"""The shipped nginx configuration for real (``repohub proxy config``, run as printed): Debian nginx in
front of ``repohub serve`` and the registry; repohub under /repohub/ (REPOHUB_ROOT_PATH) behind a
front of its own; X-Forwarded-* believed only from trusted proxies."""

from __future__ import annotations

import hashlib
import json
import os

import httpx
import jwt

from repohub.config import Settings
from tests.e2e.registry import registry_config, running_registry
from tests.ops import nginx
from tests.server import Server, cli, free_port, serve


def _accounts(settings: Settings) -> tuple[str, str]:
    cli(settings, "users", "create", "nora", "--password", "nora-password")
    token = cli(settings, "tokens", "create", "nora").strip()
    org = json.loads(cli(settings, "orgs", "create", "nginxorg", "--owner", "nora", "--json"))["id"]
    return token, org


def _check_dialects(base: str, token: str, org: str, prefix: str) -> None:
    with httpx.Client(base_url=base, timeout=20) as http:
        headers = {"Authorization": f"Token {token}"}
        for name in ("a1", "a2", "a3"):
            made = http.post(f"{prefix}/v1/repositories/nora/", json={"repo_name": name}, headers=headers)
            assert made.status_code == 201, made.text
        first = http.get(f"{prefix}/v1/repositories/nora/?page_size=1", headers=headers).json()
        assert first["next"] == f"{base}{prefix}/v1/repositories/nora/?page_size=1&page=2"
        second = http.get(first["next"], headers=headers).json()
        assert second["previous"] == f"{base}{prefix}/v1/repositories/nora/?page_size=1"
        assert [item["repo_name"] for item in second["results"]] == ["a2"]
        # A client's own X-Forwarded-Host is overwritten by nginx, never believed.
        spoofed = http.get(
            f"{prefix}/v1/repositories/nora/?page_size=1",
            headers={**headers, "X-Forwarded-Host": "evil.example"},
        ).json()
        assert "evil" not in spoofed["next"]

        abeja = http.get(
            f"{prefix}/organizations/{org}/registry/repositories",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert abeja.status_code == 200, abeja.text
        swr = http.get(f"{prefix}/v2/manage/namespaces", headers={"X-Auth-Token": token})
        assert swr.status_code == 200, swr.text
        assert "nora" in swr.text
        projects = http.get(f"{prefix}/v3/projects", headers={"X-Auth-Token": token})  # SWR's IAM call
        assert projects.status_code == 200 and projects.json()["projects"], projects.text
        granted = http.get(
            f"{prefix}/registry/token?service=repohub-registry&scope=repository:nora/a1:pull,push",
            auth=("nora", token),
        )
        assert granted.status_code == 200, granted.text
        (access,) = jwt.decode(granted.json()["token"], options={"verify_signature": False})["access"]
        assert access == {"type": "repository", "name": "nora/a1", "actions": ["pull", "push"]}
        docs = http.get(f"{prefix}/docs")
        assert docs.status_code == 200 and f"{prefix}/openapi.json" in docs.text
        spec = http.get(f"{prefix}/openapi.json")
        assert spec.status_code == 200 and "/v1/repositories/{namespace}" in spec.json()["paths"]
        assert http.get(f"{prefix}/readyz").status_code == 200
        assert http.get(f"{prefix}/metrics").status_code == 200


def test_nginx_at_the_root_with_the_registry(settings, clean, tmp_path):
    token, org = _accounts(settings)
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    fragment = cli(settings, "registry", "config", "--url", public)
    registry_port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    with serve(settings) as server, running_registry(config, registry_port):
        registry = f"http://127.0.0.1:{registry_port}"
        with nginx.shipped(settings, tmp_path / "nginx", port, server.url, registry) as base:
            _check_dialects(base, token, org, "")
            # /v2/ is the registry's (token auth challenge pointing at repohub), /v2/manage/ is repohub's.
            challenge = httpx.get(f"{base}/v2/")
            assert challenge.status_code == 401
            assert challenge.headers["docker-distribution-api-version"] == "registry/2.0"
            assert f'realm="{public}/registry/token"' in challenge.headers["www-authenticate"]
            assert "docker-distribution-api-version" not in httpx.get(f"{base}/v2/manage/repos").headers
            # ^~ /v2/manage/: a manifest-shaped path there is still SWR's, never the registry's.
            swr_manifest = httpx.put(f"{base}/v2/manage/repos/manifests/v1", content=b"{}")
            assert "docker-distribution-api-version" not in swr_manifest.headers
            assert swr_manifest.json()["error_code"].startswith("SVCSTG.SWR."), swr_manifest.text
            # The push check is nginx's to ask: from outside it is not there, however it is spelt.
            for hidden in ("/registry/push-check", "/registry/push%2Dcheck", "/registry//push-check/x"):
                answer = httpx.get(f"{base}{hidden}", headers={"X-Original-Method": "PUT"})
                assert answer.status_code == 404 and "nginx" in answer.text, hidden
            token_answer = httpx.get(
                f"{base}/registry/token?service=repohub-registry&scope=repository:nora/a1:pull",
                auth=("nora", token),
            )
            assert token_answer.status_code == 200 and token_answer.json()["token"]
            _check_body_limits(base, token)
            _check_instances(
                base, token, json.loads(cli(settings, "access-keys", "create", "nora", "--json"))
            )


def _check_instances(base: str, token: str, key: dict[str, str]) -> None:
    """/v2/<32 hex project id>/instances[/...] is repohub's (SWR's enterprise edition); the rest of
    /v2/, repository names beside a 32-hex component included, stays the registry's."""
    project, instance = key["project_id"], key["instance_id"]
    with httpx.Client(base_url=base, timeout=20, headers={"X-Auth-Token": token}) as http:
        listed = http.get(f"/v2/{project}/instances")
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["instances"]] == [instance]
        shown = http.get(f"/v2/{project}/instances/{instance}")
        assert shown.status_code == 200 and shown.json()["project_id"] == project
        missing = http.get(f"/v2/{project}/instances/not-ours")
        assert missing.status_code == 404 and missing.json()["error_code"] == "SVCSTG.SWR.4040001"
        assert "docker-distribution-api-version" not in missing.headers  # repohub, not the registry
        # SWR's version pages are repohub's too, and the link they give leads back to them.
        version = http.get("/v2")
        assert version.status_code == 200 and version.json()["version"]["id"] == "v2", version.text
        assert http.get(version.json()["version"]["links"]["href"]).json() == version.json()
        browser = http.get("/", headers={"Accept": "text/html"})
        assert browser.status_code == 307 and browser.headers["location"] == "/ui/"
        for registry_path in (
            f"/v2/{project}/manifests/latest",  # a repository named by the project id alone
            f"/v2/{project.upper()}/instances/x/manifests/latest",  # not a project id
            f"/v2/nora/{project}/instances/manifests/latest",  # the hex component not first
            f"/v2/{project}/instancesx/manifests/latest",
        ):
            answer = http.get(registry_path)
            assert answer.headers.get("docker-distribution-api-version") == "registry/2.0", registry_path


def _check_body_limits(base: str, token: str) -> None:
    """repohub's paths stop at its own limit (10 MiB); /v2/ streams image layers of any size."""
    over = b"{" * (10 * 1024 * 1024 + 1)
    with httpx.Client(base_url=base, timeout=60) as http:
        v1 = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        refused = http.post("/v1/repositories/nora/", content=over, headers=v1)
        assert refused.status_code == 413 and "nginx" in refused.text  # never reached repohub
        swr = http.post("/v2/manage/namespaces", content=over, headers={"X-Auth-Token": token})
        assert swr.status_code == 413 and "nginx" in swr.text
        under = http.post("/v1/repositories/nora/", content=b"{" * (5 * 1024 * 1024), headers=v1)
        assert under.status_code == 400 and under.json()["code"] == "invalid_input"  # repohub's answer
        scope = "repository:nora/a1:pull,push"
        bearer = http.get(
            f"/registry/token?service=repohub-registry&scope={scope}", auth=("nora", token)
        ).json()["token"]
        registry = {"Authorization": f"Bearer {bearer}"}
        started = http.post("/v2/nora/a1/blobs/uploads/", headers=registry)
        assert started.status_code == 202, started.text
        layer = os.urandom(12 * 1024 * 1024)
        digest = "sha256:" + hashlib.sha256(layer).hexdigest()
        location = httpx.URL(base).join(started.headers["location"]).copy_merge_params({"digest": digest})
        done = http.put(location, content=layer, headers=registry)
        assert done.status_code == 201, done.text
        stored = http.head(f"/v2/nora/a1/blobs/{digest}", headers=registry)
        assert stored.headers["content-length"] == str(len(layer))


def test_nginx_under_a_path_prefix(settings, clean, tmp_path):
    token, org = _accounts(settings)
    port = free_port()
    with serve(settings, extra_env={"REPOHUB_ROOT_PATH": "/repohub"}) as server:
        blocks = (
            f"server {{\n  listen 127.0.0.1:{port};\n"
            "  proxy_set_header Host $http_host;\n  proxy_set_header X-Forwarded-Proto $scheme;\n"
            "  proxy_set_header X-Forwarded-Host $http_host;\n"
            "  proxy_set_header X-Forwarded-For $remote_addr;\n"
            f"  location /repohub/ {{ proxy_pass {server.url}/; }}\n}}\n"
        )
        with nginx.blocks(tmp_path / "nginx", blocks, port) as base:
            _check_dialects(base, token, org, "/repohub")


def _clients(server: Server) -> dict[str, str]:
    """Request id → client address, from the JSON access log."""
    lines = server.log.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return {
        entry["request_id"]: entry["client"] for entry in entries if entry.get("logger") == "repohub.access"
    }


def _from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address))


def test_forwarded_headers_ignored_from_untrusted_peers(settings, clean):
    token, _ = _accounts(settings)
    auth = {"Authorization": f"Token {token}"}
    forwarded = {
        **auth,
        "X-Forwarded-Host": "public.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Prefix": "/edge",
        "X-Forwarded-For": "203.0.113.7",
    }
    # 127.0.0.1 by address, 127.0.0.4-127.0.0.7 by range; 127.0.0.2 is not a proxy.
    trust = {"REPOHUB_FORWARDED_ALLOW_IPS": "127.0.0.1, 127.0.0.4/30"}
    with serve(settings, extra_env=trust) as server:
        for name in ("b1", "b2"):
            httpx.post(f"{server.url}/v1/repositories/nora/", json={"repo_name": name}, headers=auth)
        page = f"{server.url}/v1/repositories/nora/?page_size=1"
        trusted = httpx.get(page, headers={**forwarded, "X-Request-Id": "by-address"}).json()
        with _from("127.0.0.2") as other:
            untrusted = other.get(page, headers={**forwarded, "X-Request-Id": "untrusted"}).json()
        with _from("127.0.0.5") as proxy:
            in_range = proxy.get(page, headers={**forwarded, "X-Request-Id": "in-range"}).json()
            # An appending proxy in the range: the client's own leftmost entry is not believed, nor
            # is a trusted proxy further along the chain taken for the client.
            for request_id, chain in (
                ("forged", "198.51.100.66, 203.0.113.8"),
                ("chain", "198.51.100.66, 203.0.113.9, 127.0.0.6"),
            ):
                headers = {**auth, "X-Forwarded-For": chain, "X-Request-Id": request_id}
                assert proxy.get(page, headers=headers).status_code == 200
    assert trusted["next"].startswith("https://public.example/edge/v1/repositories/nora/")
    assert in_range["next"].startswith("https://public.example/edge/v1/repositories/nora/?")
    assert untrusted["next"].startswith(f"{server.url}/v1/repositories/nora/?")
    clients = _clients(server)
    assert clients["by-address"] == "203.0.113.7"
    assert clients["in-range"] == "203.0.113.7"
    assert clients["untrusted"] == "127.0.0.2"  # its X-Forwarded-For is ignored
    assert clients["forged"] == "203.0.113.8"
    assert clients["chain"] == "203.0.113.9"


def test_client_address_behind_an_appending_nginx(settings, clean, tmp_path):
    """nginx's ``$proxy_add_x_forwarded_for`` keeps what the client sent and appends the real peer:
    repohub takes the peer nginx saw, never the client's own claim."""
    token, _ = _accounts(settings)
    port = free_port()
    with serve(settings, extra_env={"REPOHUB_FORWARDED_ALLOW_IPS": "127.0.0.0/30"}) as server:
        blocks = (
            f"server {{\n  listen 127.0.0.1:{port};\n"
            "  proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            f"  location / {{ proxy_pass {server.url}; }}\n}}\n"
        )
        with nginx.blocks(tmp_path / "nginx", blocks, port) as base, _from("127.0.0.9") as client:
            headers = {"Authorization": f"Token {token}", "X-Forwarded-For": "198.51.100.66"}
            for request_id in ("via-nginx-1", "via-nginx-2"):
                answer = client.get(
                    f"{base}/v1/repositories/nora/", headers={**headers, "X-Request-Id": request_id}
                )
                assert answer.status_code == 200
    clients = _clients(server)
    assert clients["via-nginx-1"] == clients["via-nginx-2"] == "127.0.0.9"


def test_nginx_limits_logins_per_address_across_replicas(settings, clean, tmp_path):
    """Two repohub processes with LOGIN_RATE_PER_CLIENT=3 each: on their own they would take three
    logins a minute each from one address, six in all; the shipped nginx refuses the fourth with a
    429 in v1's error format, before either process's own limit is reached."""
    _accounts(settings)
    limit = {"REPOHUB_LOGIN_RATE_PER_CLIENT": "3"}
    port, wrong = free_port(), {"username": "nora", "password": "not-nora's"}
    with serve(settings, extra_env=limit) as first, serve(settings, extra_env=limit) as second:
        replicas = f"{first.url},{second.url}"
        with nginx.shipped(settings, tmp_path / "nginx", port, replicas, first.url, extra_env=limit) as base:
            answers = [httpx.post(f"{base}/v1/generate-api-token/", json=wrong) for _ in range(6)]
            assert [answer.status_code for answer in answers] == [401, 401, 401, 429, 429, 429]
            refused = answers[3]
            assert refused.json() == {
                "detail": "too many requests from this address, retry later",
                "code": "rate_limited",
            }
            assert refused.headers["retry-after"] == "60"
            # The web catalogue's sign-in shares the allowance, its 429 a page; its form is no attempt.
            page = httpx.post(f"{base}/ui/login", data=wrong)
            assert page.status_code == 429 and "Too many sign-ins" in page.text
            assert page.headers["content-type"].startswith("text/html")
            assert httpx.get(f"{base}/ui/login").status_code == 200
        # Neither process had reached its own limit: each still takes a login from this address.
        for server in (first, second):
            assert httpx.post(f"{server.url}/v1/generate-api-token/", json=wrong).status_code == 401


def test_nginx_limits_registry_tokens_in_the_registry_format(settings, clean, tmp_path):
    token, _ = _accounts(settings)
    limit = {"REPOHUB_TOKEN_RATE_PER_CLIENT": "2"}
    port = free_port()
    with (
        serve(settings) as server,
        nginx.shipped(settings, tmp_path / "nginx", port, server.url, server.url, extra_env=limit) as base,
    ):
        url = f"{base}/registry/token?service=repohub-registry&scope=repository:nora/a1:pull"
        answers = [httpx.get(url, auth=("nora", token)) for _ in range(3)]
        assert [answer.status_code for answer in answers] == [200, 200, 429]
        assert answers[2].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        swr = httpx.post(f"{base}/v2/manage/utils/authorizationtoken", headers={"X-Auth-Token": token})
        assert swr.status_code == 429 and swr.json()["error_code"] == "SVCSTG.SWR.4290001"
