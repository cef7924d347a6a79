"""SWR's per-repository permissions and shared repositories: eleven calls of huaweicloudsdkswr.

* ``/v2/manage/namespaces/{namespace}/repos/{repository}/access``: ``create_``, ``show_``,
  ``update_`` and ``delete_user_repository_auth``, the namespace calls' bodies (``UserAuth`` lists,
  ``auth`` 7/3/1; a list of user ids to delete) and answers (201, ``{id, name, self_auth,
  others_auths}`` with the repository's id and name, 201, 204).
* ``/v2/manage/namespaces/{namespace}/repositories/{repository}/access-domains[/{access_domain}]``:
  ``create_repo_domains`` (201), ``list_repo_domains`` (a JSON list of ``ShowRepoDomainsResponse``),
  ``show_access_domain`` (the same with ``exist``), ``update_repo_domains`` (201) and
  ``delete_repo_domains`` (204). An access domain is another namespace of repohub; ``deadline`` is
  ``forever`` or a UTC time (``2030-01-01T00:00:00Z``; one without a zone is UTC), answered as
  ``forever`` or in repohub's time format; ``status`` tells whether the share is still live.
* ``/v2/manage/shared-repositories`` (``list_shared_repos_details``): ``ShowReposResp`` rows, the
  repository list's filters and paging (``filter`` wins, ``Content-Range`` when paged) and ``center``
  (required: ``self``, the caller's repositories shared with others, or ``thirdparty``, those shared
  with the caller's namespaces; ``status`` true for the latter, false for the former as SWR answers).
* ``/v3/manage/shared-repositories`` (``list_shared_repo_details``): ``{repos, nextMarker}``,
  ``shared_by`` (required) as ``center``, ``namespace``, an exact ``name``, ``limit`` (default 100, at
  most 1000) and marker paging: ``nextMarker`` is the repository id the next page starts at, absent on
  the last page. ``status=false`` (expired shares) lists nothing: an expired share is no longer the
  caller's to see (``access.repository_role``).

Translation only: the repository is looked up through the catalogue (NotFound for one the caller may
not read, as every SWR repository path answers); ``service.repository_access`` and
``service.sharing`` decide the rest. SWR's documents ask clients to write a ``/`` of a repository name
as ``$`` in these paths; ``$`` is never part of a name, so it is read as ``/`` (``%2F`` works too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, Query, Response
from pydantic import BaseModel, ConfigDict, StrictStr

from repohub.api.deps import StateDep
from repohub.api.openapi import COMMON, TOO_LARGE
from repohub.api.parameters import StrictInteger
from repohub.api.render import iso
from repohub.api.routing import PrefixRouter
from repohub.api.swr import filters
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_response
from repohub.api.swr.router import PREFIX
from repohub.api.swr.schemas import (
    ShowReposResp,
    UserAuth,
    UserAuthIn,
    grants_of,
    repo_item_of,
    user_auth_of,
    user_ids_of,
)
from repohub.domain.access_records import RepositoryGrant, Share, ShareChanges, SharedBy, SharedQuery
from repohub.domain.clock import utcnow
from repohub.domain.entities import Membership, Repository, RepositorySummary
from repohub.domain.errors import InvalidInput
from repohub.domain.repository_access import RepositoryAccess
from repohub.domain.service import Service
from repohub.domain.sharing import is_live

__all__ = ["V3_PREFIX", "router", "v3_router"]

V3_PREFIX = "/v3/manage"
router = PrefixRouter(
    prefix=PREFIX, tags=["SWR"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)
v3_router = PrefixRouter(
    prefix=V3_PREFIX, tags=["SWR"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)

NS = "/namespaces/{namespace:segment}"
ACCESS = NS + "/repos/{repository:segment}/access"
DOMAINS = NS + "/repositories/{repository:segment}/access-domains"
DOMAIN = DOMAINS + "/{access_domain:segment}"
FOREVER = "forever"
SHARED_KEYS = ("center", "namespace", "name", "limit", "offset", "order_column", "order_type")
V3_DEFAULT_LIMIT, V3_MAX_LIMIT = 100, 1000
WITH_BODY = error_responses(TOO_LARGE)
PAGED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"Content-Range": {"description": "offset-count/total, when paged"}}}
}
Text = Annotated[str | None, Query()]
_FORBID = ConfigDict(extra="forbid")


# -- wire models -------------------------------------------------------------------------------------
class UserRepositoryAuth(BaseModel):
    """``ShowUserRepositoryAuthResponse``: the repository's id and name, the caller's effective
    ``auth`` on it, and every other user's grant on it."""

    id: int
    name: str
    self_auth: UserAuth
    others_auths: list[UserAuth]


class CreateRepoDomainsBody(BaseModel):
    model_config = _FORBID
    access_domain: StrictStr
    permit: StrictStr
    deadline: StrictStr
    description: StrictStr = ""


class UpdateRepoDomainsBody(BaseModel):
    model_config = _FORBID
    permit: StrictStr
    deadline: StrictStr
    description: StrictStr | None = None  # left out: kept


