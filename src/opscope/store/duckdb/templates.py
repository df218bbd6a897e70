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
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from opscope.model import Level, LogRecord
from opscope.store.duckdb.codec import STRINGS, TS, from_micros, iso, micros, to_naive_utc
from opscope.store.duckdb.database import Database, count
from opscope.store.duckdb.paging import check_limit
from opscope.store.duckdb.where import Where, invalid
from opscope.store.ports import Row, TemplateQuery

RESOLUTION_S = 60
"""Width of the stored count buckets; finer ``bucket`` requests are refused."""

EXAMPLES = 5
"""Distinct example lines kept per template (the first ones seen)."""

DETAIL_BUCKET_S = 3600
"""Bucket width of a template's detail when the request names none."""

RECENT_LINES = 5

_MARK = "logs"
_RESOLUTION_US = RESOLUTION_S * 1_000_000

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


_Seen = dict[str, tuple[datetime, list[str]]]


def _batches(records: Sequence[tuple[int, LogRecord]]) -> tuple[pa.Table, pa.Table, _Seen]:
    """The row assignments, the aggregated counts and, per template, first seen + examples."""
    seqs: list[int] = []
    tids: list[str | None] = []
    params: list[list[str]] = []
    levels: list[str] = []
    # (template, entity, level, bucket start in s) -> [count, first, last]
    totals: dict[tuple[str, str, str, int], list[Any]] = {}
    seen: _Seen = {}
    for seq, record in records:
        seqs.append(seq)
        tids.append(record.template_id)
        params.append(record.params)
        levels.append(record.level)
        tid = record.template_id
        if tid is None:
            continue
        ts = record.ts
        second = int(ts.timestamp())
        key = (tid, record.entity or record.source, record.level.value,
               second - second % RESOLUTION_S)
        total = totals.get(key)
        if total is None:
            totals[key] = [1, ts, ts]
        else:
            total[0] += 1
            total[1] = min(total[1], ts)
            total[2] = max(total[2], ts)
        first, examples = seen.setdefault(tid, (ts, []))
        if ts < first:
            seen[tid] = (ts, examples)
        if len(examples) < EXAMPLES and record.message not in examples:
            examples.append(record.message[:2048])
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


