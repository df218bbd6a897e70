"""``opscope config``: show the effective settings and their documentation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from opscope.config import Settings
from opscope.present.cli.options import CONFIG, settings_from

config_app = typer.Typer(help="Inspect settings (YAML file plus OPSCOPE_* overrides).",
                         no_args_is_help=True)


@config_app.command("show")
def show(config: Path | None = CONFIG) -> None:
    """Print the effective settings as YAML, after the file and environment are applied.

    Secrets (the approval key, webhook secrets) are shown as <hidden> when set."""
    settings = settings_from(config)
    typer.echo(yaml.safe_dump(settings.shown(), sort_keys=False))


def _describe(schema: dict[str, Any], defs: dict[str, Any], prefix: str) -> list[str]:
    lines = []
    for name, prop in schema.get("properties", {}).items():
        ref = prop.get("$ref") or next(
            (p.get("$ref") for p in prop.get("anyOf", []) if "$ref" in p), None)
        if ref:
            lines += _describe(defs[ref.split("/")[-1]], defs, f"{prefix}{name}.")
            continue
        default = prop.get("default", "")
        lines.append(f"{prefix}{name} (default: {default}): {prop.get('description', '')}")
    return lines


@config_app.command("docs")
def docs() -> None:
    """List every setting with its default and meaning."""
    schema = Settings.model_json_schema()
    for line in _describe(schema, schema.get("$defs", {}), ""):
        typer.echo(line)
