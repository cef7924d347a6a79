"""The ABEJA Platform registry dialect: translate HTTP to the service and back, nothing more.

``organization_id`` is a namespace's numeric id and ``repository_id`` a repository's, so ids are
the same as in every other dialect. Every call needs a signed-in user (see ``deps``).

Visibility follows the rule all dialects share, decided by the service: an organization's private
repositories exist only for its members; to anyone else they are 404, listed or fetched. Its public
repositories are readable by every signed-in user, so listing an organization one does not belong
to shows its public repositories only (what an ABEJA user expects of a shared, public image).
An organization holding nothing the caller may read, and in which it has no role, does not exist for
it: showing, listing or creating there answers as an unknown id does, and a repository path through it
as an unknown repository does. One with a public repository is shown (its repositories are listed to
anyone anyway); creating there without a role is then a 403.

Paging: ``limit`` defaults to 10 and may be 1 to 100, ``offset`` counts from 0 — the ABEJA
registry docs show only the default 10 (their sample), and 1..100 is what ABEJA documents for its
other list calls (e.g. secrets). Anything else is a 400, never a silent clamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Query, Response

from repohub.api.abeja.deps import ServiceDep
from repohub.api.abeja.errors import error_responses
from repohub.api.abeja.schemas import (
    Organization,
    RepositoryCreate,
    RepositoryDetail,
    RepositoryPage,
    TagPage,
    repository_page_fields,
    tag_page_fields,
)
from repohub.api.openapi import COMMON, REGISTRY_REFUSED, TOO_LARGE
from repohub.api.parameters import StrictInteger
from repohub.api.render import json_response
from repohub.api.routing import PrefixRouter, plain
from repohub.domain.catalog import MAX_PAGE
from repohub.domain.entities import Namespace, Repository, Tag
from repohub.domain.errors import InvalidInput, NotFound
from repohub.domain.numbers import parse_integer
from repohub.domain.queries import RepoOrder, RepoQuery, TagQuery
from repohub.domain.service import Service

PREFIX = "/organizations"
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000_000

router = PrefixRouter(
    prefix=PREFIX,
    tags=["ABEJA"],
    responses=error_responses(*COMMON),
)
Limit = Annotated[StrictInteger, Query(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT}")]
Offset = Annotated[StrictInteger, Query(ge=0, le=MAX_OFFSET, description="from 0")]
_REPOSITORIES = "/{organization_id}/registry/repositories"
_REPOSITORY = _REPOSITORIES + "/{repository_id}"


def _parse_id(value: str, what: str) -> int:
    try:
        return parse_integer(value, field=what)
    except InvalidInput:
        raise NotFound(f"{what} {value[:32]!r} not found") from None  # no such id can exist


@contextmanager
def _as_organization(organization_id: str) -> Iterator[None]:
    """A namespace the block did not find (missing, or hidden from the caller) as ABEJA words it."""
    try:
        yield
    except NotFound as error:
        raise NotFound(f"organization {organization_id!r} not found") from error


async def _organization(service: Service, organization_id: str) -> Namespace:
    with _as_organization(organization_id):
        return await service.catalog.namespace_by_id(_parse_id(organization_id, "organization"))


async def _repository(
    service: Service, organization_id: str, repository_id: str
) -> tuple[Namespace, Repository]:
    """The repository first: through an organization that is missing or hidden, it is what an
    unknown repository is."""
    namespace_id = _parse_id(organization_id, "organization")
    # One read for both (~100 µs of CPU of a tag page, issue 19).
    return await service.catalog.namespaced_repository_by_id(
        namespace_id, _parse_id(repository_id, "repository")
    )


async def _all_tags(service: Service, repo: Repository) -> list[Tag]:
    """Every tag of the repository, newest first (the repository object carries them all)."""
    tags: list[Tag] = []
    while True:
        page = await service.catalog.list_tags(repo, TagQuery(offset=len(tags), limit=MAX_PAGE))
        tags.extend(page.items)
        if not page.has_next or not page.items:
            return tags


async def _detail(service: Service, namespace: Namespace, repo: Repository) -> RepositoryDetail:
    tags = await _all_tags(service, repo)
    facts = await service.catalog.creator_facts(namespace, [repo.creator, *(tag.creator for tag in tags)])
    return RepositoryDetail.with_tags(repo, tags, facts)


@router.get("/{organization_id}", response_model=Organization)
async def get_organization(organization_id: str, service: ServiceDep) -> Organization:
    """The organization (a repohub namespace) by its numeric id."""
    with _as_organization(organization_id):
        namespace_id = _parse_id(organization_id, "organization")
        return Organization.of(await service.catalog.shown_namespace_by_id(namespace_id))


@router.post(_REPOSITORIES, response_model=RepositoryDetail, responses=error_responses(TOO_LARGE))
async def create_repository(
    organization_id: str, body: RepositoryCreate, service: ServiceDep
) -> RepositoryDetail:
    """Create a private repository (members and up); 200 with it, as ABEJA answers."""
    namespace = await _organization(service, organization_id)
    with _as_organization(organization_id):
        repo = await service.catalog.create_repository(
            namespace.name, body.name, description=body.description or ""
        )
    return await _detail(service, namespace, repo)


# The two list pages build their own JSON and are called directly (``api.routing.plain``): FastAPI's
# solving and response-model validation were most of their CPU beyond the database (issue 19).
@plain(router, "GET", _REPOSITORIES, response_model=RepositoryPage)
async def list_repositories(
    organization_id: str, service: ServiceDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Response:
    """The organization's repositories the caller may see, by name (entries carry no tags)."""
    namespace = await _organization(service, organization_id)
    with _as_organization(organization_id):
        page = await service.catalog.namespace_page(
            namespace, organization_id, RepoQuery(offset=offset, limit=limit, order=RepoOrder.NAME)
        )
    facts = await service.catalog.creator_facts(namespace, (repo.creator for repo in page.items))
    return json_response(repository_page_fields(namespace, page, facts))


@router.get(_REPOSITORY, response_model=RepositoryDetail)
async def get_repository(organization_id: str, repository_id: str, service: ServiceDep) -> RepositoryDetail:
    return await _detail(service, *await _repository(service, organization_id, repository_id))


@router.delete(_REPOSITORY, response_model=RepositoryDetail, responses=error_responses(REGISTRY_REFUSED))
async def delete_repository(
    organization_id: str, repository_id: str, service: ServiceDep
) -> RepositoryDetail:
    """Delete (organization admins); 200 with the deleted repository, since the SDK reads a body."""
    namespace, repo = await _repository(service, organization_id, repository_id)
    deleted = await _detail(service, namespace, repo)
    await service.catalog.delete_repository(repo)
    return deleted


@plain(router, "GET", _REPOSITORY + "/tags", response_model=TagPage)
async def list_tags(
    organization_id: str,
    repository_id: str,
    service: ServiceDep,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> Response:
    """The repository's tags, newest first."""
    namespace, repo = await _repository(service, organization_id, repository_id)
    page = await service.catalog.list_tags(repo, TagQuery(offset=offset, limit=limit))
    facts = await service.catalog.creator_facts(namespace, (tag.creator for tag in page.items))
    return json_response(tag_page_fields(namespace, repo, page, facts))
