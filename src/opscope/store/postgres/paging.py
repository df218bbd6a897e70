"""Keyset paging on PostgreSQL: the shared query shape (``opscope.store.sql.paging``)
read through a psycopg cursor, so a cursor means the same thing on both stores."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from opscope.store.ports import Page
from opscope.store.sql import paging as _paging
from opscope.store.sql.paging import MAX_LIMIT, PageSpec, check_limit
from opscope.store.sql.where import Where

__all__ = ["MAX_LIMIT", "PageSpec", "check_limit", "fetch_page"]


def fetch_page(
    con: psycopg.Connection[Any], spec: PageSpec, where: Where, limit: int, cursor: str | None
) -> Page:
    def rows_of(sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with con.cursor(row_factory=dict_row) as cur:
            return cur.execute(sql, params).fetchall()

    return _paging.fetch_page(rows_of, spec, where, limit, cursor)
