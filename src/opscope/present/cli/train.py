"""``opscope train``: warm the metric detectors from the samples already stored.

The detectors learn online, but a fresh one needs days of a series before it knows its
daily shape. This command replays stored samples in event-time order through a fresh
detector bank (the same settings the server uses) and saves its state where the server
restores it at start; from there the server keeps learning from new samples.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from opscope.present.cli.options import CONFIG, DATA_DIR, open_stopped_store, settings_from

if TYPE_CHECKING:
    from opscope.store.ports import Store

STOPPED_SERVER = ("Run it with the server stopped: the embedded database (DuckDB) can be "
                  "open in one process at a time.")


def _when(text: str, now: datetime, option: str) -> datetime:
    """A duration back from ``now`` (``7d``, ``12h``, ``1h30m``) or an ISO 8601 time."""
    from opscope.react.duration import parse_duration

    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            back = parse_duration(text)
        except ValueError:
            typer.secho(f"error: {option} takes a duration such as 7d or 12h, or an ISO 8601 "
                        f"time; got {text!r}", fg="red", err=True)
            raise typer.Exit(2) from None
        if not isinstance(back, timedelta):
            raise typer.Exit(2) from None
        return now - back
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def train(
    since: str = typer.Option("14d", "--since", help="Start of the history to learn from: a "
                              "duration back from --until (14d, 12h) or an ISO 8601 time; two "
                              "weeks let the seasonal profile learn weekends."),
    until: str = typer.Option("now", "--until", help="End of that history (exclusive): "
                              "'now' or an ISO 8601 time (for data replayed from the past)."),
    config: Path | None = CONFIG,
    data_dir: Path | None = DATA_DIR,
    batch_rows: int = typer.Option(100_000, "--batch-rows", min=1,
                                   help="Samples read from the store at a time."),
) -> None:
    """Warm the metric detectors from stored samples; the server loads them at start.

    Replays the samples stored between --since and --until, oldest first,
    through fresh detectors configured as in the settings
    (metric_analysis.bank), and saves their state in the data directory,
    replacing any saved state.

    Run it with the server stopped: the embedded database (DuckDB) can be
    open in one process at a time. With PostgreSQL, run it in the core's data
    directory while the core is stopped, since the core saves its own detector
    state when it stops.
    """
    from pydantic import ValidationError

    from opscope.analyze.metrics import BankConfig, SeriesDetectorBank
    from opscope.analyze.metrics.stage import STATE_FILE, save_state
    from opscope.errors import StorageError
    from opscope.store.duckdb import DuckDBStore

    settings = settings_from(config, data_dir=data_dir)
    now = datetime.now(UTC)
    end = now if until == "now" else _when(until, now, "--until")
    start = _when(since, end, "--since")
    if start >= end:
        typer.secho("error: --since must be before --until", fg="red", err=True)
        raise typer.Exit(2)
    try:
        bank_config = BankConfig.model_validate(settings.metric_analysis.bank)
    except ValidationError as exc:
        typer.secho(f"error: invalid metric_analysis.bank settings: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    store: Store
    if settings.storage.backend == "postgres":
        store = open_stopped_store(settings.data_dir, config)
    else:
        path = settings.database_path
        if not path.exists():
            typer.secho(f"error: no database at {path}; nothing to learn from", fg="red",
                        err=True)
            raise typer.Exit(1)
        try:
            store = DuckDBStore(path)
        except StorageError as exc:
            typer.secho(f"error: {exc.message}\nIs the server running on this data "
                        f"directory? {STOPPED_SERVER}", fg="red", err=True)
            raise typer.Exit(1) from None

    bank = SeriesDetectorBank(bank_config)
    samples = alarms = 0
    started = time.perf_counter()
    try:
        for columns in store.sample_history(start, end, batch_rows):
            scores = bank.score_arrays(columns.series, columns.ts, columns.values,
                                       columns.names)
            samples += len(columns.series)
            alarms += int(scores.alarm.sum())
    except StorageError as exc:
        typer.secho(f"error: {exc.message}", fg="red", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    elapsed = time.perf_counter() - started
    if samples == 0:
        typer.secho(f"no samples stored between {start:%Y-%m-%d %H:%M} and "
                    f"{end:%Y-%m-%d %H:%M} UTC; the saved state is left as it was",
                    fg="yellow", err=True)
        raise typer.Exit(1)
    state = settings.data_dir / STATE_FILE
    replaced = state.exists()
    save_state(state, bank)
    rate = samples / elapsed if elapsed > 0 else float("inf")
    typer.echo(f"learnt {samples} samples of {len(bank)} series from "
               f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC in {elapsed:.1f} s "
               f"({rate:,.0f} samples/s); {alarms} would have alarmed")
    typer.echo(f"{'replaced' if replaced else 'saved'} the detector state in {state}; the "
               "server loads it at start and keeps learning")
