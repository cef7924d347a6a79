"""The catalogue's pages: the repositories list, a repository with its tags, starring, deleting a
tag. Each page is one use case of the catalogue (the same reads as the APIs'), rendered; every
refusal is the domain's, shown as a page (``pages.render_error``): an invisible repository is the
404 a missing one is."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from repohub.api.deps import state_of
from repohub.api.routing import PlainRoute, PrefixRouter
from repohub.api.ui.deps import ViewerService, posted_form
from repohub.api.ui.listing import PER_PAGE, SORTS, Listing
from repohub.api.ui.markdown import readme
from repohub.api.ui.pages import page, root_of
from repohub.api.ui.present import media_of
from repohub.api.ui.rows import TagRow
from repohub.defaults import SWR_MAX_OFFSET
from repohub.domain import access
from repohub.domain.access import Action
from repohub.domain.entities import Repository
from repohub.domain.errors import InvalidInput
from repohub.domain.immutability.guard import TagImmutable
from repohub.domain.numbers import parse_integer
from repohub.domain.queries import TagOrder, TagQuery
from repohub.domain.service import Service

__all__ = ["router"]

router = PrefixRouter(prefix="/ui", route_class=PlainRoute, include_in_schema=False)
TAGS_PER_PAGE = 30  # with the longest README shown (markdown.MAX_HTML), a page stays under 100 KB
# As deep as the API's offset pages of tags go (SWR v2's bound); v3's marker walks further.
_MAX_TAGS_PAGE = SWR_MAX_OFFSET // TAGS_PER_PAGE + 1


@router.get("/")
async def repositories(request: Request, service: ViewerService) -> Response:
    """Every repository the viewer may see, searched, filtered, sorted and paged."""
    listing = Listing.of(request.query_params)
    found = await service.catalog.list_repository_summaries(listing.query())
    # The namespace filter is a text field, not a list of the viewer's namespaces: the bench's
    # member belongs to 10,000 of them, a read as large as the page itself.
    pages = -(-found.total // PER_PAGE)
    context = {"listing": listing, "found": found, "sorts": list(SORTS), "pages": pages}
    return page(request, "repositories.html", context)


async def _tag_rows(service: Service, repository: Repository, number: int) -> tuple[list[TagRow], int]:
    query = TagQuery(offset=(number - 1) * TAGS_PER_PAGE, limit=TAGS_PER_PAGE, order=TagOrder.UPDATED_AT)
    tags = await service.catalog.list_tags(repository, query)
    kept = await service.immutability.kept(repository, [tag.name for tag in tags.items], remembered=True)
    rows = [TagRow(tag, media_of(tag.media_type, tag.manifest), kept.get(tag.name)) for tag in tags.items]
    return rows, tags.total


async def _newest_tag(
    service: Service, repository: Repository, rows: list[TagRow], number: int
) -> str | None:
    """The tag the pull command names: the last pushed (the first row of the first page)."""
    if number == 1:
        return rows[0].tag.name if rows else None
    newest = await service.catalog.list_tags(repository, TagQuery(limit=1, order=TagOrder.UPDATED_AT))
    return newest.items[0].name if newest.items else None


def _back_to(request: Request, repo: Repository) -> RedirectResponse:
    return RedirectResponse(f"{root_of(request)}/r/{repo.path}", status_code=303)


# Actions on a repository follow ``/-/`` after its name: no path component of a name is ``-``
# (``domain.names``), so no repository's page is taken for an action's, nor an action for a page.
@router.post("/r/{namespace}/{name:path}/-/star")
async def star(request: Request, service: ViewerService, namespace: str, name: str) -> Response:
    """Star or unstar (the form's ``starred``: ``1`` or ``0``) for the signed-in viewer."""
    fields = await posted_form(request)
    wanted = fields.get("starred")
    if wanted not in ("0", "1"):
        raise InvalidInput("starred is 1 or 0", field="starred")
    repo = await service.catalog.repository(namespace, name)
    await service.catalog.set_star(repo, wanted == "1")
    return _back_to(request, repo)


@router.get("/r/{namespace}/{name:path}/-/tags/{tag}/delete")
async def confirm_delete(
    request: Request, service: ViewerService, namespace: str, name: str, tag: str
) -> Response:
    """Ask before deleting: the tag, its digest, and why a delete would be refused (then no button)."""
    repo = await service.catalog.repository(namespace, name)
    found = await service.catalog.tag(repo, tag)
    await service.catalog.require_tag_deletion(repo)
    kept = (await service.immutability.kept(repo, [found.name], remembered=True)).get(found.name)
    reason = TagImmutable(repo.path, found.name, kept.rule_id, shares=kept.shares).message if kept else None
    return page(request, "delete_tag.html", {"repo": repo, "tag": found, "refusal": reason})


@router.post("/r/{namespace}/{name:path}/-/tags/{tag}/delete")
async def delete_tag(
    request: Request, service: ViewerService, namespace: str, name: str, tag: str
) -> Response:
    """Delete the tag (its namespace's admins; a protected tag is refused, 409, with the reason)."""
    await posted_form(request)
    repo = await service.catalog.repository(namespace, name)
    await service.catalog.delete_tag(repo, tag)
    return _back_to(request, repo)


@router.get("/r/{namespace}/{name:path}")
async def repository(request: Request, service: ViewerService, namespace: str, name: str) -> Response:
    """A repository: its description, pull command and tags; its rules for its admins."""
    repo = await service.catalog.repository(namespace, name)
    raw = request.query_params.get("tags_page", "")
    number = parse_integer(raw, field="tags_page", low=1, high=_MAX_TAGS_PAGE) if raw else 1
    rows, total = await _tag_rows(service, repo, number)
    role = await service.catalog.role_on(repo) if service.principal.user is not None else None
    admin = access.allows(role, Action.DELETE)
    newest = await _newest_tag(service, repo, rows, number)
    host = state_of(request).settings.registry_host
    context = {
        "repo": repo,
        "readme": await readme(repo.full_description),
        "starred": await service.catalog.is_starred(repo),
        "rows": rows,
        "tags_total": total,
        "tags_page": number,
        "tags_pages": min(-(-total // TAGS_PER_PAGE), _MAX_TAGS_PAGE),
        "pull": f"docker pull {host}/{repo.path}" + (f":{newest}" if newest else ""),
        "admin": admin,
        "retention": await service.retentions.list(repo) if admin else [],
    }
    return page(request, "repository.html", context)
