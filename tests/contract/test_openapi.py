"""The OpenAPI document declares what each operation really answers, with its dialect's error body."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from repohub.app import create_app
from repohub.config import Settings

REF = "#/components/schemas/"
# Operations that read no database, and /readyz, which answers its own 503.
NO_DATABASE = {"/healthz", "/metrics", "/readyz", "/", "/{api_version}", "/static/images/default-icon.jpg"}
# nginx's push check authenticates nobody: a credential it cannot read passes (the registry answers).
NO_CALLER = {"/registry/push-check"}
RATE_LIMITED = {
    ("post", "/v1/generate-api-token"),
    ("get", "/registry/token"),
    ("post", "/v2/manage/utils/authorizationtoken"),
    ("post", "/v2/manage/utils/secret"),
}
VIA_REGISTRY = {  # deletes that ask the registry first
    "/v1/repositories/{namespace}/{repo_name}",
    "/organizations/{organization_id}/registry/repositories/{repository_id}",
    "/v2/manage/namespaces/{namespace}/repos/{repository}",
    "/v2/manage/namespaces/{namespace}/repos/{repository}/tags/{tag}",
}
WRITES_VIA_REGISTRY = {("post", "/v2/manage/namespaces/{namespace}/repos/{repository}/tags")}  # retag


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    data = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{data / 'unused.db'}", data_dir=Path(data), _env_file=None
    )
    app = create_app(settings)
    return app.openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]


def error_model(path: str) -> str:
    if path.startswith("/registry/"):
        return "Errors"
    if path.startswith(("/v2/manage/", "/v3/", "/v2/{project_id}/instances", "/{api_version}")):
        return "repohub__api__swr__schemas__Error"
    if path.startswith("/organizations/"):
        return "repohub__api__abeja__schemas__Error"
    return "repohub__api__v1__schemas__Error"


def test_no_operation_declares_the_422_repohub_never_answers(document):
    assert all("422" not in op["responses"] for _, _, op in operations(document))
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas


def test_every_error_status_carries_the_dialect_error_body(document):
    for method, path, op in operations(document):
        if path in NO_DATABASE:
            continue
        errors = {status: response for status, response in op["responses"].items() if int(status) >= 400}
        assert ({"503"} if path in NO_CALLER else {"401", "503"}) <= errors.keys(), (method, path)
        for status, response in errors.items():
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": REF + error_model(path)}, (method, path, status)


def test_dialect_routes_declare_the_common_client_errors(document):
    for method, path, op in operations(document):
        if path.startswith(("/v1/", "/organizations/", "/v2/manage/namespaces", "/v2/manage/repos")):
            assert {"400", "401", "403", "404", "409", "503"} <= op["responses"].keys(), (method, path)
    assert {"400", "401"} <= document["paths"]["/registry/token"]["get"]["responses"].keys()
    assert {"400", "401"} <= document["paths"]["/registry/events"]["post"]["responses"].keys()


def test_limits_and_registry_failures_are_declared_where_they_happen(document):
    for method, path, op in operations(document):
        responses = op["responses"]
        takes_body = "requestBody" in op or path == "/registry/events"  # events reads its body raw
        assert ("413" in responses) == takes_body, (method, path)
        limited = (method, path) in RATE_LIMITED
        assert ("429" in responses) == limited, (method, path)
        if limited:
            assert "Retry-After" in responses["429"]["headers"]
        via_registry = (method == "delete" and path in VIA_REGISTRY) or (method, path) in WRITES_VIA_REGISTRY
        assert ("502" in responses) == via_registry, (method, path)


def test_credential_headers_read_by_the_dialects_are_declared(document):
    """The dialects read their credential headers themselves (api.deps.bound_service); the document
    still names them on every operation that takes them, once."""
    expected = {
        "/v1/": {"authorization"},
        "/organizations/": {"authorization"},
        "/v2/manage/": {"authorization", "x-auth-token", "x-project-id"},
        "/v3/": {"authorization", "x-auth-token", "x-project-id"},
    }
    checked = 0
    for method, path, op in operations(document):
        wanted = next((names for prefix, names in expected.items() if path.startswith(prefix)), None)
        if wanted is None or path == "/v1/generate-api-token":  # logging in takes no credentials
            continue
        headers = [p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"]
        assert wanted <= set(headers) and len(headers) == len(set(headers)), (method, path, headers)
        checked += 1
    assert checked > 30
    login = document["paths"]["/v1/generate-api-token"]["post"]
    assert not [p for p in login.get("parameters", []) if p["in"] == "header"]
