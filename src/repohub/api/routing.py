"""Routing for the hot paths: routers that decline foreign prefixes at once, routes called directly.

FastAPI tries the routes of every included router in turn, each a regular expression, and does so
twice a request (to select, then to handle): about forty failed matches for a v1 page, a fifth of
its CPU (docs/benchmarks.md). repohub's routers never share a prefix, so a request whose path does
not start with a router's prefix cannot match any of its routes.

Once a route is selected, FastAPI solves its parameters and dependencies and serialises what it
returns, on every request; for the registry token and the SWR list page that machinery cost a
quarter of the request's CPU (docs/benchmarks.md; the token's share measured again for issue 14).
A :class:`PlainRoute` endpoint takes the request and dependencies that take only the request (the
app state: ``api.deps.StateDep``), returns its own ``Response``, and is called directly. It reads one
FastAPI internal, contained in ``api.fastapi_private``. Path and single-valued query parameters it may
declare too: they are validated by pydantic adapters made from their declarations when the route is
made (:class:`_Parameters`), so the OpenAPI document, the values and the 400 a bad one gets are what
FastAPI's solving gave, without its machinery around each call.

Every other route of the dialects' routers is a :class:`StrictJsonRoute`: FastAPI decodes its JSON
bodies with ``json.loads``, which lets a lone surrogate (``"\\ud800"``) through as text that no
database, hash or log can encode later; here such a body is a JSON error, so a 400 in the dialect's
format, before anything runs.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, TypeGuard, TypeVar, get_origin, get_type_hints

from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from repohub.api.fastapi_private import effective_dependant
from repohub.api.parameters import query_values
from repohub.api.proxy import app_path

Handler = Callable[[Request], Coroutine[Any, Any, Response]]  # as APIRoute declares it
Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])


class StrictJsonRequest(Request):
    """A request whose JSON body is decoded by pydantic's parser, which refuses lone surrogates."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = from_json(body)
            except ValueError as error:  # FastAPI answers a JSONDecodeError as invalid JSON (400)
                raise json.JSONDecodeError(str(error), body.decode("latin-1"), 0) from None
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict


class PrefixRouter(APIRouter):
    """A router whose routes are :class:`StrictJsonRoute` unless told otherwise."""

    def __init__(self, *, route_class: type[APIRoute] = StrictJsonRoute, **options: Any) -> None:
        super().__init__(route_class=route_class, **options)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.prefix and not app_path(scope).startswith(self.prefix):
            return Match.NONE, {}
        return super().matches(scope)


class PlainRoute(APIRoute):
    """A route whose endpoint FastAPI documents but does not solve: ``async def endpoint(request,
    <dependencies>, <path and query parameters>) -> Response``, each dependency an ``async def
    dependency(request)``. Anything else (header, cookie or body parameters, repeated query
    parameters, nested dependencies) is refused when the route is made, because FastAPI would have
    solved it and this route would not."""

    def get_route_handler(self) -> Handler:
        dependant = effective_dependant(self)
        _check_plain(dependant, self.path, what="endpoint", parameters=True)
        parameters = _Parameters.of(dependant, self.path)
        endpoint = dependant.call
        if endpoint is None or not _returns_response(endpoint):
            raise TypeError(f"{self.path}: a PlainRoute endpoint returns a Response")
        request_name = dependant.request_param_name
        # In FastAPI's order: the including routers' dependencies (no name: their values are not
        # passed on), then the endpoint's own.
        providers: list[tuple[str | None, Callable[[Request], Awaitable[Any]]]] = []
        for sub in dependant.dependencies:
            _check_plain(sub, self.path, what=f"dependency {sub.call}")
            if sub.dependencies or sub.request_param_name is None:
                raise TypeError(f"{self.path}: dependency {sub.call} must take only the request")
            providers.append((sub.name, _by_request(sub)))

        async def handler(request: Request) -> Response:
            values: dict[str, Any] = {}
            for name, provide in providers:
                value = await provide(request)
                if name is not None:
                    values[name] = value
            if parameters is not None:  # after the dependencies, as FastAPI: a 401 before a 400
                values.update(parameters.read(request))
            if request_name is not None:
                values[request_name] = request
            response: Response = await endpoint(**values)  # checked to return a Response above
            return response

        return handler


def plain(router: APIRouter, method: str, path: str, **options: Any) -> Callable[[Endpoint], Endpoint]:
    """``@router.get(path, ...)`` for a :class:`PlainRoute` endpoint."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(path, endpoint, methods=[method], route_class_override=PlainRoute, **options)
        return endpoint

    return register


class _Parameters:
    """An endpoint's path and query parameters, each validated by a pydantic adapter of its own
    declaration, as FastAPI validates it (so the values and the errors' wording are FastAPI's), made
    once when the route is made rather than solved through FastAPI's machinery on every request."""

    def __init__(self, fields: list[tuple[str, str, str, TypeAdapter[Any], Any]]) -> None:
        self._fields = fields  # (name, "path" or "query", name in the request, adapter, default)

    @classmethod
    def of(cls, dependant: Dependant, path: str) -> _Parameters | None:
        declared = [("path", field) for field in dependant.path_params]
        declared += [("query", field) for field in dependant.query_params]
        if not declared:
            return None
        fields = []
        for where, field in declared:
            info = field.field_info
            if get_origin(info.annotation) in (list, set, tuple, frozenset):
                raise TypeError(f"{path}: a PlainRoute reads one value per parameter, not {field.name}")
            # What ``read`` does not do as FastAPI does: refused when the route is made, not served.
            if where == "query" and (info.is_required() or info.default_factory is not None):
                raise TypeError(
                    f"{path}: a PlainRoute's query parameter needs a plain default ({field.name})"
                )
            if info.validation_alias is not None:
                raise TypeError(f"{path}: a PlainRoute does not read validation aliases ({field.name})")
            adapter: TypeAdapter[Any] = TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]
            fields.append((field.name, where, field.alias, adapter, info.default))
        return cls(fields)

    def read(self, request: Request) -> dict[str, Any]:
        path_params = request.path_params
        query = query_values(request.scope)
        values: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for name, where, alias, adapter, default in self._fields:
            given = path_params if where == "path" else query
            if alias not in given:  # FastAPI's default, not validated (a path parameter is always there)
                values[name] = default
                continue
            try:
                values[name] = adapter.validate_python(given[alias])
            except ValidationError as error:
                errors += [
                    {**item, "loc": (where, alias, *item["loc"])} for item in error.errors(include_url=False)
                ]
        if errors:
            raise RequestValidationError(errors)
        return values


def _check_plain(dependant: Dependant, path: str, *, what: str, parameters: bool = False) -> None:
    solved = (
        *(() if parameters else (dependant.path_params, dependant.query_params)),
        dependant.header_params,
        dependant.cookie_params,
        dependant.body_params,
    )
    if any(solved) or not inspect.iscoroutinefunction(dependant.call):
        raise TypeError(f"{path}: {what} of a PlainRoute must be async and take no solved parameters")


def _by_request(dependant: Dependant) -> Callable[[Request], Awaitable[Any]]:
    call, name = dependant.call, dependant.request_param_name
    assert call is not None and name is not None
    return lambda request: call(**{name: request})


def _returns_response(endpoint: Callable[..., Any] | None) -> TypeGuard[Callable[..., Awaitable[Response]]]:
    returned = get_type_hints(endpoint).get("return") if endpoint is not None else None
    return isinstance(returned, type) and issubclass(returned, Response)
