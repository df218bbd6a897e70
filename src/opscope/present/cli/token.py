"""``opscope token``: create, list and revoke API tokens in the data directory."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from opscope.errors import OpscopeError
from opscope.present.api.auth import SCOPES, create_token
from opscope.present.cli.options import CONFIG, DATA_DIR, settings_from

token_app = typer.Typer(help="Manage API tokens (stored hashed in the data directory).",
                        no_args_is_help=True)


def _open(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from opscope.app import open_store

    settings = settings_from(config, data_dir=data_dir)
    try:
        return open_store(settings)
    except Exception as exc:  # DuckDB refuses a file a running server holds
        typer.secho(f"error: cannot open {settings.database_path}: {exc}\n"
                    "If a server is running on it, create tokens through "
                    "POST /api/v1/tokens with an admin token.", fg="red", err=True)
        raise typer.Exit(1) from None


@token_app.command("create")
def create(
    scope: list[str] = typer.Option(..., "--scope", "-s",
                                    help=f"Repeatable; some of {', '.join(SCOPES)}."),
    name: str = typer.Option("", "--name", help="What the token is for."),
    config: Path | None = CONFIG, data_dir: Path | None = DATA_DIR,
) -> None:
    """Create a token and print it (it is shown only this once)."""
    store = _open(config, data_dir)
    try:
        typer.echo(create_token(store, scope, name))
    except OpscopeError as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from None
    finally:
        store.close()


@token_app.command("list")
def list_tokens(config: Path | None = CONFIG, data_dir: Path | None = DATA_DIR) -> None:
    """List tokens (ids, names, scopes; never the secrets)."""
    store = _open(config, data_dir)
    try:
        rows = store.list_tokens()
    finally:
        store.close()
    table = Table("id", "name", "scopes", "created", "revoked")
    for row in rows:
        table.add_row(str(row.get("token_id")), str(row.get("name") or ""),
                      ",".join(row.get("scopes") or []), str(row.get("created_at") or ""),
                      str(row.get("revoked_at") or ""))
    Console().print(table)


@token_app.command("revoke")
def revoke(token_id: str, config: Path | None = CONFIG,
           data_dir: Path | None = DATA_DIR) -> None:
    """Revoke a token by id."""
    store = _open(config, data_dir)
    try:
        found = store.revoke_token(token_id)
    finally:
        store.close()
    if not found:
        typer.secho(f"no token {token_id}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id}")
