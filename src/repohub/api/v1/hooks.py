"""Alauda's webhook calls, ``/v1/hooks``: translation only; ``service.webhooks`` decides.

``POST /v1/hooks`` (201), ``GET /v1/hooks?subject_type=&subject=`` (a JSON list, as Alauda answers it;
``page``/``page_size`` page it, 100 at most a page), ``GET``/``PUT``/``DELETE /v1/hooks/{id}`` (200,
200, 204). Every hook of the namespaces the caller administers is listed, SWR's webhook policies
too (one table, each dialect rendering what it can: ``hook_schemas.HookDetail``); a PUT changes only
the fields Alauda knows, so a policy's scope rule and header list survive it. A hook id that is not
an integer is NotFound, as repohub's other numeric path ids: no such hook can exist.

The routes are registered by ``v1.router`` (``register``), with and without a trailing slash as
every v1 path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Query, Response

from repohub.api.openapi import TOO_LARGE
from repohub.api.parameters import StrictInteger
from repohub.api.v1.deps import ServiceDep
from repohub.api.v1.errors import error_responses
from repohub.api.v1.hook_schemas import (
    HookCreate,
    HookDetail,
    HookReplace,
    check_subject_type,
    events_of,
    split_subject,
)
from repohub.domain.errors import InvalidInput, NotFound
from repohub.domain.numbers import parse_integer
from repohub.domain.service import Service
from repohub.domain.webhooks.hooks import FORMAT_ALAUDA, HookSpec
from repohub.domain.webhooks.policies import MAX_PAGE
from repohub.store.webhooks import HookQuery

__all__ = ["register"]

Route = Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]
HOOKS = "/hooks"
ONE = HOOKS + "/{hook_id}"
Text = Annotated[str | None, Query()]
PageNumber = Annotated[StrictInteger, Query(ge=1, le=100_000, description="page number, from 1")]
PageSize = Annotated[StrictInteger, Query(ge=1, le=MAX_PAGE, description=f"hooks a page, at most {MAX_PAGE}")]


def _hook_id(text: str) -> int:
    try:
        return parse_integer(text, field="hook_id", low=1)
    except InvalidInput:
        raise NotFound(f"webhook {text[:32]!r} not found") from None


async def create_hook(body: HookCreate, service: ServiceDep) -> HookDetail:
    """A hook of the subject's namespace (its admins only), created by the caller."""
    check_subject_type(body.subject_type)
    namespace, repository = split_subject(body.subject)
    spec = HookSpec(
        format=FORMAT_ALAUDA,
        url=body.url,
        events=events_of(body.events),
        name=body.name,
        description=body.description,
        enabled=body.is_active,
        repository=repository,
        secret=body.secret or None,
    )
    return HookDetail.of(await service.webhooks.create(namespace, spec))


async def list_hooks(
    service: ServiceDep,
    subject_type: Text = None,
    subject: Text = None,
    page: PageNumber = 1,
    page_size: PageSize = MAX_PAGE,
) -> list[HookDetail]:
    """The hooks of the namespaces the caller administers, newest first; ``subject`` narrows them to
    a namespace's (all of them) or to one repository's. A subject the caller does not administer
    selects nothing: an empty list."""
    check_subject_type(subject_type)
    namespace, repository = split_subject(subject) if subject is not None else (None, None)
    query = HookQuery(repository=repository, offset=(page - 1) * page_size, limit=page_size)
    found = await service.webhooks.list(query, namespace)
    return [HookDetail.of(hook) for hook in found.items]


async def get_hook(hook_id: str, service: ServiceDep) -> HookDetail:
    return HookDetail.of(await service.webhooks.get(_hook_id(hook_id)))


async def replace_hook(hook_id: str, body: HookReplace, service: ServiceDep) -> HookDetail:
    """Restate the Alauda fields of the hook (``HookReplace``); what only SWR knows is kept."""
    number = _hook_id(hook_id)
    check_subject_type(body.subject_type)
    repository_change = await _repository_change(service, number, body.subject)
    events = events_of(body.events)
    secret = (body.secret or "") if "secret" in body.model_fields_set else None

    def revise(spec: HookSpec) -> HookSpec:
        return replace(
            spec,
            url=body.url,
            events=events,
            name=body.name,
            description=body.description,
            enabled=body.is_active,
            repository=repository_change(spec.repository),
            secret=secret,
        )

    return HookDetail.of(await service.webhooks.update(number, revise))


async def _repository_change(
    service: Service, hook_id: int, subject: str | None
) -> Callable[[str | None], str | None]:
    """What a PUT's ``subject`` does to the hook's repository: nothing when left out; else the
    subject's, which must be of the hook's namespace (a hook does not move between namespaces)."""
    if subject is None:
        return lambda kept: kept
    namespace, repository = split_subject(subject)
    hook = await service.webhooks.get(hook_id)  # NotFound first: a subject tells nothing about others' hooks
    if namespace != hook.namespace:
        raise InvalidInput(f"a hook stays in its namespace {hook.namespace!r}", field="subject")
    return lambda _kept: repository


async def delete_hook(hook_id: str, service: ServiceDep) -> Response:
    await service.webhooks.delete(_hook_id(hook_id))
    return Response(status_code=204)


def register(route: Route) -> None:
    """Add the calls to v1's router through its ``route`` (``v1.router.both_slashes``)."""
    with_body = error_responses(TOO_LARGE)
    route("POST", HOOKS, status_code=201, response_model=HookDetail, responses=with_body)(create_hook)
    route("GET", HOOKS, response_model=list[HookDetail])(list_hooks)
    route("GET", ONE, response_model=HookDetail)(get_hook)
    route("PUT", ONE, response_model=HookDetail, responses=with_body)(replace_hook)
    route("DELETE", ONE, status_code=204)(delete_hook)
