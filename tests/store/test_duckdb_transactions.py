"""One transaction per batch: a batch that fails part-way leaves no trace."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from store_clock import T0, ManualClock

from opscope.errors import StorageError
from opscope.model import Event, MetricSample
from opscope.store.duckdb import DuckDBStore
from opscope.store.duckdb.database import Database
from opscope.store.ports import EventQuery, SeriesQuery


@pytest.fixture
def store(clock: ManualClock) -> Iterator[DuckDBStore]:
    """DuckDB only: these tests reach into the embedded store's Arrow inserts (the
    PostgreSQL store's equivalents are in ``test_postgres_store.py``)."""
    s = DuckDBStore(None, clock=clock)
    yield s
    s.close()


def fail_on(monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    """Make the next insert whose SQL names ``table`` fail like a full disk would."""
    real = Database.insert_arrow

    def insert(con: duckdb.DuckDBPyConnection, sql: str, batch: pa.Table,
               name: str = "batch") -> int:
        if f"INTO {table} " in sql:
            monkeypatch.setattr(Database, "insert_arrow", staticmethod(real))
            raise duckdb.IOException("disk full")
        return int(real(con, sql, batch, name))

    monkeypatch.setattr(Database, "insert_arrow", staticmethod(insert))


def test_failed_event_batch_is_rolled_back(store: DuckDBStore,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    event = Event(source="am", name="A", starts_at=T0)
    fail_on(monkeypatch, "event_history")  # fails after the events upsert ran
    with pytest.raises(StorageError) as err:
        store.upsert_events([event])
    assert err.value.retryable
    assert store.get_event("am", event.fingerprint) is None
    assert store.upsert_events([event]).inserted == 1
    row = store.get_event("am", event.fingerprint)
    assert row is not None and row["repeat_count"] == 0
    assert len(store.event_history("am", event.fingerprint).items) == 1


def test_failed_sample_batch_does_not_mark_its_series_stored(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = [MetricSample(name="up", labels={"job": "api"}, value=1, ts=T0)]
    fail_on(monkeypatch, "samples")  # the series row insert succeeds, then rolls back
    with pytest.raises(StorageError):
        store.append_samples(batch)
    assert store.list_series(None, [], 10) == []
    store.append_samples(batch)
    rows = store.query_series(SeriesQuery(name="up"))
    assert [(r["labels"], len(r["points"])) for r in rows] == [({"job": "api"}, 1)]


def test_reads_see_only_committed_batches(store: DuckDBStore,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    real = Database.insert_arrow

    def insert(con: duckdb.DuckDBPyConnection, sql: str, batch: pa.Table,
               name: str = "batch") -> int:
        count = int(real(con, sql, batch, name))
        # Same thread, own read cursor: the half-written batch must be invisible.
        seen.append(len(store.query_events(EventQuery()).items))
        return count

    monkeypatch.setattr(Database, "insert_arrow", staticmethod(insert))
    store.upsert_events([Event(source="am", name="A", starts_at=T0)])
    monkeypatch.setattr(Database, "insert_arrow", staticmethod(real))
    assert seen == [0, 0]
    assert len(store.query_events(EventQuery()).items) == 1


def test_a_failed_batch_leaves_no_folded_state_behind(store: DuckDBStore,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer remembers recent events' state; a batch that fails must not leave its
    # fold in that memory, or the next notification would count it.
    event = Event(source="am", name="A", starts_at=T0)
    store.upsert_events([event])
    fail_on(monkeypatch, "event_history")
    with pytest.raises(StorageError):
        store.upsert_events([event])
    store.upsert_events([event])
    row = store.get_event("am", event.fingerprint)
    assert row is not None and row["repeat_count"] == 1
    assert len(store.event_history("am", event.fingerprint).items) == 2


def test_folding_is_the_same_when_the_writer_remembers_little(
        store: DuckDBStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from opscope.store.duckdb import events as events_module

    monkeypatch.setattr(events_module, "KNOWN_LIMIT", 2)  # then every key is looked up
    monkeypatch.setattr(events_module, "STATE_LIMIT", 1)
    a, b, c = (Event(source="am", name=n, starts_at=T0) for n in "ABC")
    store.upsert_events([a, b])
    store.upsert_events([a])
    assert store.upsert_events([b, c]).inserted == 1  # three identities: past the limit
    store.upsert_events([a, b, c])
    counts = {name: store.get_event("am", e.fingerprint)["repeat_count"]  # type: ignore[index]
              for name, e in zip("ABC", (a, b, c), strict=True)}
    assert counts == {"A": 2, "B": 2, "C": 1}
