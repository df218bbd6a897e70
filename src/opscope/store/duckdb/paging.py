"""Keyset paging on DuckDB: the shared query shape (``opscope.store.sql.paging``) read
through a DuckDB cursor."""

from __future__ import annotations

from typing import Any

import duckdb

from opscope.store.ports import Page
from opscope.store.sql import paging as _paging
from opscope.store.sql.paging import MAX_LIMIT, PageSpec, check_limit
from opscope.store.sql.where import Where

__all__ = ["MAX_LIMIT", "PageSpec", "check_limit", "fetch_page"]


def fetch_page(
    cur: duckdb.DuckDBPyConnection, spec: PageSpec, where: Where, limit: int, cursor: str | None
) -> Page:
    def rows_of(sql: str, params: list[Any]) -> list[dict[str, Any]]:
        result = cur.execute(sql, params)
        names = [d[0] for d in result.description or ()]
        return [dict(zip(names, values, strict=True)) for values in result.fetchall()]

    return _paging.fetch_page(rows_of, spec, where, limit, cursor)
