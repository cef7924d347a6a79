"""SWR's six webhook policy calls (enterprise edition, Harbor's webhooks; the console calls them
triggers): ``/v2/{project_id}/instances/{instance_id}/[namespaces/{namespace_name}/]webhook/policies``.

Translation only: :data:`~repohub.api.swr.instances.InstanceScope` checks the caller (401) and the
instance (404), ``webhook_bodies.parse_policy`` reads the body, and ``service.webhooks``
(``domain.webhooks.policies``) decides who may do what, what a valid hook is and whether its target
may be called. Namespace admins manage the policies of their namespace; a policy by id is one the
caller administers in the path's namespace or a 404, and the instance-wide list shows the policies
of the namespaces the caller administers (narrowed by ``namespace_id`` to one it does not: empty).

Answers as SWR's documents give them and huaweicloudsdkswr's models read them: creation 201 with
``{"id": N}`` (``CreateInstanceWebhookResponse``), a policy as ``WebhookPolicyDetail``, the list
``{"policies", "total"}``, the jobs ``{"jobs", "total"}`` (one job per delivery attempt, newest
first), replacement and deletion 200 without a body (their response models have no fields), as the
immutable-tag rule calls answer. A paged list (``offset`` or ``limit`` given) also carries
``Content-Range``, as SWR's other paged lists do. ``auth_header`` is never in an answer: it is left
out of the target, so a policy read and sent back keeps its header list. Every hook of the namespace
is listed, Alauda's ``/v1/hooks`` too: its URL as the target's address, its repository (or ``**``)
as the scope rule's repository selector.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Body, Query, Response
from pydantic import BaseModel

from repohub.api.openapi import COMMON, TOO_LARGE
from repohub.api.parameters import StrictInteger
from repohub.api.render import iso
from repohub.api.routing import PrefixRouter
from repohub.api.swr import filters
from repohub.api.swr.errors import error_responses
from repohub.api.swr.instances import INSTANCE, PREFIX, InstanceScope
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_object, json_response, path_id
from repohub.api.swr.schemas import IMMUTABLE_RULE_BODY_SCHEMA, RuleSelector
from repohub.api.swr.webhook_bodies import (
    EVENT_OF_TYPE,
    NAME_PATTERN,
    TARGET_TYPE,
    TYPE_OF_EVENT,
    event_types,
    parse_policy,
    scope_of,
)
from repohub.domain.errors import InvalidInput
from repohub.domain.webhooks.hooks import Hook, Job
from repohub.domain.webhooks.policies import (
    ADDRESS_TYPES,
    MAX_DESCRIPTION,
    MAX_OFFSET,
    MAX_PAGE,
    ORDERS,
    REPO_SCOPE_MODES,
)
from repohub.store.webhooks import HookQuery

__all__ = ["job_of", "policy_of", "router"]

router = PrefixRouter(
    prefix=PREFIX, tags=["SWR enterprise"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)

POLICIES = INSTANCE + "/webhook/policies"
OF_NAMESPACE = INSTANCE + "/namespaces/{namespace_name:segment}/webhook/policies"
ONE = OF_NAMESPACE + "/{policy_id:segment}"
JOBS = ONE + "/jobs"
DEFAULT_PAGE = 10  # SWR's documented default for both lists
ORDER_TYPES = {"desc": True, "asc": False}
NOTIFY_TYPE = "http"
WITH_BODY = error_responses(TOO_LARGE)
PAGED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"Content-Range": {"description": "offset-count/total, when paged"}}}
}
PolicyBody = Annotated[
    Any, Body(description="{name, description, targets, scope_rules, event_types, enabled}: the schema")
]
Offset = Annotated[StrictInteger | None, Query(ge=0, le=MAX_OFFSET, description="start index; default 0")]
Limit = Annotated[
    StrictInteger | None, Query(ge=1, le=MAX_PAGE, description=f"default {DEFAULT_PAGE}, at most {MAX_PAGE}")
]


# -- OpenAPI ----------------------------------------------------------------------------------------
_SCOPE_RULE_SCHEMA = {
    "type": "object",
    "required": ["tag_selectors", "scope_selectors"],
    "additionalProperties": False,
    "properties": {
        "tag_selectors": IMMUTABLE_RULE_BODY_SCHEMA["properties"]["tag_selectors"],
        "scope_selectors": IMMUTABLE_RULE_BODY_SCHEMA["properties"]["scope_selectors"],
        "repo_scope_mode": {"type": "string", "enum": list(REPO_SCOPE_MODES), "default": "regular"},
    },
}
POLICY_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "targets", "event_types"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
        "targets": {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["address"],
                "additionalProperties": False,
                "properties": {
                    "type": {"type": "string", "enum": [TARGET_TYPE]},
                    "address": {"type": "string", "description": "http(s) URL of a public host"},
                    "auth_header": {
                        "type": ["string", "null"],
                        "description": "key1:value1;key2:value2; left out: kept; empty: removed",
                    },
                    "skip_cert_verify": {"type": "boolean", "default": False},
                    "address_type": {"type": "string", "enum": list(ADDRESS_TYPES), "default": "internet"},
                },
            },
        },
        "scope_rules": {
            "type": "array",
            "maxItems": 1,
            "items": _SCOPE_RULE_SCHEMA,
            "description": "none: every repository, every tag",
        },
        "event_types": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "enum": list(EVENT_OF_TYPE)},
        },
        "enabled": {"type": "boolean", "default": True},
    },
}
_BODY = {"requestBody": {"content": {"application/json": {"schema": POLICY_BODY_SCHEMA}}}}


class PolicyCreated(BaseModel):
    id: int


class TargetOut(BaseModel):
    type: str
    address: str
    skip_cert_verify: bool
    address_type: str


class ScopeRuleOut(BaseModel):
    tag_selectors: list[RuleSelector]
    scope_selectors: dict[str, list[RuleSelector]]
    repo_scope_mode: str


class WebhookPolicyDetail(BaseModel):
    id: int
    name: str
    description: str
    targets: list[TargetOut]
    event_types: list[str]
    enabled: bool
    namespace_id: int
    namespace_name: str
    creator: str
    created_at: str
    updated_at: str
    scope_rules: list[ScopeRuleOut]


class PolicyList(BaseModel):
    policies: list[WebhookPolicyDetail]
    total: int


class JobOut(BaseModel):
    id: int
    policy_id: int
    event_type: str
    notify_type: str
    status: str
    status_text: str
    job_detail: str
    created_at: str
    updated_at: str


class JobList(BaseModel):
    jobs: list[JobOut]
    total: int


# -- rendering --------------------------------------------------------------------------------------
def policy_of(hook: Hook) -> dict[str, Any]:
    """SWR's ``WebhookPolicyDetail``, without ``auth_header`` (module doc)."""
    spec = hook.spec
    scope = scope_of(spec)
    target = {
        "type": TARGET_TYPE,
        "address": spec.url,
        "skip_cert_verify": spec.skip_cert_verify,
        "address_type": spec.address_type,
    }
    return {
        "id": hook.id,
        "name": spec.name,
        "description": spec.description,
        "targets": [target],
        "event_types": event_types(spec.events),
        "enabled": spec.enabled,
        "namespace_id": hook.namespace_id,
        "namespace_name": hook.namespace,
        "creator": hook.creator,
        "created_at": iso(hook.created_at),
        "updated_at": iso(hook.updated_at),
        "scope_rules": [
            {
                "tag_selectors": [scope.tag.to_json()],
                "scope_selectors": {"repository": [scope.repository.to_json()]},
                "repo_scope_mode": scope.repo_scope_mode,
            }
        ],
    }


