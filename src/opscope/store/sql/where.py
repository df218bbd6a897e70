"""A parameterised SQL ``WHERE`` clause built from query filters.

Every user value travels as a bound parameter, never spliced into the SQL text; only
column names (fixed by the store, never taken from the query) appear in the SQL.
Clauses are written with ``?`` placeholders; a backend whose driver wants another style
renders them in :meth:`Where.sql`. A backend's subclass supplies what its dialect spells
differently: a list filter (:meth:`Where.any_of`), a label's value and a full regular
expression match (:meth:`Where.label_value`, :meth:`Where.full_match`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opscope.errors import ValidationFailed
from opscope.store.ports import LabelMatcher, TimeRange
from opscope.store.sql.codec import to_naive_utc

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
        """``column`` is one of ``values`` (no filter when there are none)."""
        raise NotImplementedError

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
        cur: Any,
        labels: str,
        matchers: Sequence[LabelMatcher],
        field: str,
        name_column: str | None = None,
    ) -> None:
        """Prometheus matchers over the label map column ``labels``.

        As in Prometheus, a missing label reads as the empty string (so ``foo=""`` selects
        series without ``foo``) and regular expressions must match the whole value.
        ``__name__`` matches ``name_column`` if given. ``cur`` checks the patterns.
        """
        for i, m in enumerate(matchers):
            if m.op not in MATCH_OPS:
                raise invalid(f"{field}[{i}].op", f"matcher op must be one of {MATCH_OPS}")
            if not m.name:
                raise invalid(f"{field}[{i}].name", "matcher label name is empty")
            if m.name == "__name__" and name_column is not None:
                target, params = name_column, []
            else:
                target, params = self.label_value(labels), [m.name]
            if m.op in ("=~", "!~"):
                clause, pattern = self.full_match(cur, target, m.value, f"{field}[{i}].value")
                negate = "NOT " if m.op == "!~" else ""
                self.add(f"{negate}{clause}", *params, pattern)
            else:
                self.add(f"{target} {'=' if m.op == '=' else '<>'} ?", *params, m.value)

    def label_value(self, labels: str) -> str:
        """SQL for the value of the label named by a ``?`` parameter, ``''`` if missing."""
        raise NotImplementedError

    def full_match(self, cur: Any, target: str, pattern: str, field: str) -> tuple[str, str]:
        """The clause matching ``target`` against the whole of a ``?`` pattern, and the
        pattern to bind; raises ``ValidationFailed`` (at ``field``) for a bad pattern."""
        raise NotImplementedError
