"""Immutable tags on the push path, end to end: the real registry behind the nginx configuration
``repohub proxy config`` prints (run as printed), a real ``repohub serve``, skopeo pushing through
nginx. A push or manifest delete an immutable-tag rule forbids is refused before the registry writes
anything, in the registry's own error format ("denied: ..."); a caller without a token of ours gets
the registry's 401 as if no check were there; deleting the rule lifts it all. The rules are made and
removed through SWR's own SDK (AK/SK), itself through nginx.

One scenario per database; steps build on each other (the registry keeps what was pushed).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
from huaweicloudsdkswr.v2 import (
    CreateImmutableRuleBody,
    CreateImmutableRuleRequest,
    DeleteImmutableRuleRequest,
    RuleSelector,
)

from repohub.config import Settings
from repohub.domain.entities import Role
from tests.compat.test_swr_sdk import swr_client
from tests.e2e.oci import Image, write_image
from tests.e2e.registry import Skopeo, registry_config, require_binaries, running_registry
from tests.e2e.test_registry import Hub, eventually, ok
from tests.ops import nginx
from tests.server import cli, free_port, serve
from tests.world import World

PASSWORD = "pw-" + "i" * 8
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def rule(tags: str, *, decoration: str = "matches", disabled: bool = False) -> CreateImmutableRuleBody:
    """SWR's CreateImmutableRuleBody: ``tags`` on every repository of the namespace."""
    return CreateImmutableRuleBody(
        priority=0,
        disabled=disabled,
        action="immutable",
        template="immutable_template",
        tag_selectors=[RuleSelector(kind="doublestar", decoration=decoration, pattern=tags)],
        scope_selectors={
            "repository": [RuleSelector(kind="doublestar", decoration="repoMatches", pattern="**")]
        },
    )


class Rules:
    """acme's immutable-tag rules, managed by carol (its admin) through SWR's SDK with the AK/SK of
    ``repohub access-keys create --json``, through nginx (SWR's enterprise-edition paths under /v2/
    are repohub's there)."""

    def __init__(self, base: str, key: dict[str, str]) -> None:
        self.client = swr_client(base, key)
        self.instance = key["instance_id"]

    def create(self, body: CreateImmutableRuleBody) -> int:
        created = self.client.create_immutable_rule(
            CreateImmutableRuleRequest(instance_id=self.instance, namespace_name="acme", body=body)
        )
        assert created.status_code == 201, created
        return int(created.id)

    def delete(self, rule_id: int) -> None:
        deleted = self.client.delete_immutable_rule(
            DeleteImmutableRuleRequest(
                instance_id=self.instance, namespace_name="acme", immutable_rule_id=rule_id
            )
        )
        assert deleted.status_code == 200, deleted


