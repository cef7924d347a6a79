"""The OpenAPI document's existing operations stay as they were when their pages stopped being
validated through their response models (issue 19): ``openapi_snapshot.json`` is the document
generated from main before that change. New operations and new schemas may be added; an existing
operation's parameters, request body or responses, or a schema it refers to, may not change.

After a deliberate change to an operation, regenerate the snapshot (see ``regenerate`` below) and
review its diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from repohub.app import create_app
from repohub.config import Settings

SNAPSHOT = Path(__file__).with_name("openapi_snapshot.json")
REF = "#/components/schemas/"


def generate(data_dir: Path) -> dict[str, Any]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{data_dir / 'unused.db'}", data_dir=data_dir, _env_file=None
    )
    return create_app(settings).openapi()


def regenerate(data_dir: Path) -> None:  # by hand: python -c "from tests.contract... import regenerate"
    text = json.dumps(generate(data_dir), indent=1, sort_keys=True, ensure_ascii=False)
    SNAPSHOT.write_text(text + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def snapshot() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return generate(tmp_path_factory.mktemp("openapi"))


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, ops in document["paths"].items() for method, op in ops.items()}


def referenced(value: Any) -> set[str]:
    """The component schemas ``value`` refers to, directly."""
    if isinstance(value, dict):
        found = {value["$ref"].removeprefix(REF)} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(referenced(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(referenced(item) for item in value))
    return set()


def closure(document: dict[str, Any], names: set[str]) -> set[str]:
    """``names`` and every schema they refer to, transitively."""
    schemas, seen, todo = document["components"]["schemas"], set(), list(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(referenced(schemas[name]))
    return seen


def test_every_operation_of_the_snapshot_is_still_served(snapshot, current):
    missing = operations(snapshot).keys() - operations(current).keys()
    assert not missing


def changed(snapshot: dict[str, Any], current: dict[str, Any], part: str) -> list[tuple[str, str]]:
    """The snapshot's operations whose ``part`` differs in ``current``."""
    now = operations(current)
    return [
        key for key, op in operations(snapshot).items() if key in now and now[key].get(part) != op.get(part)
    ]


@pytest.mark.parametrize("part", ["parameters", "requestBody", "responses"])
def test_existing_operations_keep_their_parameters_bodies_and_responses(snapshot, current, part):
    assert not changed(snapshot, current, part)


def test_the_schemas_existing_operations_refer_to_are_unchanged(snapshot, current):
    used = closure(snapshot, referenced(snapshot["paths"]))
    before, after = snapshot["components"]["schemas"], current["components"]["schemas"]
    assert not sorted(name for name in used if after.get(name) != before[name])


def test_a_dropped_response_model_is_caught(snapshot, current):
    """The comparison above would see a page that no longer declares its body (the mistake a page
    that builds its own JSON invites): its 200 loses the schema."""
    key = ("get", "/v1/repositories/{namespace}")
    dropped = json.loads(json.dumps(current))
    dropped["paths"][key[1]][key[0]]["responses"]["200"]["content"]["application/json"]["schema"] = {}
    assert changed(snapshot, dropped, "responses") == [key]