def job_of(job: Job) -> dict[str, Any]:
    """SWR's ``Job``: one attempt; ``job_detail`` what it delivered and how the receiver answered."""
    detail = {
        "delivery_id": job.delivery_id,
        "response_code": job.response_code,
        "duration_ms": job.duration_ms,
        "event": json.loads(job.event),
    }
    at = iso(job.created_at)
    return {
        "id": job.id,
        "policy_id": job.hook_id,
        "event_type": TYPE_OF_EVENT.get(job.action, job.action),
        "notify_type": NOTIFY_TYPE,
        "status": job.status,
        "status_text": job.status_text,
        "job_detail": json.dumps(detail, separators=(",", ":")),
        "created_at": at,
        "updated_at": at,  # an attempt, once recorded, does not change
    }


def _policy_id(text: str) -> int:
    return path_id(text, field="policy_id", what="webhook policy")


def _paged(offset: int | None, limit: int | None) -> filters.Paging:
    explicit = offset is not None or limit is not None
    return filters.Paging(offset or 0, limit or DEFAULT_PAGE, explicit)


def _listed(page: filters.Paging, key: str, items: list[dict[str, Any]], total: int) -> Response:
    headers = {"Content-Range": filters.content_range(page, len(items), total)} if page.explicit else None
    return json_response({key: items, "total": total}, headers=headers)


