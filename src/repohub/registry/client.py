"""Client for the Distribution registry's HTTP API (httpx), implementing the domain's RegistryGateway.

repohub signs its own bearer tokens (subject ``@repohub``) with the same key the registry trusts, one
per call and scoped to exactly what the call needs. Failures become domain errors: unreachable or
503 → UpstreamUnavailable, any other refusal → UpstreamFailed, which every dialect renders.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import httpx

from repohub.auth.registry_token import Scope, SigningKey, issue_token
from repohub.domain.errors import UpstreamFailed, UpstreamUnavailable
from repohub.domain.gateway import INTERNAL_SUBJECT, MANIFEST_MEDIA_TYPES, ManifestInfo, TagDeletion

log = logging.getLogger("repohub.registry.client")

ACCEPT = ", ".join(sorted(MANIFEST_MEDIA_TYPES))
INDEX_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)
MAX_INDEX_CHILDREN = 64
PAGE = 1000


class RegistryClient:
    def __init__(
        self,
        base_url: str,
        key: SigningKey,
        *,
        issuer: str,
        service: str,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._key = key
        self._issuer = issuer
        self._service = service
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------------------------------
    def _token(self, scope: Scope) -> str:
        issued = issue_token(
            self._key,
            issuer=self._issuer,
            service=self._service,
            subject=INTERNAL_SUBJECT,
            access=[scope],
            ttl=60,
        )
        return issued["token"]

    async def _call(
        self, method: str, url: str, scope: Scope, *, missing_ok: bool = False, **kwargs: Any
    ) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {self._token(scope)}", **kwargs.pop("headers", {})}
        try:
            response = await self._http.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as error:
            raise UpstreamUnavailable(f"the registry is unreachable ({type(error).__name__})") from error
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 503:
            raise UpstreamUnavailable("the registry is unavailable, retry later")
        if response.is_error:
            raise UpstreamFailed(f"the registry refused {method} {url}: {_error_text(response)}")
        return response

    @staticmethod
    def _repository(path: str, *actions: str) -> Scope:
        return Scope("repository", path, actions)

    # -- reads ----------------------------------------------------------------------------------
    async def repositories(self) -> list[str]:
        found: list[str] = []
        url: str | None = f"/v2/_catalog?n={PAGE}"
        while url:
            response = await self._call("GET", url, Scope("registry", "catalog", ("*",)))
            assert response is not None
            found.extend(response.json().get("repositories") or [])
            url = _next_link(response)
        return found

    async def tags(self, path: str) -> list[str]:
        found: list[str] = []
        url: str | None = f"/v2/{path}/tags/list?n={PAGE}"
        while url:
            response = await self._call("GET", url, self._repository(path, "pull"), missing_ok=True)
            if response is None:
                return found
            found.extend(response.json().get("tags") or [])
            url = _next_link(response)
        return found

    async def tag_digest(self, path: str, tag: str) -> str | None:
        response = await self._call(
            "HEAD",
            f"/v2/{path}/manifests/{tag}",
            self._repository(path, "pull"),
            missing_ok=True,
            headers={"Accept": ACCEPT},
        )
        return response.headers.get("Docker-Content-Digest") if response is not None else None

    async def _manifest(self, path: str, reference: str) -> tuple[bytes, str, str] | None:
        response = await self._call(
            "GET",
            f"/v2/{path}/manifests/{reference}",
            self._repository(path, "pull"),
            missing_ok=True,
            headers={"Accept": ACCEPT},
        )
        if response is None:
            return None
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        digest = response.headers.get("Docker-Content-Digest", reference)
        return response.content, media_type, digest

    async def manifest_info(self, path: str, reference: str) -> ManifestInfo | None:
        fetched = await self._manifest(path, reference)
        if fetched is None:
            return None
        body, media_type, digest = fetched
        try:
            document = json.loads(body)
        except ValueError as error:
            raise UpstreamFailed(
                f"the registry sent a manifest that is not JSON for {path}@{reference}"
            ) from error
        media_type = document.get("mediaType") or media_type
        size, image_id = len(body), ""
        if media_type in INDEX_TYPES or "manifests" in document:
            for child in (document.get("manifests") or [])[:MAX_INDEX_CHILDREN]:
                info = await self.manifest_info(path, child["digest"]) if child.get("digest") else None
                size += info.size if info else int(child.get("size") or 0)
        else:
            config = document.get("config") or {}
            size += int(config.get("size") or 0)
            size += sum(int(layer.get("size") or 0) for layer in document.get("layers") or [])
            image_id = str(config.get("digest") or "").removeprefix("sha256:")
        return ManifestInfo(
            digest=digest, media_type=media_type, size=size, image_id=image_id, manifest=body.decode()
        )

    # -- deletes --------------------------------------------------------------------------------
    async def delete_repository(self, path: str) -> None:
        digests: list[str] = []
        for tag in await self.tags(path):
            digest = await self.tag_digest(path, tag)
            if digest is not None and digest not in digests:
                digests.append(digest)
        for digest in digests:
            await self._call(
                "DELETE", f"/v2/{path}/manifests/{digest}", self._repository(path, "delete"), missing_ok=True
            )

    async def delete_tag(self, path: str, tag: str) -> None:
        """Registry 2.8 deletes digests, not tags: delete the digest, then put the manifest back under
        the other tags that pointed at it."""
        fetched = await self._manifest(path, tag)
        if fetched is None:
            return
        body, media_type, digest = fetched
        others = [
            other
            for other in await self.tags(path)
            if other != tag and await self.tag_digest(path, other) == digest
        ]
        await self._call(
            "DELETE", f"/v2/{path}/manifests/{digest}", self._repository(path, "delete"), missing_ok=True
        )
        for other in others:
            await self._call(
                "PUT",
                f"/v2/{path}/manifests/{other}",
                self._repository(path, "pull", "push"),
                content=body,
                headers={"Content-Type": media_type},
            )

    # -- retention's calls (temporary on this branch: the gateway helper's replace them) ---------
    async def delete_tags(self, path: str, doomed: Mapping[str, str | None]) -> TagDeletion:
        """Every tag's digest read once (one HEAD each, 16 at a time), then one DELETE per doomed
        digest; a kept tag sharing it gets the manifest put back. Requests grow with the tags, not
        with doomed × tags as one ``delete_tag`` each would."""
        digests = await self._digests(path, await self.tags(path))
        deleted = [tag for tag in doomed if tag not in digests]  # already absent
        skipped = [tag for tag in doomed if tag in digests and doomed[tag] not in (None, digests[tag])]
        going = {tag for tag in doomed if tag in digests and tag not in skipped}
        for digest in sorted({digests[tag] for tag in going}):
            kept = sorted(t for t, d in digests.items() if d == digest and t not in going)
            fetched = await self._manifest(path, digest) if kept else None
            await self._call(
                "DELETE", f"/v2/{path}/manifests/{digest}", self._repository(path, "delete"), missing_ok=True
            )
            if fetched is not None:
                await self._put_back(path, fetched, kept)
            deleted.extend(sorted(t for t in going if digests[t] == digest))
        return TagDeletion(deleted=deleted, skipped=skipped)

    async def _digests(self, path: str, tags: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(tags), 16):
            chunk = tags[start : start + 16]
            answers = await asyncio.gather(*(self.tag_digest(path, tag) for tag in chunk))
            for tag, digest in zip(chunk, answers, strict=True):
                if digest is not None:
                    found[tag] = digest
        return found

    async def _put_back(self, path: str, fetched: tuple[bytes, str, str], tags: list[str]) -> None:
        body, media_type, _digest = fetched
        for tag in tags:
            await self._call(
                "PUT",
                f"/v2/{path}/manifests/{tag}",
                self._repository(path, "pull", "push"),
                content=body,
                headers={"Content-Type": media_type},
            )

    async def put_tag(self, path: str, source: str, destination: str) -> ManifestInfo | None:
        raise NotImplementedError("retag is not on this branch")


def _next_link(response: httpx.Response) -> str | None:
    """The path of the next page from a ``Link: <...>; rel="next"`` header."""
    link: str | None = response.headers.get("Link")
    if not link or 'rel="next"' not in link:
        return None
    target = link.split(";")[0].strip().strip("<>")
    return urljoin(str(response.request.url), target)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return f"{response.status_code} {errors[0].get('code')}: {errors[0].get('message')}"
    return f"{response.status_code} {response.reason_phrase}"
