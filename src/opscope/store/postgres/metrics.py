"""Metric samples: a ``series`` row per name + label set, and an append-only ``samples`` table.

The reads are shared with the embedded store (``opscope.store.sql.series``).
Buckets are ``date_bin`` over the epoch, the counterpart of DuckDB's ``time_bucket``;
milliseconds come from ``extract(epoch ...)``, exact since it returns ``numeric``.

Every batch inserts the series rows of its series if absent (one statement), rather
than trusting a cache of stored series: another process may add or delete series.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opscope.model import MetricSample, entity_of, series_id
from opscope.store.ports import WriteResult
from opscope.store.postgres.codec import labels_json, naive
from opscope.store.postgres.database import Database, unnest
from opscope.store.postgres.where import Where
from opscope.store.sql.series import SeriesReads

AGGREGATES = {  # the choices of the embedded store, in PostgreSQL
    "avg": "avg(value)",
    "min": "min(value)",
    "max": "max(value)",
    "sum": "sum(value)",
    "last": "(array_agg(value ORDER BY ts DESC))[1]",
}

EPOCH_MS = "floor(extract(epoch FROM {0}) * 1000)::bigint"
"""Milliseconds since the epoch of a ``TIMESTAMP`` expression (``epoch_ms`` in DuckDB)."""

_CACHE_LIMIT = 200_000

_INSERT_SERIES = (
    "INSERT INTO series SELECT series_id, name, labels::jsonb, entity, first_ts FROM "
    + unnest(("series_id", "text"), ("name", "text"), ("labels", "text"),
             ("entity", "text"), ("first_ts", "timestamp"))
    + " ON CONFLICT DO NOTHING"
)
_COPY_SAMPLES = "COPY samples (series_id, ts, value) FROM STDIN (FORMAT BINARY)"


def bucket_ms(column: str, step_us: int) -> str:
    """The start of the epoch-aligned bucket of ``column``, in epoch milliseconds."""
    return EPOCH_MS.format(
        f"date_bin(interval '{step_us} microseconds', {column}, timestamp '1970-01-01')")


class SampleWriter:
    """Appends samples and the series rows they need. Series ids are hashes of name and
    labels; they are cached per label set because hashing every sample would cost more
    than the insert itself."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._ids: dict[tuple[Any, ...], str] = {}
        self._lock = threading.Lock()

    def append(self, samples: Sequence[MetricSample]) -> WriteResult:
        if not samples:
            return WriteResult()
        with self._lock:
            if len(self._ids) > _CACHE_LIMIT:
                self._ids.clear()
            ids = self._ids
            sids: list[str] = []
            batch_series: dict[str, MetricSample] = {}
            for s in samples:
                key = (s.name, *s.labels.items())
                sid = ids.get(key)
                if sid is None:
                    sid = ids[key] = series_id(s.name, s.labels)
                first = batch_series.get(sid)
                if first is None or s.ts < first.ts:
                    batch_series[sid] = s
                sids.append(sid)
        new = list(batch_series)
        firsts = [batch_series[s] for s in new]
        series = [new, [f.name for f in firsts], labels_json(f.labels for f in firsts),
                  [entity_of(f.labels) for f in firsts], naive(f.ts for f in firsts)]
        points = list(zip(sids, naive(s.ts for s in samples), [s.value for s in samples],
                          strict=True))
        with self._db.write() as con:
            # Sample writers run side by side; retention, which deletes series left
            # without samples, waits for them (and they for it).
            self._db.lock(con, "samples", shared=True)
            con.execute(_INSERT_SERIES, series)
            with con.cursor() as cur, cur.copy(_COPY_SAMPLES) as copy:
                copy.set_types(("text", "timestamp", "float8"))
                for point in points:
                    copy.write_row(point)
        return WriteResult(inserted=len(points))


SERIES_READS = SeriesReads(
    where=Where,
    in_list="{0} = ANY(?::text[])",
    epoch_ms=EPOCH_MS,
    bucket_ms=bucket_ms,
    aggregates=AGGREGATES,
    # NaN is a missing value: left out of aggregates (PostgreSQL sorts NaN above every
    # number, so it would otherwise win ``max``).
    not_nan="value <> 'NaN'::float8",
)
list_series = SERIES_READS.list_series
query_series = SERIES_READS.query_series
