"""The layers as tests: the import-linter contracts cover the core; ``__all__`` once per package.

``lint-imports`` (run by ``make test``) checks the contracts in pyproject.toml;
these tests keep the contracts themselves complete as modules are added.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "carboy"
#: The batteries (those that exist are checked): the core must never import them.
BATTERIES = ("db", "auth", "mail", "forms", "admin", "api", "channels", "tasks", "cache")


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["type"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _top_level_modules() -> set[str]:
    names = set()
    for path in PACKAGE.iterdir():
        if path.suffix == ".py" and path.stem != "__init__":
            names.add(path.stem)
        elif path.is_dir() and (path / "__init__.py").exists():
            names.add(path.name)
    return names


def test_every_core_module_is_forbidden_to_import_the_batteries() -> None:
    contract = _contracts()["forbidden"]
    core = {f"carboy.{name}" for name in _top_level_modules() if name not in BATTERIES}
    assert set(contract["source_modules"]) == core
    existing = {f"carboy.{name}" for name in BATTERIES if (PACKAGE / name).is_dir()}
    assert set(contract["forbidden_modules"]) == existing


def test_every_package_is_checked_for_cycles() -> None:
    contract = _contracts()["acyclic_siblings"]
    batteries = {f"carboy.{name}" for name in BATTERIES if (PACKAGE / name).is_dir()}
    assert set(contract["ancestors"]) == {"carboy"} | batteries


def _defines_all(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(target, ast.Name) and target.id == "__all__"
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
        for node in tree.body
    )


@pytest.mark.parametrize(
    "path",
    sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" and "project_template" not in p.parts
    ),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_all_is_defined_once_per_package_not_in_modules(path: Path) -> None:
    relative = str(path.relative_to(ROOT))
    assert not _defines_all(path), f"{relative}: __all__ belongs in the package's __init__.py"
