"""collect depends only on model, errors, config and pipeline (see docs/architecture)."""

import ast
from pathlib import Path

import opscope.collect

ALLOWED = ("opscope.model", "opscope.errors", "opscope.config", "opscope.pipeline",
           "opscope.collect")


def test_collect_imports_only_inward() -> None:
    root = Path(opscope.collect.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.startswith("opscope") and not name.startswith(ALLOWED):
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []
    assert len(list(root.glob("*.py"))) >= 12  # the walk really looked at the package
