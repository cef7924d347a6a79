"""The viewer's namespaces: each with its members and their roles, and for its admins the
immutable-tag rules that protect its tags (read-only here: the APIs change them)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from repohub.api.routing import PlainRoute, PrefixRouter
from repohub.api.ui.deps import ViewerService
from repohub.api.ui.pages import page, root_of
from repohub.domain import access
from repohub.domain.access import Action

__all__ = ["router"]

router = PrefixRouter(prefix="/ui", route_class=PlainRoute, include_in_schema=False)
_RULES_SHOWN = 100


@router.get("/namespaces")
async def namespaces(request: Request, service: ViewerService) -> Response:
    if service.principal.user is None:  # nobody has namespaces: sign in first, then come back
        return RedirectResponse(f"{root_of(request)}/login?next={root_of(request)}/namespaces", 303)
    return page(request, "namespaces.html", {"views": await service.namespaces.visible()})


@router.get("/n/{namespace}")
async def namespace(request: Request, service: ViewerService, namespace: str) -> Response:
    """Members and roles to anyone with a role in it (the API's access list); rules to its admins."""
    found = await service.namespaces.access(namespace)
    admin = access.allows(found.caller.role, Action.ADMINISTER)
    rules = await service.immutable_rules.list(found.namespace.id, 0, _RULES_SHOWN) if admin else None
    retention = await service.retentions.of_namespace(found.namespace, _RULES_SHOWN) if admin else []
    members = sorted([found.caller, *found.others], key=lambda member: member.user.username)
    context = {"access": found, "members": members, "admin": admin, "rules": rules, "retention": retention}
    return page(request, "namespace.html", context)