class RepoDomain(BaseModel):
    """``ShowRepoDomainsResponse``."""

    namespace: str
    repository: str
    access_domain: str
    permit: str
    deadline: str
    description: str
    creator_id: str
    creator_name: str
    created: str
    updated: str
    status: bool


class AccessDomain(RepoDomain):
    """``ShowAccessDomainResponse``."""

    exist: bool


class SharedRepoV3(BaseModel):
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


class SharedReposV3(BaseModel):
    repos: list[SharedRepoV3]
    nextMarker: int | None = None  # SWR's spelling; absent on the last page


# -- helpers -----------------------------------------------------------------------------------------
async def _repository(service: Service, namespace: str, repository: str) -> Repository:
    return await service.catalog.repository(namespace, repository.replace("$", "/"))


def _grant_auth(grant: RepositoryGrant) -> dict[str, Any]:
    return user_auth_of(Membership(namespace_id=0, user=grant.user, role=grant.role))


def repository_auth_of(access: RepositoryAccess) -> dict[str, Any]:
    return {
        "id": access.repository.id,
        "name": access.repository.name,
        "self_auth": _grant_auth(access.caller),
        "others_auths": [_grant_auth(grant) for grant in access.others],
    }


def deadline_of(text: str) -> datetime | None:
    """``forever`` (None) or a time, UTC unless it names its zone."""
    if text == FOREVER:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"deadline must be {FOREVER!r} or a UTC time such as 2030-01-01T00:00:00Z, not {text[:40]!r}",
            field="deadline",
        ) from None


def share_of(share: Share, now: datetime) -> dict[str, Any]:
    return {
        "namespace": share.namespace,
        "repository": share.repository,
        "access_domain": share.access_domain,
        "permit": share.permit,
        "deadline": FOREVER if share.expires_at is None else iso(share.expires_at),
        "description": share.description,
        "creator_id": "" if share.creator_id is None else str(share.creator_id),
        "creator_name": share.creator,
        "created": iso(share.created_at),
        "updated": iso(share.updated_at),
        "status": is_live(share, now),
    }


def _shared_by(value: str | None, field: str) -> SharedBy:
    try:
        return SharedBy(value or "")
    except ValueError:
        raise InvalidInput(f"{field} must be self or thirdparty", field=field) from None


# -- per-repository permissions ----------------------------------------------------------------------
@router.post(ACCESS, status_code=201, response_class=Response, responses=WITH_BODY)
async def create_user_repository_auth(
    namespace: str, repository: str, body: list[UserAuthIn], service: ServiceDep
) -> Response:
    """Give users a role on this repository alone: auth 7 = admin, 3 = member, 1 = viewer; the
    repository's admins only. 409 if one has a grant on it already."""
    repo = await _repository(service, namespace, repository)
    await service.repository_access.grant(repo, grants_of(body), change=False)
    return Response(status_code=201)


@router.get(ACCESS, response_model=UserRepositoryAuth)
async def show_user_repository_auth(namespace: str, repository: str, service: ServiceDep) -> Response:
    """The caller's effective auth on the repository and the other users' grants on it."""
    repo = await _repository(service, namespace, repository)
    return json_response(repository_auth_of(await service.repository_access.access(repo)))


@router.patch(ACCESS, status_code=201, response_class=Response, responses=WITH_BODY)
async def update_user_repository_auth(
    namespace: str, repository: str, body: list[UserAuthIn], service: ServiceDep
) -> Response:
    """Change the auth of users who have a grant on the repository."""
    repo = await _repository(service, namespace, repository)
    await service.repository_access.grant(repo, grants_of(body), change=True)
    return Response(status_code=201)


@router.delete(ACCESS, status_code=204, response_class=Response, responses=WITH_BODY)
async def delete_user_repository_auth(
    namespace: str, repository: str, service: ServiceDep, body: Annotated[list[str], Body()]
) -> Response:
    """Remove users' grants on the repository, given by id."""
    repo = await _repository(service, namespace, repository)
    await service.repository_access.revoke(repo, user_ids_of(body))
    return Response(status_code=204)


# -- shared repositories -----------------------------------------------------------------------------
@router.post(DOMAINS, status_code=201, response_class=Response, responses=WITH_BODY)
async def create_repo_domains(
    namespace: str, repository: str, body: CreateRepoDomainsBody, service: ServiceDep
) -> Response:
    """Share the repository with another namespace (``access_domain``), read-only, until the deadline."""
    repo = await _repository(service, namespace, repository)
    await service.sharing.share(
        repo,
        body.access_domain,
        permit=body.permit,
        expires_at=deadline_of(body.deadline),
        description=body.description,
    )
    return Response(status_code=201)


@router.get(DOMAINS, response_model=list[RepoDomain])
async def list_repo_domains(namespace: str, repository: str, service: ServiceDep) -> Response:
    """The repository's shares, expired ones included (``status`` false)."""
    repo = await _repository(service, namespace, repository)
    now = utcnow()
    return json_response([share_of(share, now) for share in await service.sharing.shares(repo)])


