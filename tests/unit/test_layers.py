"""The layer-rules checker (scripts/check_layers.py) on small made-up modules, then on src/ itself."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", ROOT / "scripts" / "check_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


layers = _load_checker()


def _broken(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    return [(v.line, v.target) for v in layers.check_source(source, module, is_package=is_package)]


@pytest.mark.parametrize(
    "module",
    ["repohub.api.deps", "repohub.domain.catalog", "repohub.observability.dbpool", "repohub.app"],
)
def test_sqlalchemy_outside_the_store_is_refused(module: str) -> None:
    source = "import os\nimport sqlalchemy\nfrom sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession\n"
    assert _broken(source, module) == [(2, "sqlalchemy"), (3, "sqlalchemy.ext.asyncio")]


def test_sqlalchemy_inside_the_store_is_allowed() -> None:
    source = "import sqlalchemy as sa\nfrom sqlalchemy import event\nfrom sqlalchemy.exc import DBAPIError\n"
    assert _broken(source, "repohub.store.audit") == []
    assert _broken(source, "repohub.store", is_package=True) == []


def test_a_lookalike_name_is_not_the_forbidden_package() -> None:
    assert _broken("import sqlalchemy_utils\nimport fastapi_offline\n", "repohub.domain.x") == []


@pytest.mark.parametrize("layer", ["domain", "store", "auth", "registry"])
@pytest.mark.parametrize("framework", ["fastapi", "starlette"])
def test_no_web_framework_below_the_api(layer: str, framework: str) -> None:
    source = f"from {framework}.responses import Response\nimport {framework}\n"
    found = _broken(source, f"repohub.{layer}.x")
    assert found == [(1, f"{framework}.responses"), (2, framework)]


@pytest.mark.parametrize("module", ["repohub.api.v1.routes", "repohub.observability.observe", "repohub.app"])
def test_the_web_framework_is_allowed_above(module: str) -> None:
    assert _broken("from fastapi import FastAPI\nimport starlette.types\n", module) == []


def test_store_and_observability_do_not_import_each_other() -> None:
    assert _broken("from repohub.observability import context\n", "repohub.store.audit") == [
        (1, "repohub.observability")
    ]
    assert _broken(
        "from repohub.store.pg_reader import open_pool_stats\n", "repohub.observability.dbpool"
    ) == [(1, "repohub.store.pg_reader")]


def test_the_domain_does_not_import_the_api() -> None:
    assert _broken("import repohub.api.errors\n", "repohub.domain.catalog") == [(1, "repohub.api.errors")]
    # The api may use the domain and the store: the rules go one way.
    assert _broken("from repohub.domain import catalog\nfrom repohub import store\n", "repohub.api.x") == []


def test_a_name_imported_from_the_package_is_seen_as_its_submodule() -> None:
    assert _broken("from repohub import config, api\n", "repohub.domain.x") == [(1, "repohub.api")]


@pytest.mark.parametrize(
    ("source", "module", "is_package", "target"),
    [
        ("from ..observability import context\n", "repohub.store.audit", False, "repohub.observability"),
        ("from .. import observability\n", "repohub.store.audit", False, "repohub.observability"),
        ("from ..observability.logs import x\n", "repohub.store", True, "repohub.observability.logs"),
        ("from ...api import errors\n", "repohub.domain.sub.mod", False, "repohub.api"),
    ],
)
def test_relative_imports_are_resolved(source: str, module: str, is_package: bool, target: str) -> None:
    assert _broken(source, module, is_package) == [(1, target)]


def test_a_relative_import_within_the_layer_is_fine() -> None:
    assert _broken("from . import entities\nfrom .entities import Role\n", "repohub.domain.catalog") == []


def test_imports_hidden_in_functions_and_type_checking_blocks_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sqlalchemy import Engine\n"
        "def late() -> None:\n"
        "    import fastapi\n"
    )
    assert _broken(source, "repohub.domain.x") == [(3, "sqlalchemy"), (5, "fastapi")]


def test_one_line_per_statement_and_rule_and_a_readable_message() -> None:
    source = "from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError\n"
    (violation,) = layers.check_source(source, "repohub.api.errors", path="src/repohub/api/errors.py")
    assert str(violation) == (
        "src/repohub/api/errors.py:1: api imports sqlalchemy.exc (sqlalchemy only in store/ and migrations/)"
    )


def test_check_tree_names_modules_from_their_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "repohub"
    (package / "store").mkdir(parents=True)
    (package / "domain").mkdir()
    (package / "__init__.py").write_text("")
    (package / "store" / "__init__.py").write_text("from ..observability import context\n")
    (package / "store" / "ok.py").write_text("import sqlalchemy\n")
    (package / "domain" / "bad.py").write_text("\n\nfrom repohub.api import errors\n")
    found = [(Path(v.path).name, v.line, v.layer, v.target) for v in layers.check_tree(package)]
    assert found == [
        ("bad.py", 3, "domain", "repohub.api"),
        ("__init__.py", 1, "store", "repohub.observability"),
    ]
    assert layers.main([str(package)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1].startswith("layer rules: 2 import(s) break them")
    (package / "domain" / "bad.py").write_text("from repohub.store import x\n")
    (package / "store" / "__init__.py").write_text("")
    assert layers.main([str(package)]) == 0
    assert capsys.readouterr().out == ""


def test_src_keeps_the_layer_rules() -> None:
    violations = layers.check_tree(ROOT / "src" / "repohub")
    assert not violations, "\n".join(map(str, violations))
