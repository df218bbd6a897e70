"""``opscope anomalies list|show|verdict``: the anomalies analysis found, and an
operator's verdict on one.

``list`` and ``show`` read a running server over the API (``--url``, ``--token``) or,
with ``--data-dir``, the database of a stopped one. ``verdict`` goes to a running
server only: a false alarm on a metric series teaches the detector that scores it, which
lives in the server's core process.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from opscope.present.cli.incidents_cmd import DATA_DIR, TOKEN, parse_since
from opscope.present.cli.options import (
    CONFIG,
    URL,
    api_call,
    api_client,
    open_stopped_store,
    stamp,
)

anomalies_app = typer.Typer(help="Anomalies found by analysis, and verdicts on them.",
                            no_args_is_help=True)

_PAGE = 500


def _client(url: str, token: str | None) -> Any:
    if not token:
        raise typer.BadParameter("give --token (or OPSCOPE_TOKEN), or --data-dir")
    return api_client(url, token)


def _rows(url: str, token: str | None, data_dir: Path | None, config: Path | None,
          params: dict[str, Any], most: int) -> list[dict[str, Any]]:
    """Anomalies, newest first, over the API or from a stopped server's store."""
    rows: list[dict[str, Any]] = []
    cursor = None
    if data_dir is not None:
        from opscope.store.ports import RecordQuery, TimeRange

        store = open_stopped_store(data_dir, config)
        try:
            while len(rows) < most:
                page = store.query_anomalies(RecordQuery(
                    time=TimeRange(params.get("start"), None), entity=params.get("entity"),
                    kind=params.get("kind"), limit=min(_PAGE, most - len(rows)),
                    cursor=cursor))
                rows += page.items
                cursor = page.next_cursor
                if not cursor or not page.items:
                    break
        finally:
            store.close()
        return rows
    query = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in params.items()}
    with _client(url, token) as client:
        while len(rows) < most:
            found = api_call(client, "GET", "/api/v1/anomalies", params={
                **query, "limit": min(_PAGE, most - len(rows)),
                **({"cursor": cursor} if cursor else {})})
            rows += found["items"]
            cursor = found.get("next_cursor")
            if not cursor or not found["items"]:
                break
    return rows


@anomalies_app.command("list")
def list_anomalies(
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
    kind: str | None = typer.Option(None, "--kind", "-k",
                                    help="metric, log_new_template, log_rate, ..."),
    entity: str | None = typer.Option(None, "--entity", "-e", help="One entity."),
    since: str = typer.Option("24h", "--since", help="7d, 12h, 30m or an ISO time."),
    top: int = typer.Option(50, "--top", "-n", min=1, max=10_000, help="Anomalies to show."),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Anomalies, newest first, with their score and what was unusual."""
    start = parse_since(since, datetime.now(UTC))
    params = {k: v for k, v in (("kind", kind), ("entity", entity), ("start", start)) if v}
    rows = _rows(url, token, data_dir, config, params, top)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"anomalies since {stamp(start.isoformat())}")
    table.add_column("id", no_wrap=True)  # what `show` and `verdict` take: never cut it
    for name in ("at", "kind", "entity", "score", "summary"):
        table.add_column(name)
    for row in rows:
        table.add_row(row["id"], stamp(row["ts"]), row["kind"], row["entity"],
                      f"{row['score']:.2f}", row["summary"])
    Console().print(table)


@anomalies_app.command("show")
def show_anomaly(
    anomaly_id: str = typer.Argument(..., help="Anomaly id (see `opscope anomalies list`)."),
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
) -> None:
    """One anomaly with its evidence and the verdicts given on it, as JSON."""
    if data_dir is not None:
        store = open_stopped_store(data_dir, config)
        try:
            found = store.get_anomaly(anomaly_id)
            if found is not None:
                found = {**found, "verdicts": store.anomaly_verdicts([anomaly_id]).get(
                    anomaly_id, [])}
        finally:
            store.close()
    else:
        with _client(url, token) as client:
            found = api_call(client, "GET", f"/api/v1/anomalies/{anomaly_id}")
    if found is None:
        typer.secho(f"no anomaly {anomaly_id}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(found, indent=2, default=str))


@anomalies_app.command("verdict")
def give_verdict(
    anomaly_id: str = typer.Argument(..., help="Anomaly id (see `opscope anomalies list`)."),
    verdict: str = typer.Argument(..., help="false_alarm or confirmed."),
    url: str = URL,
    token: str | None = typer.Option(None, "--token", envvar="OPSCOPE_TOKEN",
                                     help="API token with the ingest scope (or OPSCOPE_TOKEN)."),
    note: str = typer.Option("", "--note", help="Why, in a few words."),
    actor: str = typer.Option("", "--actor", help="Who judges; default: the token's name."),
) -> None:
    """Judge an anomaly on a running server.

    A false alarm on a metric series also teaches its detector not to page again for a
    surprise of that size; every verdict is kept as a label."""
    if verdict not in ("false_alarm", "confirmed"):
        raise typer.BadParameter(f"use false_alarm or confirmed, not {verdict!r}",
                                 param_hint="VERDICT")
    with _client(url, token) as client:
        answer = api_call(client, "POST", f"/api/v1/anomalies/{anomaly_id}/verdict",
                       json={"verdict": verdict, "note": note, "actor": actor})
    if answer is None:
        typer.secho(f"no anomaly {anomaly_id}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{verdict} on {anomaly_id}: {answer['detail']}")
