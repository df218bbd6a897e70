"""Metric samples: a ``series`` row per name + label set, and an append-only ``samples`` table.

``query_series`` returns, per matching series::

    {"series_id", "name", "labels", "entity", "points": [[epoch_ms, value], ...]}

Points are ``[milliseconds since the epoch (int), value]``, oldest first: integers are
exact in JSON and are what chart libraries and JavaScript ``Date`` take directly. A NaN
sample (a missing value) reads as ``null`` in raw points and is left out of aggregates.
With ``step_seconds`` the samples are grouped into buckets aligned on the epoch
(``floor(ts / step) * step``, like ``time_bucket``) and each point is the bucket start
and the aggregate (``avg``, ``min``, ``max``, ``sum`` or ``last``) of its samples;
buckets without samples are absent, not zero.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from opscope.model import MetricSample, entity_of, series_id
from opscope.store.duckdb.codec import TS, as_labels, finite_or_none, iso, label_array
from opscope.store.duckdb.database import Database
from opscope.store.duckdb.paging import check_limit
from opscope.store.duckdb.where import Where, invalid
from opscope.store.ports import LabelMatcher, Row, SeriesQuery, WriteResult

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


def _series_where(
    cur: duckdb.DuckDBPyConnection, name: str | None, matchers: Sequence[LabelMatcher]
) -> Where:
    where = Where()
    where.equals("name", name)
    where.matchers(cur, "labels", matchers, "matchers", name_column="name")
    return where


def _series_row(r: tuple[Any, ...]) -> Row:
    return {"series_id": r[0], "name": r[1], "labels": as_labels(r[2]), "entity": r[3],
            "first_ts": iso(r[4])}


def list_series(
    db: Database, name: str | None, matchers: Sequence[LabelMatcher], limit: int
) -> list[Row]:
    """Series matching ``name`` (any if None) and ``matchers``, by name then id."""
    limit = check_limit(limit)
    with db.read() as cur:
        where = _series_where(cur, name, matchers)
        rows = cur.execute(
            "SELECT series_id, name, labels, entity, first_ts FROM series"
            f"{where.sql()} ORDER BY name, series_id LIMIT {limit}",
            where.params,
        ).fetchall()
    return [_series_row(r) for r in rows]


def query_series(db: Database, query: SeriesQuery) -> list[Row]:
    agg = AGGREGATES.get(query.agg)
    if agg is None:
        raise invalid("agg", f"agg must be one of {', '.join(AGGREGATES)}")
    step_us = None
    if query.step_seconds is not None:
        step_us = round(query.step_seconds * 1_000_000)
        if step_us < 1_000:
            raise invalid("step_seconds", "step_seconds must be at least 0.001")
    max_series = check_limit(query.max_series, "max_series")
    with db.read() as cur:
        where = _series_where(cur, query.name, query.matchers)
        series = cur.execute(
            "SELECT series_id, name, labels, entity, first_ts FROM series"
            f"{where.sql()} ORDER BY series_id LIMIT {max_series}",
            where.params,
        ).fetchall()
        if not series:
            return []
        samples = Where()
        # A semi-join on the chosen ids (hashed once) rather than a per-row list search.
        samples.add("series_id IN (SELECT unnest(?::VARCHAR[]))", [r[0] for r in series])
        samples.time("ts", query.time)
        if step_us is None:
            sql = (
                f"SELECT series_id, epoch_ms(ts), value FROM samples{samples.sql()} "
                "ORDER BY series_id, ts"
            )
        else:
            samples.add("NOT isnan(value)")
            sql = (
                f"SELECT series_id, (epoch_us(ts) // {step_us}) * {step_us} // 1000 AS bucket, "
                f"{agg} FROM samples{samples.sql()} GROUP BY series_id, bucket "
                "ORDER BY series_id, bucket"
            )
        points = cur.execute(sql, samples.params).fetchall()
    by_series: dict[str, list[list[Any]]] = {r[0]: [] for r in series}
    for sid, at, value in points:
        by_series[sid].append([int(at), finite_or_none(value)])
    out = []
    for r in series:
        row = _series_row(r)
        del row["first_ts"]
        row["points"] = by_series[r[0]]
        out.append(row)
    return out
