"""Record tables (tickets, changes, anomalies): how a ``RecordQuery`` applies to each.

A table's description is the same on both backends; only the statements that write it
differ."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from opscope.store.ports import RecordQuery
from opscope.store.sql.paging import PageSpec
from opscope.store.sql.where import Where, invalid


@dataclass(frozen=True, slots=True)
class RecordTable:
    """How ``RecordQuery`` applies to one table.

    ``kind_column`` is what ``query.kind`` filters (a ticket's status, a change's or an
    anomaly's kind); ``extra`` maps the keys allowed in ``query.extra`` to a column
    compared for equality, or to a function adding its own clause.
    """

    page: PageSpec
    kind_column: str
    text_columns: tuple[str, ...]
    extra: dict[str, str | Callable[[Where, str], None]]


def record_filter(where: Where, table: RecordTable, query: RecordQuery) -> Where:
    """``where`` (a backend's empty clause) with the query's filters on ``table``."""
    where.time(table.page.ts_column, query.time)
    where.equals("entity", query.entity)
    where.equals(table.kind_column, query.kind)
    where.text(table.text_columns, query.text)
    for key, value in sorted(query.extra.items()):
        target = table.extra.get(key)
        if target is None:
            allowed = ", ".join(sorted(table.extra)) or "none"
            raise invalid(f"extra.{key}", f"unknown filter {key!r}; allowed: {allowed}")
        if isinstance(target, str):
            where.equals(target, value)
        else:
            target(where, value)
    return where
