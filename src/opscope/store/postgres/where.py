"""A parameterised SQL ``WHERE`` clause for PostgreSQL, built from query filters.

The shared :class:`~opscope.store.sql.where.Where` with the three things
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

from opscope.store.sql import where as _where
from opscope.store.sql.where import invalid

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

    def label_value(self, labels: str) -> str:
        return f"coalesce({labels} ->> ?, '')"

    def full_match(self, cur: psycopg.Connection[Any], target: str, pattern: str,
                   field: str) -> tuple[str, str]:
        anchored = full_match(pattern)
        # Validate with the server's own engine so the check and the query agree on syntax.
        try:
            cur.execute("SELECT '' ~ %s", [anchored]).fetchall()
        except psycopg.errors.InvalidRegularExpression as exc:
            raise invalid(field, f"invalid regular expression: {exc}") from None
        return f"({target} ~ ?)", anchored
