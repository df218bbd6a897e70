"""Log templates: what log analysis writes back, and the template statistics read from it.

The embedded store's design (``opscope.store.duckdb.templates``) on PostgreSQL: one
transaction writes the template columns of the analysed log rows (an ``UPDATE`` by
``seq``), the counts per template, entity, level and minute bucket, the templates table,
and the ``seq`` the analysis reached. Lists of strings per row (a row's parameters, a
template's examples) travel as JSON text, since PostgreSQL arrays cannot be ragged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from opscope.model import Level, LogRecord
from opscope.store.duckdb.codec import from_micros, iso, micros, to_naive_utc
from opscope.store.duckdb.templates import DETAIL_BUCKET_S, EXAMPLES, RECENT_LINES, RESOLUTION_S
from opscope.store.ports import Row, TemplateQuery
from opscope.store.postgres.codec import clean, dump_json, naive
from opscope.store.postgres.database import Connection, Database, count, unnest
from opscope.store.postgres.paging import check_limit
from opscope.store.postgres.where import Where, invalid

__all__ = ["DETAIL_BUCKET_S", "EXAMPLES", "RECENT_LINES", "RESOLUTION_S", "analysis_mark",
           "get_template", "logs_after", "query_templates", "record_analysis"]

_MARK = "logs"
_RESOLUTION_US = RESOLUTION_S * 1_000_000
_LEVELS = {level.value: level for level in Level}


def _json_list(column: str) -> str:
    """A ``TEXT[]`` from a JSON array of strings held as text."""
    return f"ARRAY(SELECT jsonb_array_elements_text({column}::jsonb))"


_ASSIGN = (
    f"UPDATE logs SET template_id = b.template_id, params = {_json_list('b.params')}, "
    "level = b.level FROM "
    + unnest(("seq", "bigint"), ("template_id", "text"), ("params", "text"), ("level", "text"))
    .replace("AS batch", "AS b")
    + " WHERE logs.seq = b.seq"
)
_COUNT = (
    "INSERT INTO log_template_counts SELECT * FROM "
    + unnest(("template_id", "text"), ("entity", "text"), ("level", "text"),
             ("bucket", "timestamp"), ("count", "bigint"), ("first_ts", "timestamp"),
             ("last_ts", "timestamp"))
    + " ON CONFLICT (template_id, entity, level, bucket) DO UPDATE SET "
    "count = log_template_counts.count + excluded.count, "
    "first_ts = least(log_template_counts.first_ts, excluded.first_ts), "
    "last_ts = greatest(log_template_counts.last_ts, excluded.last_ts)"
)
_UPSERT_TEMPLATES = (
    f"INSERT INTO log_templates SELECT template_id, template, {_json_list('examples')}, "
    "NULL, first_seen, updated_at FROM "
    + unnest(("template_id", "text"), ("template", "text"), ("examples", "text"),
             ("first_seen", "timestamp"), ("updated_at", "timestamp"))
    + " ON CONFLICT (template_id) DO UPDATE SET template = excluded.template, "
    "examples = excluded.examples, merged_into = NULL, "
    "first_seen = least(log_templates.first_seen, excluded.first_seen), "
    "updated_at = excluded.updated_at"
)
_MERGE = (
    "UPDATE log_templates SET merged_into = m.new "
    "FROM unnest(%s::text[], %s::text[]) AS m(old, new) "
    "WHERE log_templates.template_id = m.old AND log_templates.merged_into IS DISTINCT FROM m.new"
)


def logs_after(db: Database, seq: int, limit: int) -> list[tuple[int, LogRecord]]:
    """Committed rows after ``seq``, in order, as records as they were ingested (without
    a template); not validated again (see the embedded store's ``logs_after``)."""
    with db.read() as cur:
        rows = cur.execute(
            "SELECT seq, ts, source, entity, level, message, attributes "
            "FROM logs WHERE seq > %s ORDER BY seq LIMIT %s", [seq, limit]).fetchall()
    construct = LogRecord.model_construct
    levels = _LEVELS
    return [
        (row_seq, construct(
            ts=ts.replace(tzinfo=UTC), source=source, entity=entity,
            level=levels.get(level, Level.UNKNOWN), message=message,
            attributes=attributes or {}, template_id=None, params=[]))
        for row_seq, ts, source, entity, level, message, attributes in rows
    ]


def analysis_mark(db: Database) -> tuple[int, int]:
    with db.read() as cur:
        done = count(cur, "SELECT seq FROM log_analysis WHERE name = %s", [_MARK])
        latest = count(cur, "SELECT coalesce(max(seq), 0) FROM logs")
    return done, latest


def record_analysis(
    db: Database, upto_seq: int, records: Sequence[tuple[int, LogRecord]],
    templates: Mapping[str, str], merges: Mapping[str, str], now: datetime,
) -> None:
    assignments, counts, seen = _batches(records)
    with db.write() as con:
        if records:
            con.execute(_ASSIGN, assignments)
            con.execute(_COUNT, counts)
            _upsert_templates(con, seen, templates, now)
        if merges:
            con.execute(_MERGE, [list(merges), list(merges.values())])
        con.execute(
            "INSERT INTO log_analysis VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
            [_MARK, upto_seq],
        )


_Seen = dict[str, tuple[datetime, list[str]]]


def _batches(records: Sequence[tuple[int, LogRecord]]
             ) -> tuple[list[list[Any]], list[list[Any]], _Seen]:
    """The row assignments, the aggregated counts and, per template, first seen + examples
    (as the embedded store's ``_batches``, as arrays rather than Arrow tables)."""
    seqs: list[int] = []
    tids: list[str | None] = []
    params: list[str] = []
    levels: list[str] = []
    # (template, entity, level, bucket start in s) -> [count, first, last]
    totals: dict[tuple[str, str, str, int], list[Any]] = {}
    seen: _Seen = {}
    for seq, record in records:
        seqs.append(seq)
        tids.append(record.template_id)
        params.append(dump_json([clean(p) for p in record.params]))
        levels.append(record.level.value)
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
    keys = list(totals)
    values = list(totals.values())
    counts: list[list[Any]] = [
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
        [from_micros(k[3] * 1_000_000) for k in keys], [v[0] for v in values],
        naive(v[1] for v in values), naive(v[2] for v in values),
    ]
    return [seqs, tids, params, levels], counts, seen


def _upsert_templates(con: Connection, seen: _Seen, texts: Mapping[str, str],
                      now: datetime) -> None:
    if not seen:
        return
    ids = list(seen)
    stored: dict[str, list[str]] = dict(con.execute(
        "SELECT template_id, examples FROM log_templates WHERE template_id = ANY(%s::text[])",
        [ids]).fetchall())
    examples: list[str] = []
    for tid in ids:
        kept = list(stored.get(tid) or [])
        for line in seen[tid][1]:
            if len(kept) >= EXAMPLES:
                break
            if line not in kept:
                kept.append(line)
        examples.append(dump_json([clean(line) for line in kept]))
    con.execute(_UPSERT_TEMPLATES, [
        ids, [clean(texts.get(tid) or "") for tid in ids], examples,
        naive(seen[tid][0] for tid in ids), naive([now] * len(ids)),
    ])


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


def _bucket_expr(bucket_us: int) -> str:
    """The epoch-aligned bucket start of ``c.bucket`` in microseconds (exact numerics)."""
    return (f"(floor(extract(epoch FROM c.bucket) * 1000000 / {bucket_us}) "
            f"* {bucket_us})::bigint")


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


def _grouped(cur: Connection, where: Where, ids: list[str], expr: str) -> list[tuple[Any, ...]]:
    """``(tid, expr, lines)`` for the templates ``ids``, ordered by ``expr``."""
    sql = (
        f"WITH c AS ({_COUNTS}{where.sql()}) SELECT tid, {expr} AS k, sum(count)::BIGINT "
        "FROM c WHERE tid = ANY(%s::text[]) GROUP BY tid, k ORDER BY k"
    )
    return cur.execute(sql, [*where.params, ids]).fetchall()


def get_template(db: Database, template_id: str, query: TemplateQuery) -> Row | None:
    """One template (following merges): totals, level mix, counts over time per entity,
    examples and the most recent lines, within the query's range and entity."""
    bucket_us = _bucket_us(query.bucket_seconds or DETAIL_BUCKET_S)
    with db.read() as cur:
        found = cur.execute(
            "SELECT coalesce(merged_into, template_id) FROM log_templates "
            "WHERE template_id = %s", [template_id]).fetchall()
        if not found:
            return None
        tid = str(found[0][0])
        rows = cur.execute(
            "SELECT template, examples, first_seen FROM log_templates WHERE template_id = %s",
            [tid]).fetchall()
        if not rows:
            return None
        template, examples, first_seen = rows[0]
        aliases = [r[0] for r in cur.execute(
            "SELECT template_id FROM log_templates WHERE merged_into = %s ORDER BY template_id",
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


def _recent(cur: Connection, ids: list[str], query: TemplateQuery) -> list[Row]:
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
