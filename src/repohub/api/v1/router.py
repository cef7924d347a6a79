"""The v1 (Alauda-style) dialect: translate HTTP to the service and back, nothing more.

Every path is served with and without a trailing slash (the seed uses both), without redirects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Query, Request, Response

from repohub.api.deps import AnonymousServiceDep
from repohub.api.hosts import link_url
from repohub.api.openapi import COMMON, RATE_LIMITED, REGISTRY_REFUSED, TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
from repohub.api.parameters import StrictInteger
from repohub.api.render import json_response
from repohub.api.routing import Endpoint, PlainRoute, PrefixRouter
from repohub.api.v1 import hooks
from repohub.api.v1.deps import ServiceDep
from repohub.api.v1.errors import error_responses
from repohub.api.v1.login import FORM, JSON, login_request
from repohub.api.v1.schemas import (
    CreatedRepository,
    LoginRequest,
    LoginResponse,
    RepositoryCreate,
    RepositoryDetail,
    RepositoryPage,
    RepositoryUpdate,
    StarState,
    TagItem,
    UpdatedRepository,
    detail_fields,
    listed_fields,
)
from repohub.domain.catalog import RepositoryChanges
from repohub.domain.errors import InvalidInput, NotFound
from repohub.domain.queries import RepoOrder, RepoQuery, TagQuery
from repohub.domain.service import Service

PREFIX = "/v1"
router = PrefixRouter(
    prefix=PREFIX,
    tags=["v1 (Alauda)"],
    responses=error_responses(*COMMON),
)


Page = Annotated[StrictInteger, Query(ge=1, le=1_000_000, description="page number, from 1")]
PageSize = Annotated[StrictInteger, Query(ge=1, le=100, description="results per page, at most 100")]


def both_slashes(method: str, path: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler at ``path`` and at ``path + '/'``; only the first shows in the docs.

    The slash form is registered first: a trailing ``{repo_name:path}`` would otherwise swallow the
    slash into the repository name.
    """

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(path + "/", handler, methods=[method], include_in_schema=False, **kwargs)
        router.add_api_route(path, handler, methods=[method], **kwargs)
        return handler

    return register


def plain_both_slashes(method: str, path: str, **kwargs: Any) -> Callable[[Endpoint], Endpoint]:
    """:func:`both_slashes` for a :class:`~repohub.api.routing.PlainRoute` endpoint, which builds its
    own JSON: the list and detail pages, where FastAPI's solving and response-model validation were
    most of the CPU beyond the database (docs/benchmarks.md, issue 19)."""

    def register(handler: Endpoint) -> Endpoint:
        both_slashes(method, path, route_class_override=PlainRoute, **kwargs)(handler)
        return handler

    return register


_LOGIN_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            JSON: {"schema": LoginRequest.model_json_schema()},
            FORM: {"schema": LoginRequest.model_json_schema()},
        },
    }
}


@both_slashes(
    "POST",
    "/generate-api-token",
    response_model=LoginResponse,
    openapi_extra=_LOGIN_BODY,
    responses=error_responses(TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, RATE_LIMITED),
)
async def generate_api_token(request: Request, service: AnonymousServiceDep) -> LoginResponse:
    """Log in with username and password (form or JSON) and get a new API token."""
    login = await login_request(request)
    issued = await service.accounts.login(login.username, login.password)
    return LoginResponse(token=issued.token, username=issued.user.username)


@both_slashes(
    "POST",
    "/repositories/{namespace}",
    status_code=201,
    response_model=CreatedRepository,
    responses=error_responses(TOO_LARGE),
)
async def create_repository(namespace: str, body: RepositoryCreate, service: ServiceDep) -> CreatedRepository:
    if body.namespace is not None and body.namespace != namespace:
        raise InvalidInput("namespace in the body must equal the one in the path", field="namespace")
    repo = await service.catalog.create_repository(
        namespace,
        body.repo_name,
        description=body.description,
        full_description=body.full_description,
        is_public=body.is_public,
    )
    return CreatedRepository.of(repo)


