"""SWR's four immutable-tag rule calls (enterprise edition):
``/v2/{project_id}/instances/{instance_id}/[namespaces/{namespace_name}/]immutabletagrules``.

Translation only: :data:`~repohub.api.swr.instances.InstanceScope` checks the caller (401) and the
instance (404), then ``service.immutable_rules`` decides who may do what and what a valid rule is
(``domain.immutability.policies``, whose docstring also says why a list narrowed to a namespace the
caller may not read is empty rather than a 404). The body is taken as plain JSON and handed to
``parse_rule`` as it came; ``schemas.IMMUTABLE_RULE_BODY_SCHEMA`` documents it.

Answers as SWR's documents give them and huaweicloudsdkswr's response models read them: creation
201 with ``{"id": N}`` (``CreateImmutableRuleResponse.id``), the list 200 with ``{"immutable_rules",
"total"}``, replacement and deletion 200 with no body (their response models have no fields). A rule
id that is not an integer is NotFound, as repohub's other numeric path ids: no such rule can exist.
``offset`` need not be a multiple of ``limit`` (SWR's documents ask that of clients; any offset is
answered).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Response

from repohub.api.openapi import COMMON, TOO_LARGE
from repohub.api.parameters import StrictInteger
from repohub.api.routing import PrefixRouter
from repohub.api.swr.errors import error_responses
from repohub.api.swr.instances import INSTANCE, PREFIX, InstanceScope
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_object, json_response, path_id
from repohub.api.swr.schemas import IMMUTABLE_RULE_BODY_SCHEMA, ImmutableRuleCreated, ImmutableRuleList
from repohub.domain.immutability.policies import DEFAULT_PAGE, MAX_OFFSET, MAX_PAGE

__all__ = ["router"]

router = PrefixRouter(
    prefix=PREFIX, tags=["SWR enterprise"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)

RULES = INSTANCE + "/immutabletagrules"
OF_NAMESPACE = INSTANCE + "/namespaces/{namespace_name:segment}/immutabletagrules"
ONE = OF_NAMESPACE + "/{immutable_rule_id:segment}"
WITH_BODY = error_responses(TOO_LARGE)
_BODY = {"requestBody": {"content": {"application/json": {"schema": IMMUTABLE_RULE_BODY_SCHEMA}}}}
RuleBody = Annotated[
    Any, Body(description="{priority, disabled, tag_selectors, scope_selectors}: the schema")
]


def _rule(body: Any) -> dict[str, Any]:
    return json_object(body, "{priority, disabled, tag_selectors, scope_selectors}")


def _rule_id(text: str) -> int:
    return path_id(text, field="immutable_rule_id", what="immutable-tag rule")


@router.post(
    OF_NAMESPACE,
    status_code=201,
    response_model=ImmutableRuleCreated,
    responses=WITH_BODY,
    openapi_extra=_BODY,
)
async def create_immutable_rule(call: InstanceScope, namespace_name: str, body: RuleBody) -> Response:
    """A new rule in the namespace (at most 15 a namespace); namespace admins only."""
    created = await call.service.immutable_rules.create(namespace_name, _rule(body))
    return json_response({"id": created}, status=201)


@router.get(RULES, response_model=ImmutableRuleList)
async def list_immutable_rules(
    call: InstanceScope,
    namespace_id: Annotated[
        StrictInteger | None, Query(ge=0, description="only this namespace's rules (its id)")
    ] = None,
    offset: Annotated[StrictInteger, Query(ge=0, le=MAX_OFFSET, description="start index; default 0")] = 0,
    limit: Annotated[
        StrictInteger, Query(ge=1, le=MAX_PAGE, description=f"default {DEFAULT_PAGE}, at most {MAX_PAGE}")
    ] = DEFAULT_PAGE,
) -> Response:
    """The rules of every namespace the caller has a role in (a site admin: all), by namespace,
    priority and id; ``namespace_id`` narrows it (to nothing for a namespace the caller may not read)."""
    page = await call.service.immutable_rules.list(namespace_id, offset, limit)
    return json_response({"immutable_rules": [rule.to_json() for rule in page.items], "total": page.total})


@router.put(ONE, status_code=200, response_class=Response, responses=WITH_BODY, openapi_extra=_BODY)
async def update_immutable_rule(
    call: InstanceScope, namespace_name: str, immutable_rule_id: str, body: RuleBody
) -> Response:
    """Replace the rule (priority, disabled and both selectors); namespace admins only."""
    await call.service.immutable_rules.update(
        namespace_name,
        _rule_id(immutable_rule_id),
        _rule(body),
    )
    return Response(status_code=200)


@router.delete(ONE, status_code=200, response_class=Response)
async def delete_immutable_rule(call: InstanceScope, namespace_name: str, immutable_rule_id: str) -> Response:
    """Namespace admins only; the tags it protected may change again at once."""
    await call.service.immutable_rules.delete(namespace_name, _rule_id(immutable_rule_id))
    return Response(status_code=200)
