"""``opscope incidents list|show|similar|summary`` and ``opscope patterns``: incidents,
their root causes, similar past incidents, plain-English summaries, and the patterns in
alert and incident history.

Both read a running server over the API (``--url``, ``--token``), or, with
``--data-dir``, the database of a stopped one directly (DuckDB lets one process open
the file at a time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import typer

from opscope.present.cli.options import (
    CONFIG,
    URL,
    api_call,
    api_client,
    open_stopped_store,
    settings_from,
    stamp,
)

incidents_app = typer.Typer(help="Incidents and their ranked root causes.",
                            no_args_is_help=True)

TOKEN = typer.Option(None, "--token", envvar="OPSCOPE_TOKEN",
                     help="API token with the read scope (or OPSCOPE_TOKEN).")
DATA_DIR = typer.Option(None, "--data-dir",
                        help="Read this data directory instead of a server (server stopped).")
_PAGE = 500


class Reader(Protocol):
    def page(self, kind: str, params: dict[str, Any]) -> dict[str, Any]: ...
    def incident(self, incident_id: str) -> dict[str, Any] | None: ...
    def similar(self, incident_id: str, limit: int) -> dict[str, Any] | None: ...
    def summary(self, incident_id: str, narrate: bool) -> dict[str, Any] | None: ...
    def patterns(self, start: datetime, most: int) -> dict[str, Any]: ...


class ApiReader:
    def __init__(self, url: str, token: str) -> None:
        self._client = api_client(url, token)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return api_call(self._client, "GET", path, params=params)

    def page(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/api/v1/{kind}", params)
        return found

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._get(f"/api/v1/incidents/{incident_id}")
        return found

    def similar(self, incident_id: str, limit: int) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._get(f"/api/v1/incidents/{incident_id}/similar",
                                                 {"limit": limit})
        return found

    def summary(self, incident_id: str, narrate: bool) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._get(
            f"/api/v1/incidents/{incident_id}/summary", {"narrate": str(narrate).lower()})
        return found

    def patterns(self, start: datetime, most: int) -> dict[str, Any]:
        found: dict[str, Any] = self._get("/api/v1/patterns", {
            "start": start.isoformat(), "max_events": most})
        return found


class StoreReader:
    def __init__(self, data_dir: Path, config: Path | None) -> None:
        self._store = open_stopped_store(data_dir, config)
        self._llm = settings_from(config, data_dir=data_dir).nlp.llm

    def page(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        from opscope.store.ports import IncidentQuery, TimeRange

        page = self._store.query_incidents(IncidentQuery(
            TimeRange(params.get("start"), None), params.get("status"),
            tuple(params.get("severity", ())), params.get("entity"), params["limit"],
            params.get("cursor")))
        return {"items": page.items, "next_cursor": page.next_cursor}

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return self._store.get_incident(incident_id)

    def similar(self, incident_id: str, limit: int) -> dict[str, Any] | None:
        from opscope.errors import NotFound
        from opscope.present.api.nlp import similar_incidents

        try:
            return similar_incidents(self._store, incident_id, limit)
        except NotFound:
            return None

    def summary(self, incident_id: str, narrate: bool) -> dict[str, Any] | None:
        from opscope.errors import NotFound
        from opscope.present.api.nlp import incident_summary

        try:
            return incident_summary(self._store, incident_id, self._llm if narrate else None)
        except NotFound:
            return None

    def patterns(self, start: datetime, most: int) -> dict[str, Any]:
        from opscope.present.api.patterns import patterns_since

        return patterns_since(self._store, start, most, 2_000)


def _reader(url: str, token: str | None, data_dir: Path | None,
            config: Path | None) -> Reader:
    if data_dir is not None:
        return StoreReader(data_dir, config)
    if not token:
        raise typer.BadParameter("give --token (or OPSCOPE_TOKEN), or --data-dir")
    return ApiReader(url, token)


def _all(reader: Reader, kind: str, params: dict[str, Any], most: int) -> Iterator[Any]:
    cursor, seen = None, 0
    while seen < most:
        page = reader.page(kind, {**params, "limit": min(_PAGE, most - seen),
                                  **({"cursor": cursor} if cursor else {})})
        yield from page["items"]
        seen += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor or not page["items"]:
            return


def parse_since(text: str, now: datetime) -> datetime:
    """``7d``, ``12h``, ``30m`` back from ``now``, or an ISO 8601 time."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm])\s*", text)
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
        return now - timedelta(**{unit: float(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"--since: use 7d, 12h, 30m or an ISO time, not {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@incidents_app.command("list")
def list_incidents(
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
    status: str | None = typer.Option(None, help="open, resolved or merged."),
    entity: str | None = typer.Option(None, "--entity", "-e", help="An affected entity."),
    top: int = typer.Option(30, "--top", "-n", min=1, max=10_000, help="Incidents to show."),
) -> None:
    """Incidents, newest first, with severity, entities and the top root cause."""
    from rich.console import Console
    from rich.table import Table

    reader = _reader(url, token, data_dir, config)
    params = {k: v for k, v in (("status", status), ("entity", entity)) if v}
    table = Table(title="incidents")
    table.add_column("id", no_wrap=True)  # ids are what `show` takes: never cut them
    for name in ("status", "severity", "opened", "signals", "entities", "likely cause"):
        table.add_column(name)
    for item in _all(reader, "incidents", params, top):
        cause = (item.get("top_hypothesis") or {}).get("entity", "")
        table.add_row(item["id"], item["status"], item["severity"], stamp(item["opened_at"]),
                      str(item.get("signal_count", 0)), ", ".join(item["entities"][:6]), cause)
    Console().print(table)


@incidents_app.command("show")
def show_incident(
    incident_id: str = typer.Argument(..., help="Incident id."),
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
) -> None:
    """One incident: members, ranked root causes with evidence, timeline."""
    reader = _reader(url, token, data_dir, config)
    inc = reader.incident(incident_id)
    if inc is None:
        typer.secho(f"no incident {incident_id}", fg="red", err=True)
        raise typer.Exit(1)
    typer.echo(f"{inc['id']}  {inc['status']}  {inc['severity']}  {inc['title']}")
    typer.echo(f"opened {stamp(inc['opened_at'])}  updated {stamp(inc['updated_at'])}"
               f"  entities {', '.join(inc['entities'])}  impact "
               f"{', '.join(inc['impact']) or '-'}")
    typer.echo(f"\nroot causes (ranked {stamp(inc.get('ranked_at')) or 'not yet'}):")
    for hyp in inc.get("hypotheses", [])[:5]:
        typer.echo(f"  {hyp['rank']}. {hyp['entity']}  score {hyp['score']:.3g}  "
                   f"{hyp['reason']}")
        for ev in hyp.get("evidence", [])[:4]:
            typer.echo(f"       - {ev['kind']}: {ev['summary']}")
    members, total = inc.get("members", []), inc.get("member_total")
    shown = f"the first {len(members)} of {total}" if total and total > len(members) \
        else str(len(members))
    typer.echo(f"\nmembers ({shown}):")
    for m in members:
        sig = m["signal"]
        muted = f"  [muted: {', '.join(x['kind'] for x in m['muted_by'])}]" \
            if m["muted_by"] else ""
        typer.echo(f"  {stamp(sig['starts_at'])}  {sig['name']} on {sig['entity']}"
                   f"  ({m['reason']}){muted}")
    entries, total = inc.get("timeline", []), inc.get("timeline_total")
    typer.echo("\ntimeline" + (f" (the first {len(entries)} of {total})"
                               if total and total > len(entries) else "") + ":")
    for entry in entries:
        typer.echo(f"  {stamp(entry['ts'])}  {entry['kind']:16} {entry['summary']}")


JSON_OUT = typer.Option(False, "--json", help="Print the answer as JSON.")


def _found(found: dict[str, Any] | None, incident_id: str) -> dict[str, Any]:
    if found is None:
        typer.secho(f"no incident {incident_id}", fg="red", err=True)
        raise typer.Exit(1)
    return found


@incidents_app.command("similar")
def similar_incidents(
    incident_id: str = typer.Argument(..., help="Incident id."),
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
    limit: int = typer.Option(5, "--limit", "-n", min=1, max=50, help="Incidents to show."),
    json_out: bool = JSON_OUT,
) -> None:
    """Similar past incidents, with the features both share and how each one ended.

    Each has a score from 0 to 1, the shared features behind it, and how it ended
    (resolved when and by whom, duration, tickets)."""
    found = _found(_reader(url, token, data_dir, config).similar(incident_id, limit),
                   incident_id)
    if json_out:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found["items"]:
        typer.echo(f"no similar incident among the {found['indexed']} indexed")
    for item in found["items"]:
        typer.echo(f"{item['score']:.2f}  {item['incident_id']}  {item['severity']}  "
                   f"{item['title']}")
        typer.echo(f"      {item['explanation']}")
        typer.echo(f"      opened {stamp(item['outcome']['opened_at'])}, "
                   f"{item['outcome']['text']}")


@incidents_app.command("summary")
def incident_summary(
    incident_id: str = typer.Argument(..., help="Incident id."),
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG, json_out: bool = JSON_OUT,
    narrate: bool = typer.Option(
        False, "--narrate", help="Also have the language model set in nlp.llm retell it "
        "(the server's settings when --url is given)."),
) -> None:
    """A plain-English summary of an incident, built only from its record.

    With --json, each sentence lists the fields it states."""
    found = _found(_reader(url, token, data_dir, config).summary(incident_id, narrate),
                   incident_id)
    if json_out:
        typer.echo(json.dumps(found, indent=2))
        return
    for sentence in found["sentences"]:
        typer.echo(sentence["text"])
    if narrate:
        told = found.get("narrative")
        if told:
            typer.echo(f"\nRetold by {told['model']} from the sentences above:\n{told['text']}")
        else:
            typer.secho(f"\nno retelling: {found.get('narrative_error', 'no model')}",
                        fg="yellow", err=True)


def patterns(
    since: str = typer.Option("7d", help="How far back: 7d, 12h, 30m or an ISO time."),
    url: str = URL, token: str | None = TOKEN, data_dir: Path | None = DATA_DIR,
    config: Path | None = CONFIG,
    most: int = typer.Option(20_000, "--max-events", min=1, max=200_000,
                             help="Alerts read at most."),
    json_out: bool = JSON_OUT,
) -> None:
    """Patterns in alert and incident history: alerts that fire together or in
    sequence, recurring incidents, periodic alerts (with a suggested silence) and alerts
    nobody acts on."""
    from opscope.analyze.patterns import SECTIONS

    start = parse_since(since, datetime.now(UTC))
    found = _reader(url, token, data_dir, config).patterns(start, most)
    if json_out:
        typer.echo(json.dumps(found, indent=2))
        return
    typer.echo(f"{found['alerts']} alerts and {found['incidents']} incidents since "
               f"{stamp(start)}" + (" (older history left unread)" if found["truncated"]
                                     else ""))
    for name in SECTIONS:
        items = found[name]
        typer.echo(f"\n{name.replace('_', ' ')} ({len(items)}):")
        for item in items[:10]:
            typer.echo("  " + _describe(item))


def _describe(data: dict[str, Any]) -> str:
    if "antecedent" in data:
        return (f"{data['antecedent']} {data['kind']} -> {data['consequent']}  "
                f"count {data['count']}  confidence {data['confidence']:.2f}  "
                f"lift {data['lift']:.1f}")
    if "signature" in data:
        return f"{data['count']}x  {', '.join(data['signature'][:4])}"
    if "pattern" in data:
        return (f"{data['type_key']}  {data['pattern']} every {data['period_minutes']:g} min"
                f"  regularity {data['regularity']:.2f}")
    if "in_incidents" in data:
        return (f"{data['type_key']}  {data['count']} firings, {data['in_incidents']} in "
                f"incidents, none acted on")
    return ", ".join(f"{k} {v}" for k, v in list(data.items())[:4])
