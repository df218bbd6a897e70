"""``opscope rules``: check rule files, and replay them over the history a server stored.

``rules test FILE --data-dir DIR`` reads the events, anomalies and incidents stored in a
(stopped) server's database and shows which rules would have fired on them, and what
each action would have sent; nothing is run. ``--history FILE`` replays a JSON file of
triggers instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from opscope.errors import OpscopeError
from opscope.present.cli.options import open_stopped_store
from opscope.react.cli import actions_command, check_command, run_test
from opscope.react.history import JsonFileHistory
from opscope.react.ports import HistorySource
from opscope.react.triggers import Trigger, trigger_from_fields
from opscope.store.ports import EventQuery, IncidentQuery, Page, RecordQuery, Store, TimeRange

rules_app = typer.Typer(help="Check reaction rules and replay them over history.",
                        no_args_is_help=True)
rules_app.command("check")(check_command)
rules_app.command("actions")(actions_command)

PAGE = 1000


def _pages(fetch: Callable[[str | None], Page]) -> Iterator[dict[str, Any]]:
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield from page.items
        cursor = page.next_cursor
        if not cursor:
            return


def _at(row: dict[str, Any], key: str) -> datetime | None:
    value = row.get(key)
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class StoredHistory:
    """Triggers as the server would have made them from what its store holds: an
    ``event`` per stored alert (at its start), an ``anomaly`` per anomaly, and
    ``incident.opened`` / ``incident.resolved`` per incident."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def triggers(self, start: datetime, end: datetime) -> Iterator[Trigger]:
        window = TimeRange(start, end)
        found: list[Trigger] = []
        for row in _pages(lambda c: self.store.query_events(
                EventQuery(time=window, limit=PAGE, cursor=c))):
            found.append(trigger_from_fields({"kind": "event", "event": row},
                                             at=_at(row, "starts_at")))
        for row in _pages(lambda c: self.store.query_anomalies(
                RecordQuery(time=window, limit=PAGE, cursor=c))):
            found.append(trigger_from_fields({"kind": "anomaly", "anomaly": row},
                                             at=_at(row, "ts")))
        for row in _pages(lambda c: self.store.query_incidents(
                IncidentQuery(time=window, limit=PAGE, cursor=c))):
            found.append(trigger_from_fields({"kind": "incident.opened", "incident": row},
                                             at=_at(row, "opened_at")))
            resolved = _at(row, "resolved_at")
            if resolved is not None and start <= resolved < end:
                found.append(trigger_from_fields(
                    {"kind": "incident.resolved", "incident": row}, at=resolved))
        found.sort(key=lambda t: t.at)
        return iter(found)


@rules_app.command("test")
def test_command(
    file: Annotated[Path, typer.Argument(help="Rule file (YAML).")],
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Data directory of a stopped server: replay what it stored.")] = None,
    history: Annotated[Path | None, typer.Option(
        help="Instead: a JSON file of triggers.")] = None,
    replay_window: Annotated[str, typer.Option("--replay", help="How far back, e.g. 24h.")] = "24h",
    until: Annotated[str, typer.Option(help="End of the window (ISO 8601); default now.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Show what the rules would have done on stored history, without running anything."""
    if (data_dir is None) == (history is None):
        typer.secho("give either --data-dir (a server's stored history) or --history FILE",
                    fg="red", err=True)
        raise typer.Exit(2)
    if history is not None:
        try:
            source: HistorySource = JsonFileHistory(history)
        except OpscopeError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from exc
        run_test(file, source, replay_window, until, as_json)
        return
    assert data_dir is not None  # one of the two was given, checked above
    store = open_stopped_store(data_dir, None)
    try:
        run_test(file, StoredHistory(store), replay_window, until, as_json)
    finally:
        store.close()
