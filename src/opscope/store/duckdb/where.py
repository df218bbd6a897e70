"""A parameterised SQL ``WHERE`` clause built from query filters.

Every user value travels as a bound parameter, never spliced into the SQL text; only
column names (fixed by the store, never taken from the query) appear in the SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from opscope.errors import ValidationFailed
from opscope.store.duckdb.codec import to_naive_utc
from opscope.store.ports import LabelMatcher, TimeRange

MATCH_OPS = ("=", "!=", "=~", "!~")


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [{"index": None, "field": field, "message": message}])


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""

    def equals(self, column: str, value: str | None) -> None:
        if value is not None:
            self.add(f"{column} = ?", value)

    def any_of(self, column: str, values: Sequence[str]) -> None:
        if values:
            self.add(f"list_contains(?, {column})", list(values))

    def time(self, column: str, span: TimeRange) -> None:
        """Half-open range: ``start <= column < end``; either bound may be missing."""
        if span.start is not None and span.end is not None and span.end < span.start:
            raise invalid("time", "the end of the time range is before its start")
        if span.start is not None:
            self.add(f"{column} >= ?", to_naive_utc(span.start))
        if span.end is not None:
            self.add(f"{column} < ?", to_naive_utc(span.end))

    def text(self, columns: Sequence[str], text: str | None) -> None:
        """Case-insensitive substring search over any of ``columns``."""
        if not text:
            return
        pattern = _like_pattern(text)
        self.add(
            "(" + " OR ".join(f"{c} ILIKE ? ESCAPE '\\'" for c in columns) + ")",
            *([pattern] * len(columns)),
        )

    def matchers(
        self,
        cur: duckdb.DuckDBPyConnection,
        labels: str,
        matchers: Sequence[LabelMatcher],
        field: str,
        name_column: str | None = None,
    ) -> None:
        """Prometheus matchers over the MAP column ``labels``.

        As in Prometheus, a missing label reads as the empty string (so ``foo=""`` selects
        series without ``foo``) and regular expressions must match the whole value (RE2,
        the engine Prometheus uses too). ``__name__`` matches ``name_column`` if given.
        """
        for i, m in enumerate(matchers):
            if m.op not in MATCH_OPS:
                raise invalid(f"{field}[{i}].op", f"matcher op must be one of {MATCH_OPS}")
            if not m.name:
                raise invalid(f"{field}[{i}].name", "matcher label name is empty")
            if m.name == "__name__" and name_column is not None:
                target, params = name_column, []
            else:
                target, params = f"coalesce({labels}[?], '')", [m.name]
            if m.op in ("=~", "!~"):
                _check_regex(cur, m.value, f"{field}[{i}].value")
                negate = "NOT " if m.op == "!~" else ""
                self.add(f"{negate}regexp_full_match({target}, ?)", *params, m.value)
            else:
                self.add(f"{target} {'=' if m.op == '=' else '<>'} ?", *params, m.value)


def _check_regex(cur: duckdb.DuckDBPyConnection, pattern: str, field: str) -> None:
    # Validate with DuckDB's own engine (RE2) so the check and the query agree on syntax.
    try:
        cur.execute("SELECT regexp_full_match('', ?)", [pattern]).fetchall()
    except duckdb.InvalidInputException as exc:
        raise invalid(field, f"invalid regular expression: {exc}") from None
