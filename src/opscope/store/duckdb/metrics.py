"""Metric samples: a ``series`` row per name + label set, and an append-only ``samples`` table.

Samples go in as Arrow batches; the reads (``query_series``, ``list_series``) are the
shared ``opscope.store.sql.series`` over DuckDB's ``epoch_ms`` and ``epoch_us``
buckets, like ``time_bucket``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from opscope.model import MetricSample, entity_of, series_id
from opscope.store.duckdb.codec import TS, label_array
from opscope.store.duckdb.database import Database
from opscope.store.duckdb.where import Where
from opscope.store.ports import WriteResult
from opscope.store.sql.series import SeriesReads

AGGREGATES = {
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "last": "arg_max(value, ts)",
}

_CACHE_LIMIT = 200_000


class SampleWriter:
    """Appends samples, inserting a ``series`` row only for series not yet stored.

    Series ids are hashes of name and labels; they are cached per label set because
    hashing every sample would cost more than the insert itself.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._ids: dict[tuple[Any, ...], str] = {}
        self._known: set[str] | None = None
        self._lock = threading.Lock()

    def append(self, samples: Sequence[MetricSample]) -> WriteResult:
        if not samples:
            return WriteResult()
        with self._lock:
            if len(self._ids) > _CACHE_LIMIT:
                self._ids.clear()
            ids = self._ids
            sids: list[str] = []
            ts: list[datetime] = []
            values: list[float] = []
            batch_series: dict[str, MetricSample] = {}
            for s in samples:
                labels = s.labels
                key = (s.name, *labels.items())
                sid = ids.get(key)
                if sid is None:
                    sid = ids[key] = series_id(s.name, labels)
                first = batch_series.get(sid)
                if first is None or s.ts < first.ts:
                    batch_series[sid] = s
                sids.append(sid)
                ts.append(s.ts)
                values.append(s.value)
        table = pa.table({
            "series_id": pa.array(sids, type=pa.string()),
            "ts": pa.array(ts, type=TS),
            "value": pa.array(values, type=pa.float64()),
        })
        with self._db.write() as con:
            known = self._known_series(con)
            new = [sid for sid in batch_series if sid not in known]
            if new:
                self._insert_series(con, new, batch_series)
            count = self._db.insert_arrow(con, "INSERT INTO samples SELECT * FROM batch", table)
        # Only after the commit: a rolled-back batch must not mark its series as stored.
        known.update(new)
        return WriteResult(inserted=count)

    def forget(self) -> None:
        """Drop the cache of stored series; call under the write lock after deleting series."""
        self._known = None

    def _known_series(self, con: duckdb.DuckDBPyConnection) -> set[str]:
        if self._known is None:
            self._known = {r[0] for r in con.execute("SELECT series_id FROM series").fetchall()}
        return self._known

    def _insert_series(
        self, con: duckdb.DuckDBPyConnection, new: list[str], first: dict[str, MetricSample]
    ) -> None:
        table = pa.table({
            "series_id": pa.array(new, type=pa.string()),
            "name": pa.array([first[s].name for s in new], type=pa.string()),
            "labels": label_array(first[s].labels for s in new),
            "entity": pa.array([entity_of(first[s].labels) for s in new], type=pa.string()),
            "first_ts": pa.array([first[s].ts for s in new], type=TS),
        })
        self._db.insert_arrow(
            con, "INSERT INTO series SELECT * FROM batch ON CONFLICT DO NOTHING", table
        )


SERIES_READS = SeriesReads(
    where=Where,
    # A semi-join on the ids (hashed once) rather than a per-row list search.
    in_list="{0} IN (SELECT unnest(?::VARCHAR[]))",
    epoch_ms="epoch_ms({0})",
    bucket_ms=lambda column, step_us: f"(epoch_us({column}) // {step_us}) * {step_us} // 1000",
    aggregates=AGGREGATES,
    not_nan="NOT isnan(value)",
)
list_series = SERIES_READS.list_series
query_series = SERIES_READS.query_series
