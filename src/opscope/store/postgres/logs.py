"""Log records: appends with binary ``COPY`` and filtered, paged reads.

Rows are numbered by the ``logs.seq`` identity as they are copied in, in batch order.
Log analysis reads rows after the last ``seq`` it saw, so rows must become visible in
``seq`` order: appends take the ``logs`` advisory lock until they commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from opscope.model import LogRecord
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.ports import LogQuery, Page, WriteResult
from opscope.store.postgres.codec import clean
from opscope.store.postgres.database import Database
from opscope.store.postgres.paging import PageSpec, fetch_page
from opscope.store.postgres.where import Where
from opscope.store.sql.logs import log_filter, log_row

_COPY = (
    "COPY logs (ts, received_at, source, entity, level, message, attributes, template_id, "
    "params) FROM STDIN (FORMAT BINARY)"
)
_TYPES = ("timestamp", "timestamp", "text", "text", "text", "text", "jsonb", "text", "text[]")


def append_logs(db: Database, logs: Sequence[LogRecord], now: datetime) -> WriteResult:
    if not logs:
        return WriteResult()
    received = to_naive_utc(now)
    # Converted before a connection is taken, so that one thread converts its batch
    # while another one's is being written.
    rows = [
        (to_naive_utc(r.ts), received, clean(r.source), clean(r.entity), r.level.value,
         clean(r.message), r.attributes,
         r.template_id, [clean(p) for p in r.params])
        for r in logs
    ]
    with db.write() as con:
        db.lock(con, "logs")
        with con.cursor() as cur, cur.copy(_COPY) as copy:
            copy.set_types(_TYPES)
            for row in rows:
                copy.write_row(row)
    return WriteResult(inserted=len(rows))


# ``attributes`` as text: the shared row function parses it (with orjson).
_PAGE = PageSpec(
    "logs",
    "SELECT seq, ts, received_at, source, entity, level, message, attributes::text AS "
    "attributes, template_id, params FROM logs",
    "ts", "seq", int, log_row,
)


def query_logs(db: Database, query: LogQuery) -> Page:
    where = log_filter(Where(), query)
    with db.read() as cur:
        return fetch_page(cur, _PAGE, where, query.limit, query.cursor)
