"""Micro-benchmark of the embedded store's batch appends.

Reports rows/s for events, logs and samples appended to a DuckDB file, per batch size,
and, as a reference, the cost of building the Arrow batch alone (logs). Model objects
are built before timing: only the store's work is measured.

    .venv/bin/python bench/bench_store.py [--rows 200000] [--batch 1000 5000 10000] [--writers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opscope.model import Event, Level, LogRecord, MetricSample, Severity
from opscope.store.duckdb import DuckDBStore
from opscope.store.duckdb.logs import log_table

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def make_logs(n: int) -> list[LogRecord]:
    return [
        LogRecord(
            ts=T0 + timedelta(milliseconds=i), source="syslog", entity=f"svc-{i % 20}",
            level=(Level.INFO, Level.WARNING, Level.ERROR)[i % 3],
            message=f"user {i} logged in from 10.0.{i % 7}.{i % 251} in {i % 997} ms",
            attributes={"pid": str(1000 + i % 50), "host": f"node-{i % 8}"},
            template_id=f"t{i % 40}", params=[str(i), f"10.0.{i % 7}.{i % 251}"],
        )
        for i in range(n)
    ]


def make_samples(n: int, series: int = 500) -> list[MetricSample]:
    return [
        MetricSample(
            name="http_request_duration_seconds",
            labels={"service": f"svc-{i % series}", "instance": f"node-{i % 8}:9100",
                    "method": "GET"},
            value=float(i % 1000) / 7.0, ts=T0 + timedelta(seconds=i // series),
        )
        for i in range(n)
    ]


def make_events(n: int, distinct: int) -> list[Event]:
    return [
        Event(
            source="alertmanager", name=f"Alert{i % 30}", entity=f"svc-{i % distinct}",
            severity=(Severity.CRITICAL, Severity.WARNING, Severity.INFO)[i % 3],
            summary=f"summary {i % distinct}",
            labels={"alertname": f"Alert{i % 30}", "service": f"svc-{i % distinct}",
                    "env": "prod"},
            starts_at=T0 + timedelta(seconds=i % distinct),
        )
        for i in range(n)
    ]


def rate(
    rows: Sequence[Any], batch: int, write: Callable[[Sequence[Any]], object], writers: int = 1
) -> tuple[float, float]:
    """Rows per second of wall time, and per second of CPU time (all threads of the process:
    the figure that matters when other processes share the cores).

    With several ``writers`` the batches are shared out between threads, as the API
    server's thread pool does with concurrent requests.
    """
    starts = list(range(0, len(rows), batch))

    def run(mine: list[int]) -> None:
        for i in mine:
            write(rows[i:i + batch])

    wall, cpu = time.perf_counter(), time.process_time()
    if writers == 1:
        run(starts)
    else:
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(run, [starts[w::writers] for w in range(writers)]))
    return len(rows) / (time.perf_counter() - wall), len(rows) / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per measurement")
    parser.add_argument("--batch", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--writers", type=int, default=1, help="threads appending at once")
    args = parser.parse_args()

    logs = make_logs(args.rows)
    samples = make_samples(args.rows)
    events_new = make_events(args.rows // 4, distinct=args.rows // 4)
    events_repeat = make_events(args.rows // 4, distinct=2_000)
    print(f"{args.rows:,} rows per measurement (events: {len(events_new):,}), "
          f"{args.writers} writer thread(s); "
          "rows/s of wall time, (rows/s of CPU time)")
    kinds = ("arrow build (logs)", "logs", "samples", "events, new", "events, repeats")
    print(f"{'batch':>6} " + " ".join(f"{k:>22}" for k in kinds))
    with tempfile.TemporaryDirectory() as tmp:
        for batch in args.batch:
            figures = [rate(logs, batch, lambda b: log_table(b, T0))]
            for name, rows, method in (
                ("logs", logs, "append_logs"), ("samples", samples, "append_samples"),
                ("events_new", events_new, "upsert_events"),
                ("events_repeat", events_repeat, "upsert_events"),
            ):
                store = DuckDBStore(Path(tmp) / f"{name}-{batch}.duckdb")
                figures.append(rate(rows, batch, getattr(store, method), args.writers))
                store.close()
            print(f"{batch:>6} " + " ".join(f"{w:>11,.0f} ({c:>8,.0f})" for w, c in figures))

if __name__ == "__main__":
    main()
