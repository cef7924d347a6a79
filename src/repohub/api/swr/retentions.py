"""SWR's six retention calls (image "aging rules"): ``/v2/manage/namespaces/{ns}/repos/{repo}/retentions``.

Translation only: the repository is looked up through the catalogue first (NotFound for one the
caller may not see, as every SWR repository path answers), then ``service.retentions`` decides who
may do what and what a valid policy is. The body is taken as plain JSON and handed to
``domain.retention.parse_policy`` as it came (``"30"`` and ``30`` alike, the SDK's left-out
``tag_selectors``); it is documented by ``schemas.RETENTION_BODY_SCHEMA``. Creation answers 201 with
``{"id": N}``, update 201 with an empty body, deletion 204, as SWR does and ``huaweicloudsdkswr``'s
response models read them (``CreateRetentionResponse.id``; the update and delete responses have no
fields). A retention id that is not an integer is NotFound, as repohub's other numeric path ids
(ABEJA's): no such policy can exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Response

from repohub.api.openapi import COMMON, TOO_LARGE
from repohub.api.routing import PrefixRouter
from repohub.api.swr import filters
from repohub.api.swr.deps import ServiceDep
from repohub.api.swr.errors import error_responses
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_object, json_response, path_id
from repohub.api.swr.router import PREFIX, REPO
from repohub.api.swr.schemas import (
    RETENTION_BODY_SCHEMA,
    RetentionCreated,
    RetentionHistories,
    ShowRetention,
    retention_entry_of,
    retention_of,
)

__all__ = ["HISTORY_KEYS", "router"]

router = PrefixRouter(
    prefix=PREFIX,
    tags=["SWR"],
    route_class=RawSegmentRoute,
    responses=error_responses(*COMMON),
)

RETENTIONS = REPO + "/retentions"
ONE = RETENTIONS + "/{retention_id:segment}"
HISTORY_KEYS = ("limit", "offset")
WITH_BODY = error_responses(TOO_LARGE)
_BODY = {"requestBody": {"content": {"application/json": {"schema": RETENTION_BODY_SCHEMA}}}}
PolicyBody = Annotated[Any, Body(description="{algorithm, rules}: see the schema")]
Text = Annotated[str | None, Query()]


def _policy(body: Any) -> dict[str, Any]:
    return json_object(body, "{algorithm, rules}")


def _retention_id(text: str) -> int:
    return path_id(text, field="retention_id", what="retention policy")


@router.post(
    RETENTIONS,
    status_code=201,
    response_model=RetentionCreated,
    responses=WITH_BODY,
    openapi_extra=_BODY,
)
async def create_retention(
    namespace: str, repository: str, body: PolicyBody, service: ServiceDep
) -> Response:
    """The repository's retention policy (one per repository); namespace admins only."""
    repo = await service.catalog.repository(namespace, repository)
    created = await service.retentions.create(repo, _policy(body))
    return json_response({"id": created}, status=201)


@router.get(RETENTIONS, response_model=list[ShowRetention])
async def list_retentions(namespace: str, repository: str, service: ServiceDep) -> Response:
    repo = await service.catalog.repository(namespace, repository)
    return json_response([retention_of(item) for item in await service.retentions.list(repo)])


# Before ``{retention_id}``: "histories" is no id.
@router.get(
    RETENTIONS + "/histories",
    response_model=RetentionHistories,
    responses={200: {"headers": {"Content-Range": {"description": "offset-count/total, when paged"}}}},
)
async def list_retention_histories(
    namespace: str,
    repository: str,
    service: ServiceDep,
    limit: Text = None,
    offset: Text = None,
    filter: Annotated[str | None, Query(description="limit::N|offset::M; wins over the parameters")] = None,
) -> Response:
    """The tags retention runs deleted from the repository, and those they chose but an immutable-tag
    rule kept (``outcome`` "kept", ``reason`` naming the rule), newest first. A kept tag is logged
    once per tag and rule, not again on every run that keeps it, so the history does not grow while
    nothing changes."""
    page = filters.paging(filters.merged({"limit": limit, "offset": offset}, filter, HISTORY_KEYS))
    repo = await service.catalog.repository(namespace, repository)
    found = await service.retentions.history(repo, page.offset, page.limit)
    entries = [retention_entry_of(entry) for entry in found.items]
    headers = (
        {"Content-Range": filters.content_range(page, len(entries), found.total)} if page.explicit else None
    )
    return json_response({"retention_log": entries, "total": found.total}, headers=headers)


@router.get(ONE, response_model=ShowRetention)
async def show_retention(namespace: str, repository: str, retention_id: str, service: ServiceDep) -> Response:
    repo = await service.catalog.repository(namespace, repository)
    return json_response(retention_of(await service.retentions.get(repo, _retention_id(retention_id))))


@router.patch(ONE, status_code=201, response_class=Response, responses=WITH_BODY, openapi_extra=_BODY)
async def update_retention(
    namespace: str, repository: str, retention_id: str, body: PolicyBody, service: ServiceDep
) -> Response:
    """Replace the policy's rules; namespace admins only."""
    repo = await service.catalog.repository(namespace, repository)
    await service.retentions.update(
        repo,
        _retention_id(retention_id),
        _policy(body),
    )
    return Response(status_code=201)


@router.delete(ONE, status_code=204, response_class=Response)
async def delete_retention(
    namespace: str, repository: str, retention_id: str, service: ServiceDep
) -> Response:
    """Namespace admins only; the log of what it deleted stays."""
    repo = await service.catalog.repository(namespace, repository)
    await service.retentions.delete(repo, _retention_id(retention_id))
    return Response(status_code=204)
