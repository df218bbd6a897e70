"""``opscope report``: the operations report of a time window, from a server or a
stopped server's data directory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import typer

from opscope.present.cli.incidents_cmd import parse_since
from opscope.present.cli.options import CONFIG, DATA_DIR, URL, open_stopped_store


def report(
    since: str = typer.Option("7d", help="Window start: 7d, 12h, 30m back, or an ISO time."),
    until: str = typer.Option("", help="Window end (ISO time); default: now."),
    output_format: str = typer.Option("markdown", "--format",
                                      help="markdown or json."),
    out: Path | None = typer.Option(None, "--out", help="Write to this file instead."),
    url: str = URL,
    token: str | None = typer.Option(None, "--token", envvar="OPSCOPE_TOKEN",
                                     help="API token with the read scope (or OPSCOPE_TOKEN)."),
    data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
) -> None:
    """Operations report: incidents (time to acknowledge and resolve, causes, impact),
    alerts and noise, anomalies and automated reactions of a time window."""
    if output_format not in ("markdown", "json"):
        raise typer.BadParameter("--format is markdown or json")
    now = datetime.now(UTC)
    end = parse_since(until, now) if until else now
    start = parse_since(since, end)
    if start >= end:
        raise typer.BadParameter("the window is empty: --since must be before --until")
    if data_dir is not None:
        doc = _from_store(data_dir, config, start, end)
    elif token:
        doc = _from_server(url, token, start, end)
    else:
        raise typer.BadParameter("give --token (or OPSCOPE_TOKEN), or --data-dir")
    from opscope.present.reports.operations import render_markdown

    text = (render_markdown(doc) if output_format == "markdown"
            else orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


def _from_store(data_dir: Path, config: Path | None, start: datetime,
                end: datetime) -> dict[str, Any]:
    from opscope.present.reports.operations import build_report

    store = open_stopped_store(data_dir, config)
    try:
        return build_report(store, start, end)
    finally:
        store.close()


def _from_server(url: str, token: str, start: datetime, end: datetime) -> dict[str, Any]:
    import httpx

    try:
        resp = httpx.get(f"{url.rstrip('/')}/api/v1/reports/operations",
                         params={"start": start.isoformat(), "end": end.isoformat()},
                         headers={"Authorization": f"Bearer {token}"}, timeout=120)
    except httpx.HTTPError as exc:
        raise typer.BadParameter(f"cannot reach the server: {exc}") from None
    if resp.status_code != 200:
        typer.secho(f"error {resp.status_code}: {resp.text[:2000]}", fg="red", err=True)
        raise typer.Exit(1)
    found: dict[str, Any] = resp.json()
    return found
