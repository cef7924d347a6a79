"""SWR's v3 lists, paged by marker: ``list_repo_details`` and ``list_repository_tag`` of huaweicloudsdkswr.

* ``GET /v3/manage/repos``: ``{"repos": [ShowReposRespV3], "nextMarker"}``, the repositories the v2
  list shows (the same visibility, the same ``namespace``, case-insensitive ``name`` fragment and
  ``category`` filters) plus ``is_public`` (``true``/``false``), by repository id.
* ``GET /v3/manage/namespaces/{namespace}/repos/{repository}/tags``: ``{"tags": [ShowReposTagRespV3],
  "has_more", "nextMarker"}``, the repository's tags by tag id, ``tag`` an exact name; the repository
  is looked up as the v2 tag list looks it up (its 404 and 403). ``with_manifest=true`` fills
  ``manifest`` (empty otherwise).

``limit`` is 100 by default, 1 to 1000; ``marker`` is the ``nextMarker`` of the page before (an integer
for repositories, its decimal string for tags, as the SDK's models type them): the page holds the rows
with an id above it. ``nextMarker`` is the last row's id and is absent on the last page. Ids never
change, so a walk sees each row once while others are created and deleted (``store.keyset``); at any
depth a page costs its own rows, where v2's offset pages are bounded (``defaults.SWR_MAX_OFFSET``).
The order is the id's: v3's ``order_column``/``order_type`` of tags would make the key one that
changes (``updated_at``), so they are refused with a 400 that points to v2's sorted list.

The repository page is a :class:`~repohub.api.routing.PlainRoute` reading its query itself and
writing its body with orjson, as the v2 list page does (``router.list_repos_details``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from repohub.api.deps import StateDep
from repohub.api.openapi import COMMON
from repohub.api.parameters import query_parameters, query_values
from repohub.api.render import iso
from repohub.api.routing import PrefixRouter, plain
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_response
from repohub.api.swr.schemas import manifest_schema, pull_path
from repohub.domain.entities import Repository, RepositorySummary, Tag
from repohub.domain.errors import InvalidInput
from repohub.domain.numbers import parse_integer
from repohub.domain.queries import RepoWalk, TagWalk

__all__ = ["PREFIX", "REPOS", "TAGS", "router"]

PREFIX = "/v3/manage"
REPOS = "/repos"
TAGS = "/namespaces/{namespace:segment}/repos/{repository:segment}/tags"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
router = PrefixRouter(
    prefix=PREFIX, tags=["SWR"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)
Text = Annotated[str | None, Query()]
_BOOLEANS = {"true": True, "false": False}


class RepoV3(BaseModel):
    """``ShowReposRespV3``."""

    id: int
    name: str
    category: str
    description: str
    size: int
    is_public: bool
    num_images: int
    num_download: int
    created_at: str
    updated_at: str
    domain_name: str
    namespace_name: str
    status: bool


class ReposV3(BaseModel):
    repos: list[RepoV3]
    nextMarker: int | None = None  # SWR's spelling; absent on the last page


class TagV3(BaseModel):
    """``ShowReposTagRespV3``."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    repo_id: int
    tag: str
    image_id: str
    manifest: str
    digest: str
    schema_: int = Field(alias="schema")
    path: str
    internal_path: str
    size: int
    is_trusted: bool
    created: str
    updated: str
    domain_id: str
    tag_type: int


class TagsV3(BaseModel):
    tags: list[TagV3]
    has_more: bool
    nextMarker: str | None = None  # the last tag's id as text; absent on the last page


# -- parameters --------------------------------------------------------------------------------------
def _limit(values: Mapping[str, str]) -> int:
    text = values.get("limit")
    return parse_integer(text, field="limit", low=1, high=MAX_LIMIT) if text else DEFAULT_LIMIT


def _marker(values: Mapping[str, str]) -> int:
    text = values.get("marker")
    return parse_integer(text, field="marker") if text else 0


def _boolean(values: Mapping[str, str], key: str) -> bool | None:
    text = values.get(key)
    if not text:
        return None
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise InvalidInput(f"{key} must be true or false, not {text[:32]!r}", field=key)
    return value


def repo_walk(values: Mapping[str, str]) -> RepoWalk:
    """The walk a v3 repository page asks for; blank parameters are unset, as v2 reads them."""
    return RepoWalk(
        namespace=values.get("namespace") or None,
        name_contains=values.get("name") or None,
        category=values.get("category") or None,
        is_public=_boolean(values, "is_public"),
        after=_marker(values),
        limit=_limit(values),
    )