@router.get(DOMAIN, response_model=AccessDomain)
async def show_access_domain(
    namespace: str, repository: str, access_domain: str, service: ServiceDep
) -> Response:
    """The repository's share with one namespace (404 if it has none)."""
    repo = await _repository(service, namespace, repository)
    share = await service.sharing.share_with(repo, access_domain)
    return json_response({"exist": True, **share_of(share, utcnow())})


@router.patch(DOMAIN, status_code=201, response_class=Response, responses=WITH_BODY)
async def update_repo_domains(
    namespace: str, repository: str, access_domain: str, body: UpdateRepoDomainsBody, service: ServiceDep
) -> Response:
    """A new permit, deadline and (when given) description for a share."""
    repo = await _repository(service, namespace, repository)
    changes = ShareChanges(
        permit=body.permit, expires_at=deadline_of(body.deadline), description=body.description
    )
    await service.sharing.update(repo, access_domain, changes)
    return Response(status_code=201)


@router.delete(DOMAIN, status_code=204, response_class=Response)
async def delete_repo_domains(
    namespace: str, repository: str, access_domain: str, service: ServiceDep
) -> Response:
    """End a share: the access domain's members lose access at once."""
    repo = await _repository(service, namespace, repository)
    await service.sharing.unshare(repo, access_domain)
    return Response(status_code=204)


@router.get("/shared-repositories", response_model=list[ShowReposResp], responses=PAGED)
async def list_shared_repos_details(
    service: ServiceDep,
    state: StateDep,
    center: Annotated[
        str | None, Query(description="self or thirdparty (required here or in filter)")
    ] = None,
    namespace: Text = None,
    name: Annotated[str | None, Query(description="case-insensitive substring of the name")] = None,
    limit: Text = None,
    offset: Text = None,
    order_column: Annotated[
        str | None, Query(description="name, updated_at, updated_time, tag_count")
    ] = None,
    order_type: Text = None,
    filter: Annotated[str | None, Query(description="key::value pairs joined by '|'; wins")] = None,
) -> Response:
    """Repositories shared by the caller's namespaces (``center=self``) or with them (``thirdparty``)."""
    given = {
        "center": center,
        "namespace": namespace,
        "name": name,
        "limit": limit,
        "offset": offset,
        "order_column": order_column,
        "order_type": order_type,
    }
    values = filters.merged(given, filter, SHARED_KEYS)
    shared_by = _shared_by(values.get("center"), "center")
    repo_query, page = filters.repo_query(values)
    query = SharedQuery(
        shared_by=shared_by,
        namespace=repo_query.namespace,
        name_contains=repo_query.name_contains,
        order=repo_query.order,
        descending=repo_query.descending,
        offset=page.offset,
        limit=page.limit,
    )
    found = await service.sharing.shared_repositories(query)
    host, domain = state.settings.registry_host, state.settings.domain_name
    live = shared_by is SharedBy.THIRDPARTY
    rows = [{**repo_item_of(repo, host, domain, found.total), "status": live} for repo in found.items]
    headers = (
        {"Content-Range": filters.content_range(page, len(rows), found.total)} if page.explicit else None
    )
    return json_response(rows, headers=headers)


def _v3_item(repo: RepositorySummary, domain: str, live: bool) -> dict[str, Any]:
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
        "domain_name": domain,
        "namespace_name": repo.namespace,
        "status": live,
    }


@v3_router.get("/shared-repositories", response_model=SharedReposV3)
async def list_shared_repo_details(
    service: ServiceDep,
    state: StateDep,
    shared_by: Annotated[str | None, Query(description="self or thirdparty (required)")] = None,
    namespace: Text = None,
    name: Annotated[str | None, Query(description="exact repository name; '$' for '/'")] = None,
    limit: Annotated[StrictInteger | None, Query(ge=1, le=V3_MAX_LIMIT)] = None,
    marker: Annotated[StrictInteger | None, Query(ge=0, description="nextMarker of the last page")] = None,
    status: Annotated[str | None, Query(description="true: live shares (thirdparty); false: expired")] = None,
) -> Response:
    """``list_shared_repos_details`` by repository id, marker paged."""
    side = _shared_by(shared_by, "shared_by")
    if status not in (None, "true", "false"):
        raise InvalidInput("status must be true or false", field="status")
    size = V3_DEFAULT_LIMIT if limit is None else limit
    if side is SharedBy.THIRDPARTY and status == "false":
        return json_response({"repos": []})
    query = SharedQuery(
        shared_by=side,
        namespace=namespace or None,
        name=name.replace("$", "/") if name else None,
        limit=size,
        from_id=marker or 0,
    )
    found = await service.sharing.shared_repositories(query)
    domain, live = state.settings.domain_name, side is SharedBy.THIRDPARTY
    content: dict[str, Any] = {"repos": [_v3_item(repo, domain, live) for repo in found.items[:size]]}
    if len(found.items) > size:
        content["nextMarker"] = found.items[size].id
    return json_response(content)
