"""schemathesis against a real ``repohub serve``'s /openapi.json: every operation, a bounded run, on
SQLite and on PostgreSQL (each run takes seconds: 6 examples an operation).

Checks: no 5xx, and every response's status and body are declared in the schema. Each dialect gets
the credentials it expects (v1 ``Token``, ABEJA ``Bearer`` or ``Basic user-<id>:<token>``, SWR
``X-Auth-Token``, the registry's Basic and its events secret), so authorised code is reached too.
About half the examples of an operation send those credentials and name the seeded organization,
repository and tag in the path (deletes excepted), so found resources and their bodies are checked,
not only 404s; the others keep whatever credential header schemathesis generated, as fuzzed input.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from repohub.config import Settings
from repohub.store import migrate
from tests.postgres import create_database
from tests.server import Server, cli, serve

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
EVENTS_SECRET = "contract-events-secret"
PUSH = {  # the registry's notification of ``docker push samorg/app:latest``
    "id": "contract-push-1",
    "action": "push",
    "target": {
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "digest": "sha256:" + "ab" * 32,
        "size": 428,
        "repository": "samorg/app",
        "tag": "latest",
    },
    "actor": {"name": "sam"},
}


@dataclass(frozen=True)
class Seeded:
    """What exists before the run: user sam (token), its org samorg with repository app:latest."""

    user_id: str
    token: str
    org_id: str
    repository_id: str

    def credentials(self, path: str, *, basic: bool) -> dict[str, str]:
        """The headers the dialect serving ``path`` authenticates with."""
        if path.startswith(("/v2/manage/", "/v3/")):
            return {"X-Auth-Token": self.token}
        if path.startswith("/organizations/"):
            if basic:  # what the abeja-sdk sends
                return {"Authorization": _basic(f"user-{self.user_id}", self.token)}
            return {"Authorization": f"Bearer {self.token}"}
        if path == "/registry/events":
            return {"Authorization": f"Bearer {EVENTS_SECRET}"}
        if path.startswith("/registry/"):
            return {"Authorization": _basic("sam", self.token)}
        return {"Authorization": f"Token {self.token}"}  # v1; the ops endpoints ignore it

    def known(self) -> dict[str, str]:
        """Path parameters naming what exists."""
        return {
            "namespace": "samorg",
            "organization_id": self.org_id,
            "repository": "app",
            "repo_name": "app",
            "repository_id": self.repository_id,
            "tag": "latest",
        }


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Seeded]]:
    data = tmp_path_factory.mktemp("contract")
    url = f"sqlite+aiosqlite:///{data / 'contract.db'}" if request.param == "sqlite" else create_database()
    migrate.upgrade(url)
    settings = Settings(database_url=url, data_dir=Path(data), secret_key="contract", _env_file=None)
    user = json.loads(cli(settings, "users", "create", "sam", "--password", "sam-password", "--json"))
    org = json.loads(cli(settings, "orgs", "create", "samorg", "--owner", "sam", "--json"))
    token = cli(settings, "tokens", "create", "sam").strip()
    unlimited = {
        f"REPOHUB_{name}_RATE_PER_{who}": "0" for name in ("LOGIN", "TOKEN") for who in ("CLIENT", "USER")
    }
    with serve(settings, extra_env={**unlimited, "REPOHUB_REGISTRY_EVENTS_SECRET": EVENTS_SECRET}) as running:
        made = httpx.post(
            f"{running.url}/v1/repositories/samorg/",
            json={"repo_name": "app", "is_public": False},
            headers={"Authorization": f"Token {token}"},
        )
        assert made.status_code == 201, made.text
        listed = httpx.get(
            f"{running.url}/organizations/{org['id']}/registry/repositories",
            headers={"Authorization": f"Bearer {token}"},
        )
        repository_id = listed.json()["registry_repositories"][0]["id"]
        pushed = httpx.post(
            f"{running.url}/registry/events",
            json={"events": [PUSH]},
            headers={"Authorization": f"Bearer {EVENTS_SECRET}"},
        )
        assert pushed.status_code == 200 and pushed.json()["applied"] == 1, pushed.text
        yield running, Seeded(user["id"], token, org["id"], repository_id)


def test_every_operation(server: tuple[Server, Seeded]) -> None:
    running, seeded = server
    api = schemathesis.openapi.from_url(f"{running.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for found in api.get_all_operations():
        operation = found.ok()
        operations += 1

        @given(case=operation.as_strategy(), known=st.booleans(), basic=st.booleans())
        @hypothesis_settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case, known: bool, basic: bool) -> None:
            headers = seeded.credentials(case.path, basic=basic)
            if known:  # real names and real credentials, to reach what exists
                if case.method != "DELETE":  # deletes keep their generated names: the data must last
                    for name, value in seeded.known().items():
                        if name in (case.path_parameters or {}):
                            case.path_parameters[name] = value
            else:  # a credential header schemathesis generated is a fuzzed one: kept
                headers = {name: value for name, value in headers.items() if name not in case.headers}
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    assert operations > 20
    assert not failures, "\n\n".join(failures)
