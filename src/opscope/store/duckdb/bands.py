"""What metric analysis keeps in the store: expected bands, and the history it learns from.

Metric analysis writes, per series, the value it expected and the band around it at most
once per band step (so the table grows far slower than ``samples``, and the ``samples``
retention applies to it). Charts read the bands back aligned with the series' points,
together with the anomaly marks on the same series (``opscope.store.sql.series``).

Training reads the stored samples back in event-time order, as Arrow batches streamed
from DuckDB, so that a week of history never has to fit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import pyarrow as pa

from opscope.store.duckdb.codec import TS, to_naive_utc
from opscope.store.duckdb.database import Database, count
from opscope.store.duckdb.metrics import SERIES_READS
from opscope.store.duckdb.where import Where, invalid
from opscope.store.ports import BandRow, SampleColumns, TimeRange, WriteResult
from opscope.store.sql.series import METRIC_ANOMALY_KIND as METRIC_ANOMALY_KIND


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


query_bands = SERIES_READS.query_bands
anomaly_marks = SERIES_READS.anomaly_marks


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