class Front:
    """skopeo and plain HTTP through nginx, as alice (member: pushes) or carol (admin: deletes)."""

    def __init__(self, base: str, tmp: Path, tokens: dict[str, str]) -> None:
        self.base = base
        self.host = base.removeprefix("http://")
        self.skopeo = Skopeo(tmp)
        self.tokens = tokens

    def push(self, image: Image, tag: str, user: str = "alice") -> Any:
        creds = ("--dest-creds", f"{user}:{self.tokens[user]}")
        return self.skopeo.push(image.layout, f"{self.host}/acme/app:{tag}", *creds)

    def digest(self, tag: str) -> str | None:
        done = self.skopeo.inspect(f"{self.host}/acme/app:{tag}", "--creds", f"carol:{PASSWORD}")
        return str(json.loads(done.stdout)["Digest"]) if done.returncode == 0 else None

    def bearer(self, user: str, actions: str) -> dict[str, str]:
        basic = base64.b64encode(f"{user}:{self.tokens[user]}".encode()).decode()
        answer = httpx.get(
            f"{self.base}/registry/token",
            params={"service": "repohub-registry", "scope": f"repository:acme/app:{actions}"},
            headers={"Authorization": f"Basic {basic}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def manifest(
        self, method: str, reference: str, headers: dict[str, str], body: bytes = b""
    ) -> httpx.Response:
        headers = {**headers, "Content-Type": MANIFEST_TYPE} if body else headers
        url = f"{self.base}/v2/acme/app/manifests/{reference}"
        return httpx.request(method, url, headers=headers, content=body or None, timeout=30)

    def blob(self, method: str, digest: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.request(method, f"{self.base}/v2/acme/app/blobs/{digest}", headers=headers, timeout=30)


def denied(done: Any, tag: str) -> None:
    """skopeo failed with the registry's DENIED error carrying repohub's reason."""
    assert done.returncode != 0, "skopeo pushed what must be refused"
    assert "denied" in done.stderr and f"tag {tag} of acme/app is immutable" in done.stderr, done.stderr


def refusal(answer: httpx.Response) -> str:
    """A DENIED answer in the registry's format; returns its message."""
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["docker-distribution-api-version"] == "registry/2.0"
    (error,) = answer.json()["errors"]
    assert error["code"] == "DENIED"
    return str(error["message"])


async def test_immutable_tags_are_refused_on_pushes_through_the_proxy(
    settings: Settings, accounts: World, tmp_path: Path
) -> None:
    require_binaries()
    nginx.require_nginx()
    tokens = {
        "alice": await accounts.user("alice", password=PASSWORD),
        "carol": await accounts.user("carol", password=PASSWORD),
    }
    await accounts.org("acme", owner="carol")
    await accounts.member("acme", "alice", Role.MEMBER)
    registry_port, hub_port, proxy_port = free_port(), free_port(), free_port()
    public = f"http://127.0.0.1:{proxy_port}"  # the token realm and events go through nginx
    env = {"REPOHUB_REGISTRY_URL": f"http://127.0.0.1:{registry_port}", "REPOHUB_PUBLIC_URL": public}
    config = tmp_path / "registry.yml"
    fragment = cli(settings, "registry", "config", extra_env=env)
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    images = {name: write_image(tmp_path / name, f"image {name}\n") for name in "ABCD"}
    key = json.loads(cli(settings, "access-keys", "create", "carol", "--json"))
    with (
        running_registry(config, registry_port) as registry,
        serve(settings, extra_env=env, port=hub_port) as server,
        nginx.shipped(settings, tmp_path / "nginx", proxy_port, server.url, registry.url) as base,
    ):
        front, hub, rules = Front(base, tmp_path, tokens), Hub(server.url, tokens), Rules(base, key)
        ok(front.push(images["A"], "v1"))
        ok(front.push(images["A"], "latest"))
        first = {"v1": images["A"].digest, "latest": images["A"].digest}
        eventually(lambda: hub.v1_tags("app") == first, "v1 and latest in the catalogue")
        version_rule = rules.create(rule("v*"))

        await _overwrites_refused(front, images, hub)
        await _deletes_refused(front, images)
        _strangers_get_the_registrys_answer(front, images)
        rules.delete(version_rule)
        await _excludes_and_disabled(front, images, rules, hub)


async def _overwrites_refused(front: Front, images: dict[str, Image], hub: Hub) -> None:
    denied(front.push(images["B"], "v1"), "v1")
    assert front.digest("v1") == images["A"].digest  # the registry still serves the old image
    # The check sees no body: the same digest again is refused as well (Harbor does the same).
    denied(front.push(images["A"], "v1"), "v1")
    ok(front.push(images["B"], "v2"))  # a first push of a matching tag
    eventually(lambda: "v2" in hub.v1_tags("app"), "v2 in the catalogue")
    denied(front.push(images["C"], "v2"), "v2")  # and from then on it is immutable too
    ok(front.push(images["B"], "latest"))  # not matched: overwritten
    assert front.digest("latest") == images["B"].digest
    assert front.digest("v2") == images["B"].digest


async def _deletes_refused(front: Front, images: dict[str, Image]) -> None:
    carol = front.bearer("carol", "pull,push,delete")
    message = refusal(front.manifest("DELETE", images["A"].digest, carol))
    assert "tag v1 of acme/app is immutable" in message
    assert front.digest("v1") == images["A"].digest
    # A manifest PUT by hand gets the same answer as skopeo's.
    alice = front.bearer("alice", "pull,push")
    manifest = (images["C"].layout / "blobs" / "sha256" / images["C"].digest.split(":")[1]).read_bytes()
    assert "tag v1 of acme/app" in refusal(front.manifest("PUT", "v1", alice, manifest))
    # Spelt otherwise, the same tag to nginx and the registry: the same refusal.
    for reference in ("v%31", "./v1"):
        assert "tag v1 of acme/app" in refusal(front.manifest("PUT", reference, alice, manifest)), reference
    # A blob of v1's image (its config) deleted would break v1's pull: refused like the manifest.
    config = images["A"].config_digest
    assert "tag v1 of acme/app is immutable" in refusal(front.blob("DELETE", config, carol))
    assert front.blob("GET", config, carol).status_code == 200


def _strangers_get_the_registrys_answer(front: Front, images: dict[str, Image]) -> None:
    """No token, a token that is not ours, a token without the right: the registry's own 401, as
    without the check; nothing tells them the tag is protected."""
    pull_only = front.bearer("alice", "pull")
    alice = front.bearer("alice", "pull,push")  # push, but no delete
    for method, headers in (
        ("PUT", {}),
        ("PUT", {"Authorization": "Bearer not-a-token"}),
        ("PUT", {"Authorization": f"Basic {base64.b64encode(b'alice:' + PASSWORD.encode()).decode()}"}),
        ("PUT", pull_only),
        ("DELETE", alice),
        ("DELETE", {}),
    ):
        answer = front.manifest(method, "v1", headers, b"{}" if method == "PUT" else b"")
        assert answer.status_code == 401, (method, headers, answer.text)
        assert "www-authenticate" in answer.headers and "immutable" not in answer.text
        assert answer.json()["errors"][0]["code"] in ("UNAUTHORIZED", "DENIED")
    assert front.digest("v1") == images["A"].digest


async def _excludes_and_disabled(front: Front, images: dict[str, Image], rules: Rules, hub: Hub) -> None:
    """With the rule gone v1 can change again; ``excludes v*`` protects everything else (latest);
    a disabled rule protects nothing; and once none is left, deletes go through."""
    ok(front.push(images["C"], "v1"))
    assert front.digest("v1") == images["C"].digest
    eventually(lambda: hub.v1_tags("app").get("v1") == images["C"].digest, "v1 moved in the catalogue")
    others = rules.create(rule("v*", decoration="excludes"))
    denied(front.push(images["D"], "latest"), "latest")
    ok(front.push(images["D"], "v1"))
    rules.delete(others)
    disabled = rules.create(rule("**", disabled=True))
    ok(front.push(images["D"], "latest"))
    assert front.digest("latest") == images["D"].digest
    rules.delete(disabled)
    carol = front.bearer("carol", "pull,push,delete")
    eventually(lambda: hub.v1_tags("app").get("latest") == images["D"].digest, "latest moved")
    deleted = front.manifest("DELETE", images["B"].digest, carol)  # v2's
    assert deleted.status_code == 202, deleted.text
    assert front.digest("v2") is None


def test_with_repohub_unreachable_manifest_writes_fail_closed_and_pulls_go_on(
    settings: Settings, tmp_path: Path
) -> None:
    """nginx cannot ask: every manifest PUT and DELETE is a 500 (nothing reaches the registry), while
    reads, which never ask, still get the registry's own answers."""
    require_binaries()
    nginx.require_nginx()
    registry_port, proxy_port, nobody = free_port(), free_port(), free_port()
    config = tmp_path / "registry.yml"
    fragment = cli(settings, "registry", "config", "--url", f"http://127.0.0.1:{proxy_port}")
    config.write_text(registry_config(fragment, tmp_path / "storage", registry_port))
    with (
        running_registry(config, registry_port) as registry,
        nginx.shipped(settings, tmp_path / "nginx", proxy_port, f"http://127.0.0.1:{nobody}", registry.url),
    ):
        base = f"http://127.0.0.1:{proxy_port}"
        for method in ("PUT", "DELETE"):
            answer = httpx.request(method, f"{base}/v2/acme/app/manifests/v1", content=b"{}", timeout=30)
            assert answer.status_code == 500, (method, answer.text)
            assert "docker-distribution-api-version" not in answer.headers  # never reached the registry
        for path in ("/v2/", "/v2/acme/app/manifests/v1", "/v2/acme/app/tags/list"):
            answer = httpx.get(f"{base}{path}", timeout=30)
            assert answer.status_code == 401, (path, answer.text)
            assert answer.headers["docker-distribution-api-version"] == "registry/2.0"