@plain_both_slashes("GET", "/repositories/{namespace}", response_model=RepositoryPage)
async def list_repositories(
    request: Request, namespace: str, service: ServiceDep, page: Page = 1, page_size: PageSize = 20
) -> Response:
    """Repositories of a namespace, by name; anonymous callers see only public ones. A namespace
    in which the caller has no role and may read nothing is a 404, as a missing one."""
    found = await service.catalog.namespace_page_by_name(
        namespace,
        repr(namespace),
        RepoQuery(offset=(page - 1) * page_size, limit=page_size, order=RepoOrder.NAME),
    )
    if page > 1 and not found.items:
        raise NotFound("Invalid page.")
    return json_response(
        {
            "count": found.total,
            "next": _page_url(request, page + 1) if found.has_next else None,
            "previous": _page_url(request, page - 1) if page > 1 else None,
            "results": [listed_fields(repo) for repo in found.items],
        }
    )


def _page_url(request: Request, page: int) -> str:
    """The request's link with its page parameter set to ``page`` (left out for the first page, as
    DRF links it): Starlette's ``include_query_params(page=...)`` or ``remove_query_params("page")``,
    the same bytes, with the other parameters' part parsed and encoded once per query string (what
    Starlette did for every link was ~6 % of a list page's CPU, issue 19)."""
    components = link_url(request).components
    others = _other_parameters(components.query)
    if page > 1:
        others = f"{others}&page={page}" if others else f"page={page}"
    return components._replace(query=others).geturl()


@lru_cache(maxsize=256)
def _other_parameters(query: str) -> str:
    """``query`` without its page parameters, parsed and encoded as Starlette's ``URL`` does: what
    its ``include_query_params`` puts before the page, which it moves to the end."""
    parameters = parse_qsl(query, keep_blank_values=True)
    return urlencode([(key, value) for key, value in parameters if key != "page"])


@both_slashes("GET", "/repositories/{namespace}/{repo_name:path}/tags", response_model=list[TagItem])
async def list_tags(
    namespace: str,
    repo_name: str,
    service: ServiceDep,
    page: Page = 1,
    page_size: Annotated[StrictInteger, Query(ge=1, le=1000)] = 100,
) -> list[TagItem]:
    """Tags of a repository, newest first."""
    repo = await service.catalog.repository(namespace, repo_name)
    tags = await service.catalog.list_tags(repo, TagQuery(offset=(page - 1) * page_size, limit=page_size))
    return [TagItem.of(tag) for tag in tags.items]


@both_slashes("PUT", "/repositories/{namespace}/{repo_name:path}/star", response_model=StarState)
async def star(namespace: str, repo_name: str, service: ServiceDep) -> StarState:
    return await _set_star(service, namespace, repo_name, starred=True)


@both_slashes("DELETE", "/repositories/{namespace}/{repo_name:path}/star", response_model=StarState)
async def unstar(namespace: str, repo_name: str, service: ServiceDep) -> StarState:
    return await _set_star(service, namespace, repo_name, starred=False)


async def _set_star(service: Service, namespace: str, repo_name: str, *, starred: bool) -> StarState:
    repo = await service.catalog.repository(namespace, repo_name)
    repo = await service.catalog.set_star(repo, starred)
    return StarState(repo_starred_count=repo.star_count, is_repo_starred=starred)


@plain_both_slashes("GET", "/repositories/{namespace}/{repo_name:path}", response_model=RepositoryDetail)
async def get_repository(namespace: str, repo_name: str, service: ServiceDep) -> Response:
    repo = await service.catalog.repository(namespace, repo_name)
    return json_response(detail_fields(repo, starred=await service.catalog.is_starred(repo)))


@both_slashes(
    "PUT",
    "/repositories/{namespace}/{repo_name:path}",
    response_model=UpdatedRepository,
    responses=error_responses(TOO_LARGE),
)
async def update_repository(
    namespace: str, repo_name: str, body: RepositoryUpdate, service: ServiceDep
) -> UpdatedRepository:
    repo = await service.catalog.repository(namespace, repo_name)
    changes = RepositoryChanges(
        description=body.description, full_description=body.full_description, is_public=body.is_public
    )
    return UpdatedRepository.of(await service.catalog.update_repository(repo, changes))


@both_slashes(
    "DELETE",
    "/repositories/{namespace}/{repo_name:path}",
    status_code=204,
    responses=error_responses(REGISTRY_REFUSED),
)
async def delete_repository(namespace: str, repo_name: str, service: ServiceDep) -> Response:
    repo = await service.catalog.repository(namespace, repo_name)
    await service.catalog.delete_repository(repo)
    return Response(status_code=204)


hooks.register(both_slashes)  # /v1/hooks: Alauda's webhooks (``api.v1.hooks``)
