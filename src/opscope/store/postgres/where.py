"""A parameterised SQL ``WHERE`` clause for PostgreSQL, built from query filters.

The embedded store's :class:`~opscope.store.duckdb.where.Where` with the three things
that differ: clauses are written with ``?`` placeholders there, which :meth:`Where.sql`
turns into psycopg's ``%s`` (so filters written for one store, such as the record
tables' extra filters, serve both); a list filter is ``= ANY(array)``; label matchers
read a ``JSONB`` column and match regular expressions with ``~`` anchored at both ends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg

from opscope.store.duckdb import where as _where
from opscope.store.duckdb.where import MATCH_OPS, invalid
from opscope.store.ports import LabelMatcher

__all__ = ["Where", "invalid", "placeholders"]


def placeholders(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (no clause holds a literal ``?`` or ``%``)."""
    return sql.replace("?", "%s")


_FLAGS = re.compile(r"\(\?([a-zA-Z]+)\)")


def full_match(pattern: str) -> str:
    """A PostgreSQL regular expression that matches only the whole value, like RE2's
    full match: the pattern in a non-capturing group between anchors. Leading flags
    (``(?i)foo``, common in Prometheus matchers) stay in front, the only place
    PostgreSQL accepts them."""
    flags = _FLAGS.match(pattern)
    if flags:
        return f"(?{flags.group(1)})^(?:{pattern[flags.end():]})$"
    return f"^(?:{pattern})$"


class Where(_where.Where):
    def sql(self) -> str:
        return placeholders(super().sql())

    def any_of(self, column: str, values: Sequence[str]) -> None:
        if values:
            self.add(f"{column} = ANY(?::text[])", list(values))

    def matchers(
        self,
        cur: Any,
        labels: str,
        matchers: Sequence[LabelMatcher],
        field: str,
        name_column: str | None = None,
    ) -> None:
        """Prometheus matchers over the ``JSONB`` column ``labels`` (see the embedded
        store's ``Where.matchers``: a missing label reads as the empty string, regular
        expressions match the whole value, ``__name__`` matches ``name_column``)."""
        for i, m in enumerate(matchers):
            if m.op not in MATCH_OPS:
                raise invalid(f"{field}[{i}].op", f"matcher op must be one of {MATCH_OPS}")
            if not m.name:
                raise invalid(f"{field}[{i}].name", "matcher label name is empty")
            if m.name == "__name__" and name_column is not None:
                target, params = name_column, []
            else:
                target, params = f"coalesce({labels} ->> ?, '')", [m.name]
            if m.op in ("=~", "!~"):
                pattern = full_match(m.value)
                _check_regex(cur, pattern, f"{field}[{i}].value")
                negate = "NOT " if m.op == "!~" else ""
                self.add(f"{negate}({target} ~ ?)", *params, pattern)
            else:
                self.add(f"{target} {'=' if m.op == '=' else '<>'} ?", *params, m.value)


def _check_regex(cur: psycopg.Connection[Any], pattern: str, field: str) -> None:
    # Validate with the server's own engine so the check and the query agree on syntax.
    try:
        cur.execute("SELECT '' ~ %s", [pattern]).fetchall()
    except psycopg.errors.InvalidRegularExpression as exc:
        raise invalid(field, f"invalid regular expression: {exc}") from None
