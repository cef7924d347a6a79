"""``RegistryClient.delete_tags`` and ``put_tag`` against the real Distribution registry, checked with
skopeo: a batch delete keeps every tag it was not asked to delete (those sharing a doomed digest too),
skips a tag re-pushed since, is idempotent, and reports a registry that is down.

No database: the client is driven directly, with repohub's own kind of token key. One registry serves
the module (started once, about a second); each test works in a repository of its own.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from repohub.auth.registry_token import Scope, SigningKey, issue_token, load_or_create_signing_key
from repohub.domain.errors import UpstreamUnavailable
from repohub.registry.client import RegistryClient
from tests.e2e.oci import OCI_MANIFEST, Image, write_image
from tests.e2e.registry import Registry, Skopeo, registry_config, require_binaries, running_registry
from tests.server import free_port

ISSUER, SERVICE = "repohub", "repohub-registry"


@dataclass(frozen=True)
class Setup:
    registry: Registry
    key: SigningKey
    skopeo: Skopeo
    images: dict[str, Image]  # "A".."E": five different images

    def token(self, path: str) -> str:
        scope = Scope("repository", path, ("pull", "push", "delete"))
        return issue_token(self.key, issuer=ISSUER, service=SERVICE, subject="tester", access=[scope])[
            "token"
        ]

    def push(self, image: str, path: str, tag: str) -> None:
        target = f"{self.registry.host}/{path}:{tag}"
        done = self.skopeo.push(self.images[image].layout, target, "--dest-registry-token", self.token(path))
        assert done.returncode == 0, done.stderr

    def inspected(self, path: str, tag: str) -> str | None:
        """The digest skopeo sees under ``path:tag``, None when the registry has no such tag."""
        target = f"{self.registry.host}/{path}:{tag}"
        done = self.skopeo.inspect(target, "--registry-token", self.token(path))
        if done.returncode != 0:
            assert "manifest unknown" in done.stderr, done.stderr
            return None
        return str(json.loads(done.stdout)["Digest"])

    def listed(self, path: str) -> set[str]:
        target = f"docker://{self.registry.host}/{path}"
        done = self.skopeo.run(
            "list-tags", "--tls-verify=false", "--registry-token", self.token(path), target
        )
        assert done.returncode == 0, done.stderr
        return set(json.loads(done.stdout)["Tags"] or [])


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_binaries()
    root = tmp_path_factory.mktemp("tag-writes")
    key = load_or_create_signing_key(root / "token.key", root / "token.crt")
    auth = (
        "auth:\n  token:\n"
        f"    realm: http://127.0.0.1:9/registry/token\n    service: {SERVICE}\n"
        f"    issuer: {ISSUER}\n    rootcertbundle: {root / 'token.crt'}\n"
    )
    port = free_port()
    config = root / "registry.yml"
    config.write_text(registry_config(auth, root / "storage", port))
    images = {name: write_image(root / name, f"image {name}\n") for name in "ABCDE"}
    with running_registry(config, port) as registry:
        yield Setup(registry, key, Skopeo(root), images)


class Counting(httpx.AsyncBaseTransport):
    """The real transport, counting requests by method (and GETs of manifests apart from tag lists)."""

    def __init__(self, calls: Counter[str]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._calls = calls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        kind = request.method
        if kind == "GET":
            kind = "GET tags" if request.url.path.endswith("/tags/list") else "GET manifest"
        self._calls[kind] += 1
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
def calls() -> Counter[str]:
    """The gateway's requests to the registry so far, by kind."""
    return Counter()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(setup: Setup, calls: Counter[str]) -> AsyncIterator[RegistryClient]:
    client = RegistryClient(
        setup.registry.url, setup.key, issuer=ISSUER, service=SERVICE, transport=Counting(calls)
    )
    try:
        yield client
    finally:
        await client.aclose()


async def test_batch_delete_keeps_shared_digests_skips_repushed_tags_and_repeats_as_a_no_op(
    setup: Setup, gateway: RegistryClient, calls: Counter[str]
) -> None:
    path = "acme/batch"
    pushed = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "b3": "B", "c1": "C", "d1": "D", "e1": "E"}
    for tag, image in pushed.items():
        setup.push(image, path, tag)
    digest = {name: image.digest for name, image in setup.images.items()}
    setup.push("E", path, "d1")  # re-pushed after the catalogue learnt d1 → D: must be skipped
    doomed = {"a1": digest["A"], "b1": digest["B"], "b2": None, "c1": digest["C"], "d1": digest["D"]}

    done = await gateway.delete_tags(path, doomed)

    assert done.deleted == ["a1", "b1", "b2", "c1"]
    assert done.skipped == ["d1"]
    # One tag list, a HEAD per tag; digests A, B, C deleted; A and B read first and put back under
    # a2 and b3 (C has no kept tag: not read).
    assert calls == {"GET tags": 1, "HEAD": 8, "DELETE": 3, "GET manifest": 2, "PUT": 2}
    expected = {"a2": digest["A"], "b3": digest["B"], "d1": digest["E"], "e1": digest["E"]}
    assert setup.listed(path) == set(expected)
    assert {tag: setup.inspected(path, tag) for tag in pushed} == {tag: expected.get(tag) for tag in pushed}

    calls.clear()
    again = await gateway.delete_tags(path, doomed)  # e.g. the next run after an interrupted one

    assert again.deleted == ["a1", "b1", "b2", "c1"]  # already absent: counted as deleted
    assert again.skipped == ["d1"]
    assert calls == {"GET tags": 1, "HEAD": 4}  # the four tags left; nothing written
    assert {tag: await gateway.tag_digest(path, tag) for tag in expected} == expected
    assert setup.listed(path) == set(expected)


