"""Every action kind has the same shape, documented; react imports only lower layers."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from opscope.react.actions import ACTION_KINDS, action_class
from opscope.react.actions.base import Action, ActionConfig

SRC = Path(__file__).parents[2] / "src" / "opscope"


@pytest.mark.parametrize("kind", sorted(ACTION_KINDS))
def test_action_kind_is_typed_documented_and_strict(kind: str) -> None:
    cls = action_class(kind)
    assert issubclass(cls, Action) and cls.kind == kind
    config = cls.config_model
    assert issubclass(config, ActionConfig)
    assert config.model_config.get("extra") == "forbid"
    undocumented = [name for name, f in config.model_fields.items() if not f.description]
    assert not undocumented, f"{kind}: fields without description: {undocumented}"
    module = importlib.import_module(cls.__module__)
    assert module.__doc__ and len(module.__doc__) > 200, f"{kind}: module needs a docs paragraph"
    assert config.model_json_schema()["properties"]


def test_react_imports_only_model_pipeline_errors_and_config() -> None:
    allowed = {"model", "pipeline", "errors", "config", "react"}
    bad = []
    for path in (SRC / "react").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "opscope" and len(parts) > 1 and parts[1] not in allowed:
                    bad.append(f"{path.name}: {node.module}")
    assert not bad