def _upsert_templates(con: duckdb.DuckDBPyConnection, db: Database, seen: _Seen,
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

_COUNTS = (
    "SELECT coalesce(t.merged_into, c.template_id) AS tid, c.entity, c.level, c.bucket, "
    "c.count, c.first_ts, c.last_ts "
    "FROM log_template_counts c LEFT JOIN log_templates t ON t.template_id = c.template_id"
)


def _counts_where(query: TemplateQuery) -> Where:
    where = Where()
    span = query.time
    if span.start is not None and span.end is not None and span.end <= span.start:
        raise invalid("end", "the end of the time range is not after its start")
    if span.start is not None:
        # The bucket holding the start counts whole: the range is read at bucket resolution.
        start_us = micros(span.start)
        where.add("c.bucket >= ?", from_micros(start_us - start_us % _RESOLUTION_US))
    if span.end is not None:
        where.add("c.bucket < ?", to_naive_utc(span.end))
    where.equals("c.entity", query.entity)
    return where


def _bucket_us(seconds: int) -> int:
    if seconds < RESOLUTION_S or seconds % RESOLUTION_S:
        raise invalid("bucket", f"bucket must be a multiple of {RESOLUTION_S} seconds")
    return seconds * 1_000_000


def query_templates(db: Database, query: TemplateQuery) -> list[Row]:
    """Templates with lines in the range, with counts, first/last seen and level mix."""
    if query.sort not in ("count", "last_seen"):
        raise invalid("sort", "sort must be count or last_seen")
    if query.offset < 0:
        raise invalid("offset", "offset must be at least 0")
    limit = check_limit(query.limit)
    bucket_us = None if query.bucket_seconds is None else _bucket_us(query.bucket_seconds)
    where = _counts_where(query)
    text = Where()
    text.text(("t.template",), query.text)
    order = "a.count DESC" if query.sort == "count" else "a.last_seen DESC"
    sql = (
        f"WITH c AS ({_COUNTS}{where.sql()}), "
        "a AS (SELECT tid, sum(count)::BIGINT AS count, min(first_ts) AS first_seen, "
        "max(last_ts) AS last_seen, count(DISTINCT entity) AS entities FROM c GROUP BY tid) "
        "SELECT a.tid, t.template, t.examples, a.count, a.first_seen, a.last_seen, a.entities "
        f"FROM a JOIN log_templates t ON t.template_id = a.tid{text.sql()} "
        f"ORDER BY {order}, a.tid LIMIT {limit} OFFSET {int(query.offset)}"
    )
    with db.read() as cur:
        rows = cur.execute(sql, [*where.params, *text.params]).fetchall()
        items = [
            {"template_id": tid, "template": template, "examples": list(examples),
             "count": total, "first_seen": iso(first), "last_seen": iso(last),
             "entities": entities, "levels": {}}
            for tid, template, examples, total, first, last, entities in rows
        ]
        if not items:
            return items
        by_id = {item["template_id"]: item for item in items}
        ids = list(by_id)
        for tid, level, total in _grouped(cur, where, ids, "c.level"):
            by_id[tid]["levels"][level] = total
        if bucket_us is not None:
            for item in items:
                item["buckets"] = []
            for tid, start, total in _grouped(cur, where, ids, _bucket_expr(bucket_us)):
                by_id[tid]["buckets"].append({"ts": iso(from_micros(start)), "count": total})
    return items


def _bucket_expr(bucket_us: int) -> str:
    return f"(epoch_us(c.bucket) // {bucket_us}) * {bucket_us}"


def _grouped(cur: duckdb.DuckDBPyConnection, where: Where, ids: list[str],
             expr: str) -> list[tuple[Any, ...]]:
    """``(tid, expr, lines)`` for the templates ``ids``, ordered by ``expr``."""
    sql = (
        f"WITH c AS ({_COUNTS}{where.sql()}) SELECT tid, {expr} AS k, sum(count)::BIGINT "
        "FROM c WHERE list_contains(?, tid) GROUP BY tid, k ORDER BY k"
    )
    return cur.execute(sql, [*where.params, ids]).fetchall()


def get_template(db: Database, template_id: str, query: TemplateQuery) -> Row | None:
    """One template (following merges): totals, level mix, counts over time per entity,
    examples and the most recent lines, within the query's range and entity."""
    bucket_us = _bucket_us(query.bucket_seconds or DETAIL_BUCKET_S)
    with db.read() as cur:
        found = cur.execute(
            "SELECT coalesce(merged_into, template_id) FROM log_templates "
            "WHERE template_id = ?", [template_id]).fetchall()
        if not found:
            return None
        tid = str(found[0][0])
        rows = cur.execute(
            "SELECT template, examples, first_seen FROM log_templates WHERE template_id = ?",
            [tid]).fetchall()
        if not rows:
            return None
        template, examples, first_seen = rows[0]
        aliases = [r[0] for r in cur.execute(
            "SELECT template_id FROM log_templates WHERE merged_into = ? ORDER BY template_id",
            [tid]).fetchall()]
        where = _counts_where(query)
        where.add("coalesce(t.merged_into, c.template_id) = ?", tid)
        entities: dict[str, Row] = {}
        for entity, total, first, last in cur.execute(
                f"WITH c AS ({_COUNTS}{where.sql()}) SELECT entity, sum(count)::BIGINT, "
                "min(first_ts), max(last_ts) FROM c GROUP BY entity ORDER BY 2 DESC, 1",
                where.params).fetchall():
            entities[entity] = {"entity": entity, "count": total, "first_seen": iso(first),
                                "last_seen": iso(last), "buckets": []}
        levels = {level: total for _, level, total in _grouped(cur, where, [tid], "c.level")}
        buckets: list[Row] = []
        for entity, start, total in cur.execute(
                f"WITH c AS ({_COUNTS}{where.sql()}) SELECT entity, {_bucket_expr(bucket_us)} "
                "AS k, sum(count)::BIGINT FROM c GROUP BY entity, k ORDER BY k, entity",
                where.params).fetchall():
            point = {"ts": iso(from_micros(start)), "count": total}
            entities[entity]["buckets"].append(point)
            if buckets and buckets[-1]["ts"] == point["ts"]:
                buckets[-1]["count"] += total
            else:
                buckets.append(dict(point))
        recent = _recent(cur, [tid, *aliases], query)
    rows_entities = list(entities.values())
    return {
        "template_id": tid, "template": template, "requested": template_id,
        "merged": aliases, "first_seen_ever": iso(first_seen),
        "count": sum(e["count"] for e in rows_entities),
        "first_seen": min((e["first_seen"] for e in rows_entities), default=None),
        "last_seen": max((e["last_seen"] for e in rows_entities), default=None),
        "levels": levels, "bucket_seconds": bucket_us // 1_000_000, "buckets": buckets,
        "entities": rows_entities, "examples": list(examples), "recent": recent,
    }


def _recent(cur: duckdb.DuckDBPyConnection, ids: list[str], query: TemplateQuery) -> list[Row]:
    where = Where()
    where.any_of("template_id", ids)
    where.time("ts", query.time)
    if query.entity is not None:
        where.add("(CASE WHEN entity <> '' THEN entity ELSE source END) = ?", query.entity)
    rows = cur.execute(
        f"SELECT seq, ts, entity, source, level, message, params FROM logs{where.sql()} "
        f"ORDER BY ts DESC, seq DESC LIMIT {RECENT_LINES}", where.params).fetchall()
    return [{"seq": seq, "ts": iso(ts), "entity": entity, "source": source, "level": level,
             "message": message, "params": list(params)}
            for seq, ts, entity, source, level, message, params in rows]
