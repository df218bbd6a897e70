"""Imports point one way: model <- pipeline <- collect, store, analyze <- present, app."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "opscope"

# What each package may import from opscope (besides itself, errors and config).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "pipeline": {"model"},
    "collect": {"model", "pipeline"},
    "store": {"model", "pipeline"},
    "analyze": {"model", "pipeline"},
    "sim": {"model", "pipeline"},
    "react": {"model", "pipeline"},
    "eval": {"model", "pipeline", "analyze", "sim", "collect"},
}
ALWAYS = {"errors", "config", "__init__"}


def _opscope_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "opscope" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_lower_layers(package: str) -> None:
    folder = SRC / package
    assert folder.is_dir(), f"{package} is missing"
    bad = []
    for path in folder.rglob("*.py"):
        for target in _opscope_imports(path) - ALLOWED[package] - ALWAYS - {package}:
            bad.append(f"{path.relative_to(SRC)} imports opscope.{target}")
    assert not bad, "\n".join(bad)


def test_config_and_errors_import_nothing_above_them() -> None:
    for name in ("config.py", "errors.py"):
        assert _opscope_imports(SRC / name) <= {"errors"}, name
