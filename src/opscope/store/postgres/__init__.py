"""The PostgreSQL store: a pool of connections, array and ``COPY`` batches, keyset pages.

``PostgresStore(dsn, retention)`` implements ``opscope.store.ports.Store`` with the
interface and behaviour of the embedded ``DuckDBStore`` (same row shapes, cursors,
errors and validation messages), for deployments where several processes share one
database. The modules parallel ``opscope.store.duckdb`` one for one, so that the two
can be read side by side: ``database`` (pool, transactions, advisory locks, error
translation), ``schema`` (versioned migrations), ``events``, ``logs``, ``metrics``,
``records``, ``anomalies``, ``topology``, ``tokens``, ``bands``, ``templates``,
``incidents``, ``reactions``, ``retention``; ``where``, ``paging`` and ``codec`` are the
query and conversion pieces. What does not depend on the dialect (the public methods,
``opscope.store.facade``; the event lifecycle, filters, row shapes, paging and the logic
around each read, ``opscope.store.sql``) is shared with the embedded store, and these
modules hold the statements and the driver's side.

Requires the ``postgres`` extra (``psycopg`` and ``psycopg-pool``).
"""

from opscope.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
