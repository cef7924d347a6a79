"""schemathesis against a real ``repohub serve``'s /openapi.json: every operation, a bounded run.

Checks: no 5xx, and every response's status and body are declared in the schema. Requests carry a
valid API token for v1 (``Token``) and SWR (``X-Auth-Token``), so authorised paths are reached too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from repohub.config import Settings
from repohub.store import migrate
from tests.server import Server, cli, serve

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    data = tmp_path_factory.mktemp("contract")
    url = f"sqlite+aiosqlite:///{data / 'contract.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, data_dir=Path(data), secret_key="contract", _env_file=None)
    cli(settings, "users", "create", "sam", "--password", "sam-password")
    cli(settings, "orgs", "create", "samorg", "--owner", "sam")
    token = cli(settings, "tokens", "create", "sam").strip()
    with serve(
        settings, extra_env={"REPOHUB_LOGIN_RATE_PER_CLIENT": "0", "REPOHUB_LOGIN_RATE_PER_USER": "0"}
    ) as running:
        yield running, token


def test_every_operation(server: tuple[Server, str]) -> None:
    running, token = server
    api = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for found in api.get_all_operations():
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            headers = {"X-Auth-Token": token}
            if "Authorization" not in (case.headers or {}):
                headers["Authorization"] = f"Token {token}"
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    assert operations > 20
    assert not failures, "\n\n".join(failures)