def tag_walk(values: Mapping[str, str]) -> TagWalk:
    for key in ("order_column", "order_type"):
        if values.get(key):
            raise InvalidInput(
                f"{key}: v3 tag pages are in tag id order, the one key that never changes under a"
                " walk; for a sorted list use GET /v2/manage/namespaces/{namespace}/repos/{repository}/tags",
                field=key,
            )
    return TagWalk(name=values.get("tag") or None, after=_marker(values), limit=_limit(values))


# -- rendering ---------------------------------------------------------------------------------------
def repo_v3_of(repo: RepositorySummary, domain_name: str) -> dict[str, Any]:
    return {
        "id": repo.id,
        "name": repo.name,
        "category": repo.category,
        "description": repo.description,
        "size": repo.size,
        "is_public": repo.is_public,
        "num_images": repo.tag_count,
        "num_download": repo.download_count,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
        "domain_name": domain_name,
        "namespace_name": repo.namespace,
        "status": False,  # a share's liveness: no share here, as the v2 list answers
    }


def tag_v3_of(tag: Tag, path: str, domain_name: str, with_manifest: bool) -> dict[str, Any]:
    pulled = f"{path}:{tag.name}"
    return {
        "id": tag.id,
        "repo_id": tag.repository_id,
        "tag": tag.name,
        "image_id": tag.image_id,
        "manifest": (tag.manifest or "") if with_manifest else "",
        "digest": tag.digest,
        "schema": manifest_schema(tag.media_type),
        "path": pulled,
        "internal_path": pulled,
        "size": tag.size,
        "is_trusted": False,
        "created": iso(tag.created_at),
        "updated": iso(tag.updated_at),
        "domain_id": domain_name,
        "tag_type": 0,
    }


# -- routes ------------------------------------------------------------------------------------------
_REPO_PARAMETERS = query_parameters(
    namespace="exact namespace",
    name="case-insensitive substring of the repository name",
    category="exact category",
    is_public="true or false",
    limit=f"default {DEFAULT_LIMIT}, 1 to {MAX_LIMIT}",
    marker="nextMarker of the page before: the repositories with an id above it",
)


@plain(router, "GET", REPOS, response_model=ReposV3, openapi_extra={"parameters": _REPO_PARAMETERS})
async def list_repo_details(request: Request, service: ServiceDep, state: StateDep) -> Response:
    """Repositories the caller can see (as ``GET /v2/manage/repos``), by id from the marker on."""
    walk = repo_walk(query_values(request.scope))
    found = await service.catalog.walk_repositories(walk)
    domain = state.settings.domain_name
    content: dict[str, Any] = {"repos": [repo_v3_of(repo, domain) for repo in found.items]}
    if found.more:
        content["nextMarker"] = found.items[-1].id
    return json_response(content)


@router.get(TAGS, response_model=TagsV3)
async def list_repository_tag(
    namespace: str,
    repository: str,
    service: ServiceDep,
    state: StateDep,
    limit: Text = None,
    marker: Annotated[str | None, Query(description="nextMarker of the page before")] = None,
    tag: Annotated[str | None, Query(description="exact tag name")] = None,
    order_column: Annotated[str | None, Query(description="refused: v3 pages are in id order")] = None,
    order_type: Annotated[str | None, Query(description="refused: v3 pages are in id order")] = None,
    with_manifest: Annotated[str | None, Query(description="true: fill manifest")] = None,
) -> Response:
    """The repository's tags by id from the marker on; the repository as the v2 tag list finds it."""
    given = {"limit": limit, "marker": marker, "tag": tag, "order_column": order_column}
    given |= {"order_type": order_type, "with_manifest": with_manifest}
    values = {key: value for key, value in given.items() if value}
    walk, manifests = tag_walk(values), bool(_boolean(values, "with_manifest"))
    repo: Repository = await service.catalog.repository(namespace, repository)
    found = await service.catalog.walk_tags(repo, walk)
    path, domain = pull_path(state.settings.registry_host, repo), state.settings.domain_name
    content: dict[str, Any] = {
        "tags": [tag_v3_of(item, path, domain, manifests) for item in found.items],
        "has_more": found.more,
    }
    if found.more:
        content["nextMarker"] = str(found.items[-1].id)
    return json_response(content)