async def test_delete_tag_keeps_the_other_tag_on_its_digest(setup: Setup, gateway: RegistryClient) -> None:
    path = "acme/single"
    setup.push("A", path, "v1")
    setup.push("A", path, "latest")

    await gateway.delete_tag(path, "v1")
    await gateway.delete_tag(path, "v1")  # gone already: nothing to do

    assert setup.listed(path) == {"latest"}
    assert setup.inspected(path, "latest") == setup.images["A"].digest


async def test_put_tag_puts_the_source_manifest_under_the_destination(
    setup: Setup, gateway: RegistryClient
) -> None:
    path = "acme/retag"
    setup.push("B", path, "v1")
    image = setup.images["B"]

    info = await gateway.put_tag(path, "v1", "stable")

    assert info is not None
    assert (info.digest, info.media_type, info.size) == (image.digest, OCI_MANIFEST, image.size)
    assert info.image_id == image.config_digest.removeprefix("sha256:")
    assert info == await gateway.manifest_info(path, "stable")
    assert setup.inspected(path, "stable") == image.digest
    assert setup.inspected(path, "v1") == image.digest
    assert await gateway.put_tag(path, "missing", "other") is None
    assert setup.listed(path) == {"v1", "stable"}


async def test_a_registry_that_is_down_raises_upstream_unavailable(
    setup: Setup, gateway: RegistryClient
) -> None:
    path = "acme/down"
    setup.push("C", path, "v1")
    setup.registry.stop()
    try:
        with pytest.raises(UpstreamUnavailable):
            await gateway.delete_tags(path, {"v1": None})
        with pytest.raises(UpstreamUnavailable):
            await gateway.put_tag(path, "v1", "v2")
    finally:
        setup.registry.start()
    assert setup.listed(path) == {"v1"}


def _variant(image: Image, number: int) -> bytes:
    """The image's manifest with an annotation of its own: another digest over the same blobs."""
    blob = image.layout / "blobs" / "sha256" / image.digest.removeprefix("sha256:")
    manifest = json.loads(blob.read_bytes())
    manifest["annotations"] = {"n": str(number)}
    return json.dumps(manifest).encode()


async def _put_variants(setup: Setup, path: str, count: int) -> dict[str, str]:
    """``count`` tags on as many digests, written straight to the registry, 8 at a time (skopeo would
    take minutes)."""
    headers = {"Authorization": f"Bearer {setup.token(path)}", "Content-Type": OCI_MANIFEST}
    bound = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=setup.registry.url, headers=headers) as http:

        async def put(number: int) -> tuple[str, str]:
            async with bound:
                body = _variant(setup.images["D"], number)
                answer = await http.put(f"/v2/{path}/manifests/t{number}", content=body)
            assert answer.status_code == 201, answer.text
            return f"t{number}", answer.headers["Docker-Content-Digest"]

        return dict(await asyncio.gather(*(put(number) for number in range(count))))


async def test_deleting_400_of_500_tags_costs_one_request_per_tag_and_leaves_the_100_kept(
    setup: Setup, gateway: RegistryClient, calls: Counter[str]
) -> None:
    """Also the micro-measure of deletions per second, printed with ``-s``."""
    path = "acme/many"
    setup.push("D", path, "base")  # the blobs the variants refer to, in this repository
    digests = await _put_variants(setup, path, 500)
    doomed = {tag: digests[tag] for tag in list(digests)[100:]}

    started = time.perf_counter()
    done = await gateway.delete_tags(path, doomed)
    elapsed = time.perf_counter() - started

    rate = len(done.deleted) / elapsed
    print(f"\ndelete_tags: {len(done.deleted)} of 500 tags in {elapsed:.2f} s, {rate:.0f} deletions/s")
    assert sorted(done.deleted) == sorted(doomed) and done.skipped == []
    assert calls == {"GET tags": 1, "HEAD": 501, "DELETE": 400}  # O(tags): no tag is read twice
    assert setup.listed(path) == {"base", *(f"t{number}" for number in range(100))}
