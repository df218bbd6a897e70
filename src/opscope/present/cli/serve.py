"""``opscope serve``: the API, dashboard and pipeline with embedded storage."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from opscope.present.cli.options import CONFIG, DATA_DIR, settings_from


def serve(
    config: Path | None = CONFIG,
    host: str | None = typer.Option(None, "--host", help="Listen address (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", "-p", help="Listen port (default 8080)."),
    data_dir: Path | None = DATA_DIR,
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning, error."),
    role: str | None = typer.Option(
        None, "--role", help="all (default): everything in one process. ingest: only the "
        "ingestion API and receivers (run several). core: analysis, incidents, reactions, "
        "API and dashboard (run one). web: API and dashboard reading the shared store, "
        "without analysis (run several). Every role but all needs PostgreSQL and NATS."),
) -> None:
    """Run the opscope server: REST API, web dashboard and analysis pipeline.

    One process with embedded storage by default; with PostgreSQL and NATS JetStream
    configured, processes of the ``ingest`` and ``core`` roles share the work."""
    import uvicorn

    from opscope.app import build_services, create_app
    from opscope.present.api.auth import create_token

    settings = settings_from(config, host=host, port=port, data_dir=data_dir, role=role)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    services = build_services(settings)
    # The core (or the single process) makes the first token; the others share it.
    if settings.role in ("all", "core") and not services.store.list_tokens():
        token = create_token(services.store, ["admin"], "first admin token")
        typer.secho("No tokens existed, so an admin token was created (shown once):",
                    fg="yellow")
        typer.echo(f"  {token}")
    where = (f"data in {settings.data_dir}" if settings.storage.backend == "duckdb"
             else "data in PostgreSQL, bus on NATS" if settings.bus.backend == "nats"
             else "data in PostgreSQL")
    typer.echo(f"opscope ({settings.role}) on {settings.base_url} (API docs at "
               f"{settings.base_url}/docs), {where}")
    uvicorn.run(create_app(settings, services), host=settings.host, port=settings.port,
                log_level=log_level.lower(), access_log=False)
