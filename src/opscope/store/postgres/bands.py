"""What metric analysis keeps in the store: expected bands, and the history it learns from.

Band and mark reads are shared (``opscope.store.sql.series``). Training reads the
stored samples back in event-time order through a server-side cursor, ``batch_rows`` at
a time, so that a week of history never has to fit in memory at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.ports import BandRow, SampleColumns, TimeRange, WriteResult
from opscope.store.postgres.codec import naive
from opscope.store.postgres.database import Database, count, unnest
from opscope.store.postgres.metrics import SERIES_READS
from opscope.store.postgres.where import Where, invalid
from opscope.store.sql.series import METRIC_ANOMALY_KIND

__all__ = ["METRIC_ANOMALY_KIND", "anomaly_marks", "append_bands", "delete_before",
           "query_bands", "sample_history"]

_APPEND = (
    "INSERT INTO metric_bands SELECT * FROM "
    + unnest(("series_id", "text"), ("ts", "timestamp"), ("expected", "float8"),
             ("lower", "float8"), ("upper", "float8"))
)
_cursor_names = itertools.count()


def append_bands(db: Database, bands: Sequence[BandRow]) -> WriteResult:
    if not bands:
        return WriteResult()
    arrays = [[b[0] for b in bands], naive(b[1] for b in bands), [b[2] for b in bands],
              [b[3] for b in bands], [b[4] for b in bands]]
    with db.write() as con:
        inserted = count(con, _APPEND, arrays)
    return WriteResult(inserted=inserted)


query_bands = SERIES_READS.query_bands
anomaly_marks = SERIES_READS.anomaly_marks


def delete_before(db: Database, cutoff: datetime) -> int:
    """Drop band points older than ``cutoff`` (the ``samples`` retention); rows deleted."""
    with db.write() as con:
        return count(con, "DELETE FROM metric_bands WHERE ts < %s", [to_naive_utc(cutoff)])


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
        "SELECT s.series_id, r.name, (extract(epoch FROM s.ts))::float8 AS t, "
        "coalesce(s.value, 'NaN'::float8) AS value "
        f"FROM samples s JOIN series r ON r.series_id = s.series_id{where.sql()} "
        "ORDER BY s.ts, s.series_id"
    )
    return _stream(db, sql, where.params, batch_rows)


def _stream(db: Database, sql: str, params: list[Any], batch_rows: int
            ) -> Iterator[SampleColumns]:
    # A named (server-side) cursor lives in a transaction; the connection is held until
    # the caller has read every batch or closed the iterator.
    with db.read() as con, con.transaction(), \
            con.cursor(name=f"sample_history_{next(_cursor_names)}") as cur:
        cur.execute(sql, params)
        while True:
            rows = cur.fetchmany(batch_rows)
            if not rows:
                return
            series, names, ts, values = zip(*rows, strict=True)
            yield SampleColumns(series=list(series), names=list(names), ts=list(ts),
                                values=list(values))
