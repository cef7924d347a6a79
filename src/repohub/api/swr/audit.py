"""SWR's audit log (enterprise edition): ``GET /v2/{project_id}/instances/{instance_id}/audit-logs``.

Translation only: ``domain.audit`` decides which entries the caller reads (a site admin: all; anyone
else: those of the namespaces it administers; the rest of the trail never) and pages them newest
first. Each entry of repohub's trail (``store.audit``: every committed write, with who and its
identifying values) becomes SWR's ``AuditLog``:

* ``operation``: what the statement did, ``create``, ``update`` or ``delete`` (SQL's insert, update,
  delete); for what repohub saw rather than did (``tag.immutable_overwritten``), the part after the
  dot (``immutable_overwritten``).
* ``resource_type``: what was written, by its table (``repository``, ``tag``, ``namespace_auth``, ...).
* ``resource``: the identifying values recorded (``name=app namespace_id=3``; never a secret).
* ``username``: who wrote it (empty: the command line, or the registry's events of nobody).
* ``op_time``: when, ISO 8601 UTC.

The ``operation`` filter takes ``create``, ``update`` and ``delete``, and SWR's ``pull``: repohub
counts pulls but does not audit them, so that list is empty. ``offset``/``limit`` as SWR's (10 by
default, at most 100), with ``Content-Range`` when paged, as SWR's other paged lists.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from pydantic import BaseModel

from repohub.api.openapi import COMMON
from repohub.api.parameters import StrictInteger
from repohub.api.render import iso
from repohub.api.routing import PrefixRouter
from repohub.api.swr import filters
from repohub.api.swr.errors import error_responses
from repohub.api.swr.instances import INSTANCE, PREFIX, InstanceScope
from repohub.api.swr.paths import RawSegmentRoute
from repohub.api.swr.plain import json_response
from repohub.domain.audit import MAX_PAGE, AuditLog, AuditRecord
from repohub.domain.entities import Page
from repohub.domain.errors import InvalidInput

__all__ = ["OPERATIONS", "audit_log_of", "router"]

router = PrefixRouter(
    prefix=PREFIX, tags=["SWR enterprise"], route_class=RawSegmentRoute, responses=error_responses(*COMMON)
)

AUDIT_LOGS = INSTANCE + "/audit-logs"
DEFAULT_PAGE = 10  # SWR's documented default
MAX_OFFSET = 10_000_000
OPERATIONS = {"insert": "create", "update": "update", "delete": "delete"}  # statement → SWR
VERB_OF = {operation: verb for verb, operation in OPERATIONS.items()}
PULL = "pull"  # SWR's, accepted: repohub audits no pulls
# A table's rows as SWR names the resource (the rest: the table's own name).
RESOURCE_TYPES = {
    "namespaces": "namespace",
    "memberships": "namespace_auth",
    "repositories": "repository",
    "tags": "tag",
    "stars": "star",
    "users": "user",
    "credentials": "credential",
    "retentions": "retention",
    "immutable_rules": "immutable_rule",
    "webhooks": "webhook",
    "repository_grants": "repository_auth",
    "repository_shares": "access_domain",
    "robots": "robot",
    "robot_access": "robot_access",
}
PAGED: dict[int | str, dict[str, Any]] = {
    200: {"headers": {"Content-Range": {"description": "offset-count/total, when paged"}}}
}


class AuditLogOut(BaseModel):
    id: int
    operation: str
    resource_type: str
    resource: str
    username: str
    op_time: str


class AuditLogList(BaseModel):
    audit_logs: list[AuditLogOut]
    total: int


def _what(action: str) -> tuple[str, str]:
    """(operation, resource_type) of an entry's action (module doc)."""
    verb, space, table = action.partition(" ")
    if space and verb in OPERATIONS:
        return OPERATIONS[verb], RESOURCE_TYPES.get(table, table)
    kind, dot, seen = action.partition(".")
    return (seen, kind) if dot else (action, "")


def audit_log_of(record: AuditRecord) -> dict[str, Any]:
    """SWR's ``AuditLog`` of one entry (module doc)."""
    operation, resource_type = _what(record.action)
    return {
        "id": record.id,
        "operation": operation,
        "resource_type": resource_type,
        "resource": record.target,
        "username": record.actor or "",
        "op_time": iso(record.at),
    }


@router.get(AUDIT_LOGS, response_model=AuditLogList, responses=PAGED)
async def list_audit_logs(
    call: InstanceScope,
    operation: Annotated[str | None, Query(description="create, update, delete (or pull: none)")] = None,
    offset: Annotated[
        StrictInteger | None, Query(ge=0, le=MAX_OFFSET, description="start index; default 0")
    ] = None,
    limit: Annotated[
        StrictInteger | None,
        Query(ge=1, le=MAX_PAGE, description=f"default {DEFAULT_PAGE}, at most {MAX_PAGE}"),
    ] = None,
) -> Response:
    """The audit entries the caller may read, newest first (module doc)."""
    page = filters.Paging(offset or 0, limit or DEFAULT_PAGE, offset is not None or limit is not None)
    if operation is not None and operation not in VERB_OF and operation != PULL:
        raise InvalidInput(f"operation must be one of {', '.join([*VERB_OF, PULL])}", field="operation")
    service = call.service
    if operation == PULL:  # the caller is signed in (InstanceScope); there is nothing to read
        found: Page[AuditRecord] = Page(items=[], total=0, offset=page.offset, limit=page.limit)
    else:
        log = AuditLog(service.store, service.principal)
        found = await log.page(VERB_OF.get(operation or ""), page.offset, page.limit)
    items = [audit_log_of(record) for record in found.items]
    paged = page.explicit
    headers = {"Content-Range": filters.content_range(page, len(items), found.total)} if paged else None
    return json_response({"audit_logs": items, "total": found.total}, headers=headers)
