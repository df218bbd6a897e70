"""Keyset paging, newest first: the embedded store's query shape on PostgreSQL.

:class:`~opscope.store.duckdb.paging.PageSpec`, the limit check and the cursor encoding
are shared with the embedded store, so a cursor means the same thing on both.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from opscope.store.cursor import SortKey, decode_cursor, encode_cursor
from opscope.store.duckdb.codec import from_micros, micros
from opscope.store.duckdb.paging import MAX_LIMIT, PageSpec, check_limit
from opscope.store.ports import Page
from opscope.store.postgres.where import Where

__all__ = ["MAX_LIMIT", "PageSpec", "check_limit", "fetch_page"]


def fetch_page(
    con: psycopg.Connection[Any], spec: PageSpec, where: Where, limit: int, cursor: str | None
) -> Page:
    limit = check_limit(limit)
    if cursor is not None:
        key = decode_cursor(spec.kind, cursor, spec.tie_type)
        at = from_micros(key.ts_us)
        where.add(
            f"({spec.ts_column} < ? OR ({spec.ts_column} = ? AND {spec.tie_column} < ?))",
            at, at, key.tiebreak,
        )
    sql = (
        f"{spec.select}{where.sql()} "
        f"ORDER BY {spec.ts_column} DESC, {spec.tie_column} DESC LIMIT {limit + 1}"
    )
    with con.cursor(row_factory=dict_row) as cur:
        raw = cur.execute(sql, where.params).fetchall()
    next_cursor = None
    if len(raw) > limit:
        raw = raw[:limit]
        last = raw[-1]
        next_cursor = encode_cursor(
            spec.kind, SortKey(micros(last[spec.ts_column]), last[spec.tie_column])
        )
    return Page(items=[spec.to_row(r) for r in raw], next_cursor=next_cursor)
