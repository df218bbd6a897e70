"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from opscope.config import Settings, load_settings
from opscope.errors import ConfigError

CONFIG = typer.Option(None, "--config", "-c", help="YAML settings file (or OPSCOPE_CONFIG).",
                      exists=True, dir_okay=False)
DATA_DIR = typer.Option(None, "--data-dir", help="Data directory (overrides the config).")
URL = typer.Option("http://127.0.0.1:8080", "--url", envvar="OPSCOPE_URL",
                   help="Base URL of a running opscope server.")
TOKEN = typer.Option(..., "--token", envvar="OPSCOPE_TOKEN",
                     help="API token (or OPSCOPE_TOKEN).")


def settings_from(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None
