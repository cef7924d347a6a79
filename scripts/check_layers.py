#!/usr/bin/env python3
"""The layer rules (issue 14; docs/architecture.md explains them), checked by reading every module's imports.

Usage: ``scripts/check_layers.py [SRC_ROOT]`` (default ``src/repohub``). Prints one line per broken
rule, ``path:line: layer imports target (rule)``, and exits 1 if any; prints nothing and exits 0 when
all hold. ``make lint`` runs it.

The check reads the source with ``ast`` and never imports it, so it is fast and a module that does not
import cleanly is still judged. Every import counts, wherever it stands: inside a function, under
``if TYPE_CHECKING:`` or in a ``try``. A type-only import still ties the layers together, and a rule
that a lazy import escapes would not be a rule.

A module's layer is its first package under the root (``store`` for ``repohub/store/audit.py``,
``app`` for ``repohub/app.py``). ``migrations/`` lives outside the package and is not read.
"""

from __future__ import annotations

import ast
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RULES", "Rule", "Violation", "check_source", "check_tree", "imported_names", "main"]

PACKAGE = "repohub"


@dataclass(frozen=True, slots=True)
class Rule:
    """Modules of the layers in ``applies_to`` (all layers but ``allowed_in`` when None) must not
    import ``forbidden`` or anything below it."""

    forbidden: tuple[str, ...]
    why: str
    applies_to: frozenset[str] | None = None
    allowed_in: frozenset[str] = frozenset()

    def covers(self, layer: str) -> bool:
        if layer in self.allowed_in:
            return False
        return self.applies_to is None or layer in self.applies_to

    def breaks(self, target: str) -> bool:
        return any(target == name or target.startswith(name + ".") for name in self.forbidden)


RULES: tuple[Rule, ...] = (
    Rule(
        forbidden=("sqlalchemy",),
        allowed_in=frozenset({"store"}),
        why="sqlalchemy only in store/ and migrations/",
    ),
    Rule(
        forbidden=("fastapi", "starlette"),
        applies_to=frozenset({"domain", "store", "auth", "registry", "nginx"}),
        why="no web framework below api/",
    ),
    Rule(
        forbidden=(f"{PACKAGE}.observability",),
        applies_to=frozenset({"store"}),
        why="store and observability do not import each other: pass what is needed in",
    ),
    Rule(
        forbidden=(f"{PACKAGE}.store",),
        applies_to=frozenset({"observability"}),
        why="store and observability do not import each other: pass what is needed in",
    ),
    Rule(
        forbidden=(f"{PACKAGE}.api",),
        applies_to=frozenset({"domain"}),
        why="the domain does not know the HTTP layer",
    ),
)


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    line: int
    layer: str
    target: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.layer} imports {self.target} ({self.why})"


def _resolve(module: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute name ``from <dots><module> import ...`` refers to inside ``importer``."""
    if level == 0:
        return module or ""
    parts = importer.split(".")
    # A package's own __init__ is its anchor; a plain module's anchor is the package holding it.
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, module] if module else base)


def imported_names(tree: ast.AST, importer: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted name) of everything the tree imports.

    ``from a.b import c`` yields ``a.b`` and then ``a.b.c``: the name may be a submodule, so
    ``from repohub import store`` is seen as importing the store.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, importer, is_package)
            if base:
                yield node.lineno, base
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{base}.{alias.name}".lstrip(".")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else parts[0]


def check_source(
    source: str,
    module: str,
    path: str = "<source>",
    is_package: bool = False,
    rules: Iterable[Rule] = RULES,
) -> list[Violation]:
    """The rules ``source`` (the text of ``module``, e.g. ``repohub.store.audit``) breaks."""
    layer = _layer(module)
    tree = ast.parse(source, filename=path)
    active = [rule for rule in rules if rule.covers(layer)]
    found: dict[tuple[int, Rule], Violation] = {}
    for line, target in imported_names(tree, module, is_package):
        for rule in active:
            # One line per import statement and rule: `from sqlalchemy.exc import A, B` once.
            if rule.breaks(target) and (line, rule) not in found:
                found[line, rule] = Violation(path, line, layer, target, rule.why)
    return sorted(found.values(), key=lambda violation: violation.line)


def _module_name(file: Path, root: Path) -> tuple[str, bool]:
    relative = file.relative_to(root).with_suffix("")
    parts = [root.name, *relative.parts]
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def check_tree(root: Path) -> list[Violation]:
    """Every rule broken by a module under ``root`` (the package directory, e.g. src/repohub)."""
    found: list[Violation] = []
    for file in sorted(root.rglob("*.py")):
        module, is_package = _module_name(file, root)
        shown = os.path.relpath(file)  # clickable from where make runs
        found += check_source(file.read_text(encoding="utf-8"), module, shown, is_package)
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "src" / PACKAGE
    violations = check_tree(root)
    for violation in violations:
        print(violation)
    if violations:
        print(f"layer rules: {len(violations)} import(s) break them (see RULES in {Path(__file__).name})")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
