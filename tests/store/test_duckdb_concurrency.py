"""Several threads writing and reading one store at the same time."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

from store_clock import T0

from opscope.model import Event, LogRecord, MetricSample
from opscope.store.duckdb import DuckDBStore
from opscope.store.ports import EventQuery, LogQuery, SeriesQuery

WRITERS, READERS, BATCHES, ROWS = 4, 3, 8, 40


def test_concurrent_writes_and_reads(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "c.duckdb")
    shared = Event(source="am", name="Shared", starts_at=T0)
    errors: list[BaseException] = []
    done = threading.Event()
    seen_counts: list[list[int]] = [[] for _ in range(READERS)]

    def write(n: int) -> None:
        try:
            for b in range(BATCHES):
                store.append_logs([
                    LogRecord(ts=T0 + timedelta(seconds=b * ROWS + i), message=f"{n}-{b}-{i}",
                              entity=f"w{n}")
                    for i in range(ROWS)
                ])
                store.upsert_events([shared, Event(source="am", name=f"W{n}", starts_at=T0)])
                store.append_samples([
                    MetricSample(name="load", labels={"writer": str(n)}, value=float(b),
                                 ts=T0 + timedelta(seconds=b))
                ])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    def read(n: int) -> None:
        try:
            while not done.is_set():
                page = store.query_logs(LogQuery(entity=f"w{n % WRITERS}", limit=1000))
                seen_counts[n].append(len(page.items))
                store.query_events(EventQuery(text="shared"))
                store.query_series(SeriesQuery(name="load", step_seconds=5, agg="max"))
                time.sleep(0.002)  # a reader polls; it does not spin on the GIL
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    readers = [threading.Thread(target=read, args=(n,)) for n in range(READERS)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()

    assert errors == []
    for n in range(WRITERS):
        items = store.query_logs(LogQuery(entity=f"w{n}", limit=1000)).items
        assert len(items) == BATCHES * ROWS
        assert len({r["seq"] for r in items}) == BATCHES * ROWS
    row = store.get_event("am", shared.fingerprint)
    assert row is not None and row["repeat_count"] == WRITERS * BATCHES - 1
    assert len(store.query_events(EventQuery()).items) == WRITERS + 1
    assert len(store.query_series(SeriesQuery(name="load"))) == WRITERS
    # Each reader saw whole batches only, and never fewer rows than before.
    for counts in seen_counts:
        assert counts == sorted(counts)
        assert all(c % ROWS == 0 for c in counts)
    store.close()
