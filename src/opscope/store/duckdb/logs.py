"""Log records: columnar appends and filtered, paged reads.

Attributes are stored as JSON text rather than a MAP: logs are the highest-volume
table and a MAP column costs several times more to build in Arrow and to insert, while
attributes are shown, not filtered on, by the log view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import orjson
import pyarrow as pa

from opscope.model import LogRecord
from opscope.store.duckdb.codec import STRINGS, TS
from opscope.store.duckdb.database import Database
from opscope.store.duckdb.paging import PageSpec, fetch_page
from opscope.store.duckdb.where import Where
from opscope.store.ports import LogQuery, Page, WriteResult
from opscope.store.sql.logs import log_filter, log_row

_INSERT = (
    "INSERT INTO logs SELECT seq, ts, received_at, source, entity, level, message, "
    "attributes, template_id, params FROM batch"
)


def log_table(logs: Sequence[LogRecord], received_at: datetime) -> pa.Table:
    """The Arrow batch for ``logs``, all but ``seq``: every column list is built in one pass."""
    ts: list[datetime] = []
    source: list[str] = []
    entity: list[str] = []
    level: list[str] = []
    message: list[str] = []
    attributes: list[str] = []
    template_id: list[str | None] = []
    params: list[list[str]] = []
    dumps = orjson.dumps
    for r in logs:
        ts.append(r.ts)
        source.append(r.source)
        entity.append(r.entity)
        level.append(r.level)  # a StrEnum is a str: Arrow takes it as is
        message.append(r.message)
        attributes.append(dumps(r.attributes).decode() if r.attributes else "{}")
        template_id.append(r.template_id)
        params.append(r.params)
    n = len(ts)
    return pa.table({
        "ts": pa.array(ts, type=TS),
        "received_at": pa.array([received_at] * n, type=TS),
        "source": pa.array(source, type=pa.string()),
        "entity": pa.array(entity, type=pa.string()),
        "level": pa.array(level, type=pa.string()),
        "message": pa.array(message, type=pa.string()),
        "attributes": pa.array(attributes, type=pa.string()),
        "template_id": pa.array(template_id, type=pa.string()),
        "params": pa.array(params, type=STRINGS),
    })


def append_logs(db: Database, logs: Sequence[LogRecord], now: datetime) -> WriteResult:
    if not logs:
        return WriteResult()
    # Built before taking the write lock, so that one thread converts its batch while
    # another one's is being inserted.
    table = log_table(logs, now)
    with db.write() as con:
        first = db.allocate(con, "logs", len(logs))
        seq = pa.array(np.arange(first, first + len(logs), dtype=np.int64))
        count = db.insert_arrow(con, _INSERT, table.add_column(0, "seq", seq))
    return WriteResult(inserted=count)


_PAGE = PageSpec(
    "logs",
    "SELECT seq, ts, received_at, source, entity, level, message, attributes, template_id, "
    "params FROM logs",
    "ts", "seq", int, log_row,
)


def query_logs(db: Database, query: LogQuery) -> Page:
    where = log_filter(Where(), query)
    with db.read() as cur:
        return fetch_page(cur, _PAGE, where, query.limit, query.cursor)
