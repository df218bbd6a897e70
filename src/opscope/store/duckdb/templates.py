"""Log templates: what log analysis writes back, and the template statistics read from it.

Analysis reads committed log rows in ``seq`` order (:func:`logs_after`) and hands back,
for a range of rows, each row's template and parameters plus the current text of the
templates it used. :func:`record_analysis` writes all of it in one transaction: the
template columns of the log rows (an ``UPDATE`` by ``seq``, so that log reads and the
``template_id`` filter need no join), the counts per template, entity, level and
:data:`RESOLUTION_S`-second event-time bucket, the templates table, and the ``seq`` the
analysis reached. Committing the mark with the results is what lets a restart resume
without skipping a line or counting one twice.

The entity of a count is the record's entity, or its source where the entity is empty
(as the log anomaly detectors do). Templates merged into another one keep their row,
with ``merged_into`` naming the id their lines are now counted under.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import duckdb
import orjson
import pyarrow as pa

from opscope.model import Level, LogRecord
from opscope.store.duckdb.codec import STRINGS, TS
from opscope.store.duckdb.database import Database, count
from opscope.store.duckdb.where import Where
from opscope.store.sql.templates import DETAIL_BUCKET_S as DETAIL_BUCKET_S
from opscope.store.sql.templates import EXAMPLES as EXAMPLES
from opscope.store.sql.templates import RECENT_LINES as RECENT_LINES
from opscope.store.sql.templates import RESOLUTION_S as RESOLUTION_S
from opscope.store.sql.templates import Seen, TemplateReads, tally

_MARK = "logs"

_SELECT_LOGS = (
    "SELECT seq, ts, source, entity, level, message, attributes "
    "FROM logs WHERE seq > ? ORDER BY seq LIMIT ?"
)
_LEVELS = {level.value: level for level in Level}


def logs_after(db: Database, seq: int, limit: int) -> list[tuple[int, LogRecord]]:
    """Committed rows after ``seq``, in order, as records as they were ingested (without
    a template). They were validated when they came in, so they are not validated again:
    this read is on the analysis hot path, and every field is given so that pydantic has
    no defaults to fill in (which costs it several times more)."""
    with db.read() as cur:
        rows = cur.execute(_SELECT_LOGS, [seq, limit]).fetchall()
    loads = orjson.loads
    construct = LogRecord.model_construct
    levels = _LEVELS
    return [
        (row_seq, construct(
            ts=ts.replace(tzinfo=UTC), source=source, entity=entity,
            level=levels.get(level, Level.UNKNOWN), message=message,
            attributes=loads(attributes) if attributes != "{}" else {},
            template_id=None, params=[]))
        for row_seq, ts, source, entity, level, message, attributes in rows
    ]


def analysis_mark(db: Database) -> tuple[int, int]:
    with db.read() as cur:
        done = count(cur, "SELECT seq FROM log_analysis WHERE name = ?", [_MARK])
        latest = count(cur, "SELECT coalesce(max(seq), 0) FROM logs")
    return done, latest


def record_analysis(
    db: Database, upto_seq: int, records: Sequence[tuple[int, LogRecord]],
    templates: Mapping[str, str], merges: Mapping[str, str], now: datetime,
) -> None:
    assignments, counts, seen = _batches(records)
    with db.write() as con:
        if records:
            seqs = [s for s, _ in records]
            db.insert_arrow(
                con,
                "UPDATE logs SET template_id = b.template_id, params = b.params, "
                "level = b.level FROM batch b WHERE logs.seq = b.seq "
                # The range lets DuckDB skip row groups by their min/max seq.
                f"AND logs.seq BETWEEN {min(seqs)} AND {max(seqs)}",
                assignments,
            )
            db.insert_arrow(
                con,
                "INSERT INTO log_template_counts SELECT template_id, entity, level, bucket, "
                "count, first_ts, last_ts FROM batch ON CONFLICT DO UPDATE SET "
                "count = log_template_counts.count + excluded.count, "
                "first_ts = least(log_template_counts.first_ts, excluded.first_ts), "
                "last_ts = greatest(log_template_counts.last_ts, excluded.last_ts)",
                counts,
            )
            _upsert_templates(con, db, seen, templates, now)
        if merges:
            db.insert_arrow(
                con,
                "UPDATE log_templates SET merged_into = m.new FROM merges m "
                "WHERE log_templates.template_id = m.old "
                "AND log_templates.merged_into IS DISTINCT FROM m.new",
                pa.table({"old": pa.array(list(merges), type=pa.string()),
                          "new": pa.array(list(merges.values()), type=pa.string())}),
                name="merges",
            )
        con.execute(
            "INSERT INTO log_analysis VALUES (?, ?) ON CONFLICT DO UPDATE SET seq = excluded.seq",
            [_MARK, upto_seq],
        )


def _batches(records: Sequence[tuple[int, LogRecord]]) -> tuple[pa.Table, pa.Table, Seen]:
    """The row assignments, the aggregated counts and, per template, first seen + examples."""
    seqs: list[int] = []
    tids: list[str | None] = []
    params: list[list[str]] = []
    levels: list[str] = []
    for seq, record in records:
        seqs.append(seq)
        tids.append(record.template_id)
        params.append(record.params)
        levels.append(record.level)
    totals, seen = tally(records)
    assignments = pa.table({
        "seq": pa.array(seqs, type=pa.int64()),
        "template_id": pa.array(tids, type=pa.string()),
        "params": pa.array(params, type=STRINGS),
        "level": pa.array(levels, type=pa.string()),
    })
    keys = list(totals)
    values = list(totals.values())
    counts = pa.table({
        "template_id": pa.array([k[0] for k in keys], type=pa.string()),
        "entity": pa.array([k[1] for k in keys], type=pa.string()),
        "level": pa.array([k[2] for k in keys], type=pa.string()),
        "bucket": pa.array([k[3] for k in keys], type=pa.timestamp("s")),
        "count": pa.array([v[0] for v in values], type=pa.int64()),
        "first_ts": pa.array([v[1] for v in values], type=TS),
        "last_ts": pa.array([v[2] for v in values], type=TS),
    })
    return assignments, counts, seen


def _upsert_templates(con: duckdb.DuckDBPyConnection, db: Database, seen: Seen,
                      texts: Mapping[str, str], now: datetime) -> None:
    if not seen:
        return
    ids = list(seen)
    stored = dict(con.execute(
        "SELECT template_id, examples FROM log_templates WHERE list_contains(?, template_id)",
        [ids]).fetchall())
    examples: list[list[str]] = []
    for tid in ids:
        kept = list(stored.get(tid) or [])
        for line in seen[tid][1]:
            if len(kept) >= EXAMPLES:
                break
            if line not in kept:
                kept.append(line)
        examples.append(kept)
    table = pa.table({
        "template_id": pa.array(ids, type=pa.string()),
        "template": pa.array([texts.get(tid) or "" for tid in ids], type=pa.string()),
        "examples": pa.array(examples, type=STRINGS),
        "first_seen": pa.array([seen[tid][0] for tid in ids], type=TS),
        "updated_at": pa.array([now] * len(ids), type=TS),
    })
    db.insert_arrow(
        con,
        "INSERT INTO log_templates SELECT template_id, template, examples, NULL, first_seen, "
        "updated_at FROM batch ON CONFLICT DO UPDATE SET template = excluded.template, "
        "examples = excluded.examples, merged_into = NULL, "
        "first_seen = least(log_templates.first_seen, excluded.first_seen), "
        "updated_at = excluded.updated_at",
        table,
    )


# --- reads -------------------------------------------------------------------------------

_READS = TemplateReads(
    where=Where,
    bucket_expr=lambda width: f"(epoch_us(c.bucket) // {width}) * {width}",
    tid_in="list_contains(?, tid)",
)
query_templates = _READS.query_templates
get_template = _READS.get_template
