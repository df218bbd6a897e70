"""What metric analysis keeps in the store: expected bands, and the history it learns from.

Metric analysis writes, per series, the value it expected and the band around it at most
once per band step (so the table grows far slower than ``samples``, and the ``samples``
retention applies to it). Charts read the bands back aligned with the series' points,
together with the anomaly marks on the same series::

    band:      [[epoch_ms, expected, lower, upper], ...]    oldest first
    anomalies: [[epoch_ms, score, direction], ...]          oldest first

With ``step_seconds`` bands are grouped into the same epoch-aligned buckets as the points
of ``query_series`` and each bucket holds the average of its expected values and bounds.

Training reads the stored samples back in event-time order, as Arrow batches streamed
from DuckDB, so that a week of history never has to fit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from opscope.store.duckdb.codec import TS, finite_or_none, to_naive_utc
from opscope.store.duckdb.database import Database, count
from opscope.store.duckdb.where import Where, invalid
from opscope.store.ports import BandRow, SampleColumns, TimeRange, WriteResult

METRIC_ANOMALY_KIND = "metric"
"""Kind of the anomalies drawn as marks on a series (their subject is the series id)."""


def append_bands(db: Database, bands: Sequence[BandRow]) -> WriteResult:
    if not bands:
        return WriteResult()
    table = pa.table({
        "series_id": pa.array([b[0] for b in bands], type=pa.string()),
        "ts": pa.array([b[1] for b in bands], type=TS),
        "expected": pa.array([b[2] for b in bands], type=pa.float64()),
        "lower": pa.array([b[3] for b in bands], type=pa.float64()),
        "upper": pa.array([b[4] for b in bands], type=pa.float64()),
    })
    with db.write() as con:
        inserted = db.insert_arrow(con, "INSERT INTO metric_bands SELECT * FROM batch", table)
    return WriteResult(inserted=inserted)


def _step_us(step_seconds: float | None) -> int | None:
    if step_seconds is None:
        return None
    step_us = round(step_seconds * 1_000_000)
    if step_us < 1_000:
        raise invalid("step_seconds", "step_seconds must be at least 0.001")
    return step_us


def _for_series(series_ids: Sequence[str], span: TimeRange) -> Where:
    where = Where()
    # A semi-join on the ids (hashed once) rather than a per-row list search.
    where.add("series_id IN (SELECT unnest(?::VARCHAR[]))", list(series_ids))
    where.time("ts", span)
    return where


def query_bands(
    db: Database, series_ids: Sequence[str], span: TimeRange, step_seconds: float | None
) -> dict[str, list[list[Any]]]:
    """Band points per series id (every id given is a key, possibly with no points)."""
    step_us = _step_us(step_seconds)
    out: dict[str, list[list[Any]]] = {sid: [] for sid in series_ids}
    if not series_ids:
        return out
    where = _for_series(series_ids, span)
    if step_us is None:
        sql = (f"SELECT series_id, epoch_ms(ts), expected, lower, upper FROM metric_bands"
               f"{where.sql()} ORDER BY series_id, ts")
    else:
        sql = (f"SELECT series_id, (epoch_us(ts) // {step_us}) * {step_us} // 1000 AS bucket, "
               f"avg(expected), avg(lower), avg(upper) FROM metric_bands{where.sql()} "
               "GROUP BY series_id, bucket ORDER BY series_id, bucket")
    with db.read() as cur:
        rows = cur.execute(sql, where.params).fetchall()
    for sid, at, expected, lower, upper in rows:
        out[sid].append([int(at), finite_or_none(expected), finite_or_none(lower),
                         finite_or_none(upper)])
    return out


def anomaly_marks(
    db: Database, series_ids: Sequence[str], span: TimeRange
) -> dict[str, list[list[Any]]]:
    """Metric anomalies per series id, as ``[epoch_ms, score, direction]``, oldest first."""
    out: dict[str, list[list[Any]]] = {sid: [] for sid in series_ids}
    if not series_ids:
        return out
    where = Where()
    where.add("kind = ?", METRIC_ANOMALY_KIND)
    where.add("subject IN (SELECT unnest(?::VARCHAR[]))", list(series_ids))
    where.time("ts", span)
    with db.read() as cur:
        rows = cur.execute(
            f"SELECT subject, epoch_ms(ts), score, direction FROM anomalies{where.sql()} "
            "ORDER BY subject, ts", where.params,
        ).fetchall()
    for sid, at, score, direction in rows:
        out[sid].append([int(at), finite_or_none(score), direction])
    return out


def delete_before(db: Database, cutoff: datetime) -> int:
    """Drop band points older than ``cutoff`` (the ``samples`` retention); rows deleted."""
    with db.write() as con:
        return count(con, "DELETE FROM metric_bands WHERE ts < ?", [to_naive_utc(cutoff)])


def sample_history(
    db: Database, start: datetime | None, end: datetime | None, batch_rows: int
) -> Iterator[SampleColumns]:
    """Stored samples with ``start <= ts < end``, oldest first, ``batch_rows`` at a time.

    Samples of one timestamp come ordered by series id, so a replay is deterministic.
    """
    if batch_rows < 1:
        raise invalid("batch_rows", "batch_rows must be at least 1")
    where = Where()
    where.time("s.ts", TimeRange(start, end))
    sql = (
        "SELECT s.series_id, r.name, epoch_us(s.ts) / 1e6 AS t, "
        "coalesce(s.value, 'NaN'::DOUBLE) AS value "
        f"FROM samples s JOIN series r ON r.series_id = s.series_id{where.sql()} "
        "ORDER BY s.ts, s.series_id"
    )
    with db.read() as cur:
        reader = cur.sql(sql, params=where.params).to_arrow_reader(batch_rows)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            yield SampleColumns(
                series=batch.column(0).to_pylist(),
                names=batch.column(1).to_pylist(),
                ts=batch.column(2).to_pylist(),
                values=batch.column(3).to_pylist(),
            )
