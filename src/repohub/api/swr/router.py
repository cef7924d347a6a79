"""The SWR dialect: translate ``/v2/manage/...`` to the service and back, nothing more.

Names in paths are single segments; a repository name with ``/`` arrives as ``%2F`` and is routed on the
raw path (see ``paths``). Creation and update answer 201 with an empty body, deletion 204, as SWR does.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Body, Query, Request, Response

from repohub.api.deps import StateDep
from repohub.api.openapi import COMMON, REGISTRY_REFUSED, TOO_LARGE
from repohub.api.parameters import query_parameters, query_values
from repohub.api.routing import PrefixRouter, plain
from repohub.api.swr import filters
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.schemas import (
    CreateNamespaceBody,
    CreateRepoBody,
    CreateRepoTagBody,
    NamespaceAuth,
    NamespaceList,
    ShowNamespace,
    ShowRepository,
    ShowReposResp,
    ShowReposTagResp,
    UpdateRepoBody,
    UserAuthIn,
    access_of,
    grants_of,
    namespace_of,
    repo_item_of,
    repository_of,
    tag_of,
    user_ids_of,
)
from repohub.defaults import SWR_MAX_OFFSET
from repohub.domain.catalog import RepositoryChanges
from repohub.domain.errors import InvalidInput

PREFIX = "/v2/manage"
router = PrefixRouter(
    prefix=PREFIX,
    tags=["SWR"],
    route_class=RawSegmentRoute,
    responses=error_responses(*COMMON),
)

# Extra statuses: operations that take a body; deletes that go through the registry.
WITH_BODY = error_responses(TOO_LARGE)
VIA_REGISTRY = error_responses(REGISTRY_REFUSED)
NS = "/namespaces/{namespace:segment}"
REPO = NS + "/repos/{repository:segment}"
Text = Annotated[str | None, Query()]
# Where an offset past ``defaults.SWR_MAX_OFFSET`` is sent (``api.swr.v3``).
V3_REPOS = "GET /v3/manage/repos (list_repo_details)"
V3_TAGS = "GET /v3/manage/namespaces/{namespace}/repos/{repository}/tags (list_repository_tag)"
Filter = Annotated[str | None, Query(description="key::value pairs joined by '|'; wins over the parameters")]


def _json(content: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), media_type="application/json", headers=headers)


def _created() -> Response:
    return Response(status_code=201)


def _range_headers(page: filters.Paging, count: int, total: int) -> dict[str, str] | None:
    return {"Content-Range": filters.content_range(page, count, total)} if page.explicit else None


# -- repositories across namespaces ------------------------------------------------------------------
# Its query is read directly and the route is called directly (``api.routing.plain``): FastAPI's
# solving of eight optional strings cost a fifth of this hot page's CPU, its solving of the rest another
# fifth (docs/benchmarks.md); the parameters are declared for OpenAPI below.
_REPO_PARAMETERS = query_parameters(
    namespace="exact namespace",
    name="case-insensitive substring of the repository name",
    category="exact category",
    limit="default 100, at most 1000; needs offset",
    offset=f"start index, at most {SWR_MAX_OFFSET} (deeper: v3 and its marker); needs limit",
    order_column="updated_at, name, updated_time, tag_count",
    order_type="asc or desc",
    filter="key::value pairs joined by '|'; wins over the parameters",
)


@plain(
    router,
    "GET",
    "/repos",
    response_model=list[ShowReposResp],
    responses={200: {"headers": {"Content-Range": {"description": "offset-count/total, when paged"}}}},
    openapi_extra={"parameters": _REPO_PARAMETERS},
)
async def list_repos_details(request: Request, service: ServiceDep, state: StateDep) -> Response:
    """Repositories the caller can see: public ones and those of its namespaces."""
    given = query_values(request.scope)
    params = {key: given.get(key) for key in filters.REPO_KEYS}
    query, page = filters.repo_query(filters.merged(params, given.get("filter"), filters.REPO_KEYS))
    filters.within_offset_bound(page, V3_REPOS)
    found = await service.catalog.list_repository_summaries(query)
    host, domain = state.settings.registry_host, state.settings.domain_name
    rows = [repo_item_of(repo, host, domain, found.total) for repo in found.items]
    return _json(rows, _range_headers(page, len(rows), found.total))


# -- namespaces --------------------------------------------------------------------------------------
@router.post("/namespaces", status_code=201, response_class=Response, responses=WITH_BODY)
async def create_namespace(body: CreateNamespaceBody, service: ServiceDep) -> Response:
    """An organisation owned by the caller."""
    await service.namespaces.create(body.namespace)
    return _created()


@router.get("/namespaces", response_model=NamespaceList)
async def list_namespaces(service: ServiceDep, namespace: Text = None, filter: Filter = None) -> Any:
    """Namespaces the caller belongs to (all for site admins), with its auth level."""
    values = filters.merged({"namespace": namespace}, filter, filters.NAMESPACE_KEYS)
    if values.get("mode", "visible") != "visible":
        raise InvalidInput("mode must be 'visible'", field="filter")
    views = await service.namespaces.visible(values.get("namespace"))
    return {"namespaces": [namespace_of(view) for view in views]}


@router.get(NS, response_model=ShowNamespace)
async def show_namespace(namespace: str, service: ServiceDep) -> Any:
    return namespace_of(await service.namespaces.get(namespace))


@router.delete(NS, status_code=204, response_class=Response)
async def delete_namespaces(namespace: str, service: ServiceDep) -> Response:
    """Only an empty organisation can be deleted (409 otherwise); namespace admins only."""
    await service.namespaces.delete(namespace)
    return Response(status_code=204)


# -- namespace access --------------------------------------------------------------------------------
@router.get(NS + "/access", response_model=NamespaceAuth)
async def show_namespace_auth(namespace: str, service: ServiceDep) -> Any:
    return access_of(await service.namespaces.access(namespace))


@router.post(NS + "/access", status_code=201, response_class=Response, responses=WITH_BODY)
async def create_namespace_auth(namespace: str, body: list[UserAuthIn], service: ServiceDep) -> Response:
    """Give users access: auth 7 = admin, 3 = member, 1 = viewer. 409 if one already has access."""
    await service.namespaces.grant(namespace, grants_of(body), change=False)
    return _created()


@router.patch(NS + "/access", status_code=201, response_class=Response, responses=WITH_BODY)
async def update_namespace_auth(namespace: str, body: list[UserAuthIn], service: ServiceDep) -> Response:
    """Change the auth level of users who have access."""
    await service.namespaces.grant(namespace, grants_of(body), change=True)
    return _created()


@router.delete(NS + "/access", status_code=204, response_class=Response, responses=WITH_BODY)
async def delete_namespace_auth(
    namespace: str, service: ServiceDep, body: Annotated[list[str], Body()]
) -> Response:
    """Remove the access of users, given by id."""
    await service.namespaces.revoke(namespace, user_ids_of(body))
    return Response(status_code=204)


# -- repositories ------------------------------------------------------------------------------------
@router.post(NS + "/repos", status_code=201, response_class=Response, responses=WITH_BODY)
async def create_repo(namespace: str, body: CreateRepoBody, service: ServiceDep) -> Response:
    await service.catalog.create_repository(
        namespace,
        body.repository,
        description=body.description,
        is_public=body.is_public,
        category=body.category,
    )
    return _created()


@router.get(REPO, response_model=ShowRepository)
async def show_repository(namespace: str, repository: str, service: ServiceDep, state: StateDep) -> Any:
    repo = await service.catalog.repository(namespace, repository)
    return repository_of(repo, state.settings.registry_host, state.settings.domain_name)


@router.patch(REPO, status_code=201, response_class=Response, responses=WITH_BODY)
async def update_repo(namespace: str, repository: str, body: UpdateRepoBody, service: ServiceDep) -> Response:
    repo = await service.catalog.repository(namespace, repository)
    changes = RepositoryChanges(
        description=body.description, is_public=body.is_public, category=body.category
    )
    await service.catalog.update_repository(repo, changes)
    return _created()


@router.delete(REPO, status_code=204, response_class=Response, responses=VIA_REGISTRY)
async def delete_repo(namespace: str, repository: str, service: ServiceDep) -> Response:
    repo = await service.catalog.repository(namespace, repository)
    await service.catalog.delete_repository(repo)
    return Response(status_code=204)


# -- tags --------------------------------------------------------------------------------------------
@router.get(
    REPO + "/tags",
    response_model=list[ShowReposTagResp],
    responses={200: {"headers": {"Content-Range": {"description": "offset-count/total, when paged"}}}},
)
async def list_repository_tags(
    namespace: str,
    repository: str,
    service: ServiceDep,
    state: StateDep,
    limit: Text = None,
    offset: Text = None,
    order_column: Annotated[str | None, Query(description="updated_at, created_at, name")] = None,
    order_type: Text = None,
    tag: Text = None,
    filter: Filter = None,
) -> Response:
    params = {
        "limit": limit,
        "offset": offset,
        "order_column": order_column,
        "order_type": order_type,
        "tag": tag,
    }
    query, page = filters.tag_query(filters.merged(params, filter, filters.TAG_KEYS))
    filters.within_offset_bound(page, V3_TAGS)
    repo = await service.catalog.repository(namespace, repository)
    found = await service.catalog.list_tags(repo, query)
    host, domain = state.settings.registry_host, state.settings.domain_name
    rows = [tag_of(item, repo, host, domain) for item in found.items]
    return _json(rows, _range_headers(page, len(rows), found.total))


@router.get(REPO + "/tags/{tag:segment}", response_model=ShowReposTagResp)
async def show_repo_tag(
    namespace: str, repository: str, tag: str, service: ServiceDep, state: StateDep
) -> Any:
    repo = await service.catalog.repository(namespace, repository)
    found = await service.catalog.tag(repo, tag)
    return _json(tag_of(found, repo, state.settings.registry_host, state.settings.domain_name))


@router.delete(REPO + "/tags/{tag:segment}", status_code=204, response_class=Response, responses=VIA_REGISTRY)
async def delete_repo_tag(namespace: str, repository: str, tag: str, service: ServiceDep) -> Response:
    repo = await service.catalog.repository(namespace, repository)
    await service.catalog.delete_tag(repo, tag)
    return Response(status_code=204)


@router.post(REPO + "/tags", status_code=201, response_class=Response, responses=WITH_BODY | VIA_REGISTRY)
async def create_repo_tag(
    namespace: str, repository: str, body: CreateRepoTagBody, service: ServiceDep
) -> Response:
    """Retag: the source tag's image under the destination tag too (members and up); 409 when the
    destination exists and ``override`` is false, and when an immutable-tag rule protects the
    existing destination, override or not (``TagImmutable``); a new destination a rule selects is
    created, and protected from then on."""
    repo = await service.catalog.repository(namespace, repository)
    await service.catalog.retag(repo, body.source_tag, body.destination_tag, override=body.override)
    return _created()
