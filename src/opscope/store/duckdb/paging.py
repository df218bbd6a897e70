"""Keyset paging, newest first: one query shape shared by every paged table."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from opscope.store.cursor import SortKey, decode_cursor, encode_cursor
from opscope.store.duckdb.codec import from_micros, micros
from opscope.store.duckdb.where import Where, invalid
from opscope.store.ports import Page, Row

MAX_LIMIT = 1000


def check_limit(limit: int, field: str = "limit") -> int:
    """Limits above the cap are lowered to it; zero or less is an error."""
    if limit < 1:
        raise invalid(field, f"{field} must be at least 1")
    return min(limit, MAX_LIMIT)


@dataclass(frozen=True, slots=True)
class PageSpec:
    """What to page through: ``select`` lists columns (no WHERE/ORDER), sorted by
    ``ts_column`` then the unique ``tie_column``, both among the selected columns."""

    kind: str
    select: str
    ts_column: str
    tie_column: str
    tie_type: type[int] | type[str]
    to_row: Callable[[dict[str, Any]], Row]


def fetch_page(
    cur: duckdb.DuckDBPyConnection, spec: PageSpec, where: Where, limit: int, cursor: str | None
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
    result = cur.execute(sql, where.params)
    names = [d[0] for d in result.description or ()]
    raw = [dict(zip(names, values, strict=True)) for values in result.fetchall()]
    next_cursor = None
    if len(raw) > limit:
        raw = raw[:limit]
        last = raw[-1]
        next_cursor = encode_cursor(
            spec.kind, SortKey(micros(last[spec.ts_column]), last[spec.tie_column])
        )
    return Page(items=[spec.to_row(r) for r in raw], next_cursor=next_cursor)
