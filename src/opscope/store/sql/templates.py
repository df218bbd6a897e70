"""Log templates: the constants and the reads both backends share.

The reads (templates with counts in a range, one template's detail) are written once in
:class:`TemplateReads`, which takes from each backend its ``WHERE`` clause (and so its
placeholders and list filter) and its expression for an epoch-aligned time bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opscope.model import LogRecord
from opscope.store.ports import Row, TemplateQuery
from opscope.store.sql.codec import from_micros, iso, micros, to_naive_utc
from opscope.store.sql.database import Con, Connection, SQLDatabase
from opscope.store.sql.paging import check_limit
from opscope.store.sql.where import Where, invalid

RESOLUTION_S = 60
"""Width of the stored count buckets; finer ``bucket`` requests are refused."""

EXAMPLES = 5
"""Distinct example lines kept per template (the first ones seen)."""

DETAIL_BUCKET_S = 3600
"""Bucket width of a template's detail when the request names none."""

RECENT_LINES = 5

RESOLUTION_US = RESOLUTION_S * 1_000_000

COUNTS = (
    "SELECT coalesce(t.merged_into, c.template_id) AS tid, c.entity, c.level, c.bucket, "
    "c.count, c.first_ts, c.last_ts "
    "FROM log_template_counts c LEFT JOIN log_templates t ON t.template_id = c.template_id"
)



Seen = dict[str, tuple[datetime, list[str]]]
"""Per template: when it was first seen in a batch, and its first distinct example lines."""

Totals = dict[tuple[str, str, str, int], list[Any]]
"""(template, entity, level, bucket start in s) -> [count, first, last]."""


def tally(records: Sequence[tuple[int, LogRecord]]) -> tuple[Totals, Seen]:
    """The counts per template, entity, level and :data:`RESOLUTION_S` bucket of the
    analysed ``records``, and per template the first time seen and the examples."""
    totals: Totals = {}
    seen: Seen = {}
    for _, record in records:
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
    return totals, seen


def _bucket_width_us(seconds: int) -> int:
    if seconds < RESOLUTION_S or seconds % RESOLUTION_S:
        raise invalid("bucket", f"bucket must be a multiple of {RESOLUTION_S} seconds")
    return seconds * 1_000_000


