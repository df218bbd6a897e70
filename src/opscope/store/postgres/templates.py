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
from opscope.store.duckdb.codec import from_micros
from opscope.store.postgres.codec import clean, dump_json, naive
from opscope.store.postgres.database import Connection, Database, count, unnest
from opscope.store.postgres.where import Where
from opscope.store.sql.templates import (
    DETAIL_BUCKET_S,
    EXAMPLES,
    RECENT_LINES,
    RESOLUTION_S,
    Seen,
    TemplateReads,
    tally,
)

__all__ = ["DETAIL_BUCKET_S", "EXAMPLES", "RECENT_LINES", "RESOLUTION_S", "analysis_mark",
           "get_template", "logs_after", "query_templates", "record_analysis"]

_MARK = "logs"
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


def _batches(records: Sequence[tuple[int, LogRecord]]
             ) -> tuple[list[list[Any]], list[list[Any]], Seen]:
    """The row assignments, the aggregated counts and, per template, first seen + examples
    (as the embedded store's ``_batches``, as arrays rather than Arrow tables)."""
    seqs: list[int] = []
    tids: list[str | None] = []
    params: list[str] = []
    levels: list[str] = []
    for seq, record in records:
        seqs.append(seq)
        tids.append(record.template_id)
        params.append(dump_json([clean(p) for p in record.params]))
        levels.append(record.level.value)
    totals, seen = tally(records)
    keys = list(totals)
    values = list(totals.values())
    counts: list[list[Any]] = [
        [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
        [from_micros(k[3] * 1_000_000) for k in keys], [v[0] for v in values],
        naive(v[1] for v in values), naive(v[2] for v in values),
    ]
    return [seqs, tids, params, levels], counts, seen


def _upsert_templates(con: Connection, seen: Seen, texts: Mapping[str, str],
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

_READS = TemplateReads(
    where=Where,
    # Exact numerics: the epoch-aligned bucket start in microseconds.
    bucket_expr=lambda width: (f"(floor(extract(epoch FROM c.bucket) * 1000000 / {width}) "
                               f"* {width})::bigint"),
    tid_in="tid = ANY(%s::text[])",
)
query_templates = _READS.query_templates
get_template = _READS.get_template
