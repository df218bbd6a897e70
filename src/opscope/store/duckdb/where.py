"""A parameterised SQL ``WHERE`` clause for DuckDB, built from query filters.

The shared :class:`~opscope.store.sql.where.Where` with DuckDB's spelling: a list filter
is ``list_contains``, labels are a ``MAP`` column, and regular expressions are RE2's
(the engine Prometheus uses too) through ``regexp_full_match``.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from opscope.store.sql import where as _where
from opscope.store.sql.where import MATCH_OPS as MATCH_OPS
from opscope.store.sql.where import invalid as invalid

__all__ = ["MATCH_OPS", "Where", "invalid"]


class Where(_where.Where):
    def any_of(self, column: str, values: Sequence[str]) -> None:
        if values:
            self.add(f"list_contains(?, {column})", list(values))

    def label_value(self, labels: str) -> str:
        return f"coalesce({labels}[?], '')"

    def full_match(self, cur: duckdb.DuckDBPyConnection, target: str, pattern: str,
                   field: str) -> tuple[str, str]:
        # Validate with DuckDB's own engine (RE2) so the check and the query agree on syntax.
        try:
            cur.execute("SELECT regexp_full_match('', ?)", [pattern]).fetchall()
        except duckdb.InvalidInputException as exc:
            raise invalid(field, f"invalid regular expression: {exc}") from None
        return f"regexp_full_match({target}, ?)", pattern
