"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from opscope.config import Settings, load_settings
from opscope.errors import ConfigError, OpscopeError

if TYPE_CHECKING:
    from opscope.store.ports import Store

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


def open_stopped_store(data_dir: Path, config: Path | None) -> Store:
    """The store a server uses, for commands that read it: the embedded file of a stopped
    server's data directory, or the shared PostgreSQL database (which may be in use).
    Exits with status 1 saying why when it cannot be opened."""
    from opscope.store.duckdb import DuckDBStore

    settings = settings_from(config, data_dir=data_dir)
    if settings.storage.backend == "postgres":
        from opscope.store.postgres import PostgresStore

        try:
            store: Store = PostgresStore(settings.storage.postgres_dsn, pool_size=2)
        except OpscopeError as exc:
            typer.secho(f"error: {exc.message}", fg="red", err=True)
            raise typer.Exit(1) from exc
        return store
    if not settings.database_path.exists():
        typer.secho(f"error: no database at {settings.database_path}", fg="red", err=True)
        raise typer.Exit(1)
    try:
        return DuckDBStore(settings.database_path)
    except OpscopeError as exc:
        typer.secho(f"error: {exc.message} (is the server still running on it?)",
                    fg="red", err=True)
        raise typer.Exit(1) from exc


def stamp(value: Any) -> str:
    """A stored ISO time as ``YYYY-MM-DD HH:MM:SS`` for tables (empty when there is none)."""
    return str(value or "").replace("T", " ").removesuffix("Z")[:19]


def api_client(url: str, token: str) -> Any:
    """An HTTP client of a running server, sending the token (close it when done)."""
    import httpx

    return httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def api_call(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    """The JSON answer of one API call; None for 404. Any other failure exits with status 1
    showing the server's answer, and an unreachable server is a usage error."""
    import httpx

    try:
        resp = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise typer.BadParameter(f"cannot reach the server: {exc}") from None
    if resp.status_code == 404:
        return None
    if resp.status_code != 200:
        typer.secho(f"error {resp.status_code}: {resp.text[:2000]}", fg="red", err=True)
        raise typer.Exit(1)
    return resp.json()
