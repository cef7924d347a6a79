"""The viewer's namespaces: each with its members and their roles (read-only to all but its admins,
who add, change and remove members here), and for its admins the immutable-tag rules and the
retention policies of its repositories (read-only here: the APIs change them)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from repohub.api.routing import PlainRoute, PrefixRouter
from repohub.api.ui.deps import ViewerService, posted_form
from repohub.api.ui.pages import page, root_of
from repohub.domain import access
from repohub.domain.access import Action
from repohub.domain.entities import Role
from repohub.domain.errors import InvalidInput, NotFound
from repohub.domain.namespaces import Grant

__all__ = ["router"]

router = PrefixRouter(prefix="/ui", route_class=PlainRoute, include_in_schema=False)
_RULES_SHOWN = 100
NAMESPACES_PER_PAGE = 100  # by name, keyset: a site admin's list is every namespace
MEMBERS_SHOWN = 500  # of a namespace's members, by name: the page stays under 100 KB
MAX_NAMESPACE = 255


@router.get("/namespaces")
async def namespaces(request: Request, service: ViewerService) -> Response:
    if service.principal.user is None:  # nobody has namespaces: sign in first, then come back
        return RedirectResponse(f"{root_of(request)}/login?next={root_of(request)}/namespaces", 303)
    after = request.query_params.get("after") or None
    if after is not None and len(after) > MAX_NAMESPACE:
        raise InvalidInput(f"after is a namespace name, at most {MAX_NAMESPACE} characters", field="after")
    views = await service.namespaces.visible(after=after, limit=NAMESPACES_PER_PAGE + 1)
    shown = views[:NAMESPACES_PER_PAGE]
    more = shown[-1].namespace.name if len(views) > NAMESPACES_PER_PAGE else None
    return page(request, "namespaces.html", {"views": shown, "after": after, "more": more})


@router.get("/n/{namespace}")
async def namespace(request: Request, service: ViewerService, namespace: str) -> Response:
    """Members and roles to anyone with a role in it (the API's access list); rules to its admins."""
    found = await service.namespaces.access(namespace)
    admin = access.allows(found.caller.role, Action.ADMINISTER)
    rules = await service.immutable_rules.list(found.namespace.id, 0, _RULES_SHOWN) if admin else None
    retention = await service.retentions.of_namespace(found.namespace, _RULES_SHOWN) if admin else []
    members = sorted([found.caller, *found.others], key=lambda member: member.user.username)
    context = {
        "roles": [role.value for role in Role],
        "access": found,
        "members": members[:MEMBERS_SHOWN],
        "more_members": max(0, len(members) - MEMBERS_SHOWN),
        "admin": admin,
        "rules": rules,
        "retention": retention,
    }
    return page(request, "namespace.html", context)


# Changing who has access: the SWR access calls' use cases (``NamespaceService.grant`` and
# ``revoke``, its admins only, a namespace always keeping an admin), behind forms. Actions follow
# ``/-/`` as a repository's do.
def _role(fields: dict[str, str]) -> Role:
    try:
        return Role(fields.get("role", ""))
    except ValueError as error:
        roles = ", ".join(role.value for role in Role)
        raise InvalidInput(f"role is one of {roles}", field="role") from error


def _back_to(request: Request, namespace: str) -> RedirectResponse:
    return RedirectResponse(f"{root_of(request)}/n/{namespace}", status_code=303)


@router.post("/n/{namespace}/-/members")
async def add_member(request: Request, service: ViewerService, namespace: str) -> Response:
    fields = await posted_form(request)
    username = fields.get("username", "").strip()
    if not username:
        raise InvalidInput("give the username to add", field="username")
    await service.namespaces.grant(namespace, [Grant(_role(fields), username=username)], change=False)
    return _back_to(request, namespace)


@router.post("/n/{namespace}/-/members/{username}")
async def change_member(request: Request, service: ViewerService, namespace: str, username: str) -> Response:
    fields = await posted_form(request)
    await service.namespaces.grant(namespace, [Grant(_role(fields), username=username)], change=True)
    return _back_to(request, namespace)


@router.post("/n/{namespace}/-/members/{username}/remove")
async def remove_member(request: Request, service: ViewerService, namespace: str, username: str) -> Response:
    await posted_form(request)
    found = await service.namespaces.access(namespace)
    member = next((m for m in [found.caller, *found.others] if m.user.username == username), None)
    if member is None:
        raise NotFound(f"user {username!r} has no access to namespace {namespace!r}")
    await service.namespaces.revoke(namespace, [member.user.id])
    return _back_to(request, namespace)