def _query(
    page: filters.Paging,
    namespace_id: int | None,
    name: str | None,
    order_column: str | None,
    order_type: str | None,
) -> HookQuery:
    if order_type is not None and order_type not in ORDER_TYPES:
        raise InvalidInput("order_type must be desc or asc", field="order_type")
    if order_column is not None and order_column not in ORDERS:
        raise InvalidInput(f"order_column must be one of {', '.join(ORDERS)}", field="order_column")
    return HookQuery(
        namespace_ids=None if namespace_id is None else [namespace_id],
        name=name or None,
        order=order_column or "created_at",
        descending=ORDER_TYPES[order_type or "desc"],
        offset=page.offset,
        limit=page.limit,
    )


# -- the calls --------------------------------------------------------------------------------------
@router.post(
    OF_NAMESPACE, status_code=201, response_model=PolicyCreated, responses=WITH_BODY, openapi_extra=_BODY
)
async def create_instance_webhook(call: InstanceScope, namespace_name: str, body: PolicyBody) -> Response:
    """A new policy of the namespace, created by the caller; namespace admins only. Its target must be
    a public http(s) host unless the operator allows private ones (REPOHUB_WEBHOOK_ALLOW_PRIVATE)."""
    policy = parse_policy(json_object(body, "{name, targets, event_types, ...}"))
    created = await call.service.webhooks.create(namespace_name, policy.spec())
    return json_response({"id": created.id}, status=201)


@router.get(POLICIES, response_model=PolicyList, responses=PAGED)
async def list_instance_webhooks(
    call: InstanceScope,
    order_column: Annotated[str | None, Query(description="created_at (default), updated_at, name")] = None,
    order_type: Annotated[str | None, Query(description="desc (default) or asc")] = None,
    name: Annotated[str | None, Query(description="case-insensitive part of the name")] = None,
    namespace_id: Annotated[StrictInteger | None, Query(ge=0, description="only this namespace's")] = None,
    offset: Offset = None,
    limit: Limit = None,
) -> Response:
    """The policies of every namespace the caller administers (a site admin: all), Alauda's hooks
    among them; ``namespace_id`` narrows it (to nothing for one the caller does not administer)."""
    page = _paged(offset, limit)
    query = _query(page, namespace_id, name, order_column, order_type)
    found = await call.service.webhooks.list(query)
    return _listed(page, "policies", [policy_of(hook) for hook in found.items], found.total)


@router.get(ONE, response_model=WebhookPolicyDetail)
async def show_instance_webhook(call: InstanceScope, namespace_name: str, policy_id: str) -> Response:
    hook = await call.service.webhooks.get(_policy_id(policy_id), namespace_name)
    return json_response(policy_of(hook))


@router.put(ONE, status_code=200, response_class=Response, responses=WITH_BODY, openapi_extra=_BODY)
async def update_instance_webhook(
    call: InstanceScope, namespace_name: str, policy_id: str, body: PolicyBody
) -> Response:
    """Replace what the policy says (a left-out ``auth_header`` is kept); namespace admins only."""
    hook_id = _policy_id(policy_id)
    policy = parse_policy(json_object(body, "{name, targets, event_types, ...}"))
    await call.service.webhooks.update(hook_id, policy.revise, namespace_name)
    return Response(status_code=200)


@router.delete(ONE, status_code=200, response_class=Response)
async def delete_instance_webhook(call: InstanceScope, namespace_name: str, policy_id: str) -> Response:
    """The policy and its jobs; deliveries not yet made are dropped."""
    await call.service.webhooks.delete(_policy_id(policy_id), namespace_name)
    return Response(status_code=200)


@router.get(JOBS, response_model=JobList, responses=PAGED)
async def list_instance_webhook_jobs(
    call: InstanceScope,
    namespace_name: str,
    policy_id: str,
    offset: Offset = None,
    limit: Limit = None,
    status: Annotated[str | None, Query(description="Succeed or Failed (SWR's other states: none)")] = None,
) -> Response:
    """The policy's delivery attempts, newest first: ``status_text`` the receiver's HTTP status code or
    the connection error."""
    page = _paged(offset, limit)
    found = await call.service.webhooks.jobs(
        _policy_id(policy_id), namespace_name, page.offset, page.limit, status or None
    )
    return _listed(page, "jobs", [job_of(job) for job in found.items], found.total)
