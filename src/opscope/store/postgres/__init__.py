"""The PostgreSQL store: a pool of connections, array and ``COPY`` batches, keyset pages.

``PostgresStore(dsn, retention)`` implements ``opscope.store.ports.Store`` with the
interface and behaviour of the embedded ``DuckDBStore`` (same row shapes, cursors,
errors and validation messages), for deployments where several processes share one
database. The modules parallel ``opscope.store.duckdb`` one for one, so that the two
can be read side by side: ``database`` (pool, transactions, advisory locks, error
translation), ``schema`` (versioned migrations), ``events``, ``logs``, ``metrics``,
``records``, ``anomalies``, ``topology``, ``tokens``, ``bands``, ``templates``,
``incidents``, ``reactions``, ``retention``; ``where``, ``paging`` and ``codec`` are the
query and conversion pieces. Backend-neutral pieces (event lifecycle, cursor encoding,
timestamp codec, row shapes, record table descriptions) are imported from the embedded
store rather than copied.

Requires the ``postgres`` extra (``psycopg`` and ``psycopg-pool``).
"""

from opscope.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
