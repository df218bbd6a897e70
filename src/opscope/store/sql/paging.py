"""Keyset paging, newest first: one query shape shared by every paged table, on both
backends, so that a cursor means the same thing on either."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opscope.store.cursor import SortKey, decode_cursor, encode_cursor
from opscope.store.ports import Page, Row
from opscope.store.sql.codec import from_micros, micros
from opscope.store.sql.where import Where, invalid

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


FetchPage = Callable[[Any, PageSpec, Where, int, "str | None"], Page]
"""A backend's ``fetch_page(connection, spec, where, limit, cursor)``."""

RowsOf = Callable[[str, list[Any]], list[dict[str, Any]]]
"""Runs a statement with its parameters; the rows as dicts keyed by column name."""


def fetch_page(rows_of: RowsOf, spec: PageSpec, where: Where, limit: int,
               cursor: str | None) -> Page:
    """One page of ``spec`` after ``cursor``, read through the backend's ``rows_of``."""
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
    raw = rows_of(sql, where.params)
    next_cursor = None
    if len(raw) > limit:
        raw = raw[:limit]
        last = raw[-1]
        next_cursor = encode_cursor(
            spec.kind, SortKey(micros(last[spec.ts_column]), last[spec.tie_column])
        )
    return Page(items=[spec.to_row(r) for r in raw], next_cursor=next_cursor)