@dataclass(frozen=True, slots=True)
class TemplateReads:
    """The template reads over one backend: ``where`` makes its empty ``WHERE`` clause,
    ``bucket_expr`` gives, for a width in microseconds, the SQL of the epoch-aligned
    bucket start of ``c.bucket`` in microseconds, and ``tid_in`` is the clause that keeps
    the rows whose ``tid`` is in a list bound as its one parameter."""

    where: Callable[[], Where]
    bucket_expr: Callable[[int], str]
    tid_in: str

    def _equals(self, column: str, value: str) -> Where:
        where = self.where()
        where.equals(column, value)
        return where

    def _counts_where(self, query: TemplateQuery) -> Where:
        where = self.where()
        span = query.time
        if span.start is not None and span.end is not None and span.end <= span.start:
            raise invalid("end", "the end of the time range is not after its start")
        if span.start is not None:
            # The bucket holding the start counts whole: the range is read at bucket resolution.
            start_us = micros(span.start)
            where.add("c.bucket >= ?", from_micros(start_us - start_us % RESOLUTION_US))
        if span.end is not None:
            where.add("c.bucket < ?", to_naive_utc(span.end))
        where.equals("c.entity", query.entity)
        return where

    def query_templates(self, db: SQLDatabase[Con], query: TemplateQuery) -> list[Row]:
        """Templates with lines in the range, with counts, first/last seen and level mix."""
        if query.sort not in ("count", "last_seen"):
            raise invalid("sort", "sort must be count or last_seen")
        if query.offset < 0:
            raise invalid("offset", "offset must be at least 0")
        limit = check_limit(query.limit)
        bucket_us = None if query.bucket_seconds is None else _bucket_width_us(query.bucket_seconds)
        where = self._counts_where(query)
        text = self.where()
        text.text(("t.template",), query.text)
        order = "a.count DESC" if query.sort == "count" else "a.last_seen DESC"
        sql = (
            f"WITH c AS ({COUNTS}{where.sql()}), "
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
            for tid, level, total in self._grouped(cur, where, ids, "c.level"):
                by_id[tid]["levels"][level] = total
            if bucket_us is not None:
                for item in items:
                    item["buckets"] = []
                expr = self.bucket_expr(bucket_us)
                for tid, start, total in self._grouped(cur, where, ids, expr):
                    by_id[tid]["buckets"].append({"ts": iso(from_micros(start)), "count": total})
        return items

    def _grouped(self, cur: Connection, where: Where, ids: list[str],
                 expr: str) -> list[tuple[Any, ...]]:
        """``(tid, expr, lines)`` for the templates ``ids``, ordered by ``expr``."""
        sql = (
            f"WITH c AS ({COUNTS}{where.sql()}) SELECT tid, {expr} AS k, sum(count)::BIGINT "
            f"FROM c WHERE {self.tid_in} GROUP BY tid, k ORDER BY k"
        )
        return cur.execute(sql, [*where.params, ids]).fetchall()

    def get_template(self, db: SQLDatabase[Con], template_id: str, query: TemplateQuery
                     ) -> Row | None:
        """One template (following merges): totals, level mix, counts over time per entity,
        examples and the most recent lines, within the query's range and entity."""
        bucket_us = _bucket_width_us(query.bucket_seconds or DETAIL_BUCKET_S)
        with db.read() as cur:
            requested = self._equals("template_id", template_id)
            found = cur.execute(
                f"SELECT coalesce(merged_into, template_id) FROM log_templates{requested.sql()}",
                requested.params).fetchall()
            if not found:
                return None
            tid = str(found[0][0])
            resolved = self._equals("template_id", tid)
            rows = cur.execute(
                f"SELECT template, examples, first_seen FROM log_templates{resolved.sql()}",
                resolved.params).fetchall()
            if not rows:
                return None
            template, examples, first_seen = rows[0]
            merged = self._equals("merged_into", tid)
            aliases = [r[0] for r in cur.execute(
                f"SELECT template_id FROM log_templates{merged.sql()} ORDER BY template_id",
                merged.params).fetchall()]
            where = self._counts_where(query)
            where.add("coalesce(t.merged_into, c.template_id) = ?", tid)
            entities: dict[str, Row] = {}
            for entity, total, first, last in cur.execute(
                    f"WITH c AS ({COUNTS}{where.sql()}) SELECT entity, sum(count)::BIGINT, "
                    "min(first_ts), max(last_ts) FROM c GROUP BY entity ORDER BY 2 DESC, 1",
                    where.params).fetchall():
                entities[entity] = {"entity": entity, "count": total, "first_seen": iso(first),
                                    "last_seen": iso(last), "buckets": []}
            levels = {level: total
                      for _, level, total in self._grouped(cur, where, [tid], "c.level")}
            buckets: list[Row] = []
            expr = self.bucket_expr(bucket_us)
            for entity, start, total in cur.execute(
                    f"WITH c AS ({COUNTS}{where.sql()}) SELECT entity, {expr} "
                    "AS k, sum(count)::BIGINT FROM c GROUP BY entity, k ORDER BY k, entity",
                    where.params).fetchall():
                point = {"ts": iso(from_micros(start)), "count": total}
                entities[entity]["buckets"].append(point)
                if buckets and buckets[-1]["ts"] == point["ts"]:
                    buckets[-1]["count"] += total
                else:
                    buckets.append(dict(point))
            recent = self._recent(cur, [tid, *aliases], query)
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

    def _recent(self, cur: Connection, ids: list[str], query: TemplateQuery) -> list[Row]:
        where = self.where()
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
