"""The embedded store: one DuckDB file, batched Arrow appends, keyset-paged queries.

``DuckDBStore(path, retention)`` implements ``opscope.store.ports.Store``. Modules, one
concept each: ``database`` (connection, write lock, per-thread read cursors), ``schema``
(versioned migrations), ``lifecycle`` (how a notification changes a stored event),
``events``, ``logs``, ``metrics``, ``records`` (tickets, changes), ``anomalies``,
``topology``, ``tokens``, ``retention``; ``where``, ``paging`` and ``codec`` are the
query and conversion pieces they share. The public methods (``opscope.store.facade``)
and the logic around each statement (``opscope.store.sql``) are shared with the
PostgreSQL store; these modules hold DuckDB's statements and Arrow batches.

What reads return: lists of JSON-ready dicts; timestamps are ISO 8601 strings in UTC
ending in ``Z``; labels are dicts; NaN and infinite numbers are ``null``. Paged reads
come newest first with an opaque ``next_cursor`` (``None`` on the last page); limits
above 1,000 are lowered to 1,000. Time ranges are half-open: ``start <= t < end``.
"""

from opscope.store.duckdb.store import DuckDBStore

__all__ = ["DuckDBStore"]
