"""Metric samples: a ``series`` row per name + label set, and an append-only ``samples`` table.

Rows and points have the shapes of the embedded store (``opscope.store.duckdb.metrics``).
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
from opscope.store.duckdb.codec import as_labels, finite_or_none, iso
from opscope.store.ports import LabelMatcher, Row, SeriesQuery, WriteResult
from opscope.store.postgres.codec import labels_json, naive
from opscope.store.postgres.database import Connection, Database, unnest
from opscope.store.postgres.paging import check_limit
from opscope.store.postgres.where import Where, invalid

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


def _series_where(con: Connection, name: str | None, matchers: Sequence[LabelMatcher]) -> Where:
    where = Where()
    where.equals("name", name)
    where.matchers(con, "labels", matchers, "matchers", name_column="name")
    return where


def _series_row(r: tuple[Any, ...]) -> Row:
    return {"series_id": r[0], "name": r[1], "labels": as_labels(r[2]), "entity": r[3],
            "first_ts": iso(r[4])}


def list_series(
    db: Database, name: str | None, matchers: Sequence[LabelMatcher], limit: int
) -> list[Row]:
    """Series matching ``name`` (any if None) and ``matchers``, by name then id."""
    limit = check_limit(limit)
    with db.read() as con:
        where = _series_where(con, name, matchers)
        rows = con.execute(
            "SELECT series_id, name, labels, entity, first_ts FROM series"
            f"{where.sql()} ORDER BY name, series_id LIMIT {limit}",
            where.params,
        ).fetchall()
    return [_series_row(r) for r in rows]


def step_micros(step_seconds: float | None) -> int | None:
    if step_seconds is None:
        return None
    step_us = round(step_seconds * 1_000_000)
    if step_us < 1_000:
        raise invalid("step_seconds", "step_seconds must be at least 0.001")
    return step_us


def query_series(db: Database, query: SeriesQuery) -> list[Row]:
    agg = AGGREGATES.get(query.agg)
    if agg is None:
        raise invalid("agg", f"agg must be one of {', '.join(AGGREGATES)}")
    step_us = step_micros(query.step_seconds)
    max_series = check_limit(query.max_series, "max_series")
    with db.read() as con:
        where = _series_where(con, query.name, query.matchers)
        series = con.execute(
            "SELECT series_id, name, labels, entity, first_ts FROM series"
            f"{where.sql()} ORDER BY series_id LIMIT {max_series}",
            where.params,
        ).fetchall()
        if not series:
            return []
        samples = Where()
        samples.add("series_id = ANY(?::text[])", [r[0] for r in series])
        samples.time("ts", query.time)
        if step_us is None:
            sql = (
                f"SELECT series_id, {EPOCH_MS.format('ts')}, value FROM samples"
                f"{samples.sql()} ORDER BY series_id, ts"
            )
        else:
            # NaN is a missing value: left out of aggregates (PostgreSQL sorts NaN
            # above every number, so it would otherwise win ``max``).
            samples.add("value <> 'NaN'::float8")
            sql = (
                f"SELECT series_id, {bucket_ms('ts', step_us)} AS bucket, {agg} "
                f"FROM samples{samples.sql()} GROUP BY series_id, bucket "
                "ORDER BY series_id, bucket"
            )
        points = con.execute(sql, samples.params).fetchall()
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

