"""One PostgreSQL database through a pool of connections; migrates on open.

Every connection is in autocommit mode: a read is one statement on a borrowed
connection and sees every committed batch; a write borrows a connection and runs inside
an explicit transaction, committed when its block exits. Unlike the embedded store,
several processes may write the same database, so anything that must be serialised
(the order in which ``seq`` values become visible, the fold of event notifications) is
serialised in the database with a transaction-scoped advisory lock (:meth:`lock`), not
by a lock in this process. psycopg errors are translated into ``StorageError`` here, at
the boundary; a batch the database refuses (bad data, a broken constraint) is one that
retrying cannot help.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from opscope.errors import ConfigError, StorageError
from opscope.store.postgres.codec import dump_json
from opscope.store.postgres.schema import LOCK_CLASS, migrate

Connection = psycopg.Connection[tuple[Any, ...]]

_LOCK_KEYS = {"events": 1, "logs": 2, "samples": 3, "anomaly_verdicts": 4}
"""Advisory lock ids of the tables whose writers are serialised across processes
(0 is the migration lock)."""


def first_row(con: Connection, sql: str, params: Sequence[Any] | None = None
              ) -> tuple[Any, ...] | None:
    """The first row of a query."""
    return con.execute(sql, params).fetchone()


def count(con: Connection, sql: str, params: Sequence[Any] | None = None) -> int:
    """The single number a query returns, or the rows a DML statement touched."""
    cur = con.execute(sql, params)
    if cur.description is None:
        return max(cur.rowcount, 0)
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _configure(con: Connection) -> None:
    # JSONB is parsed and written with orjson (several times faster than the standard
    # library); writing also replaces what JSONB refuses (see ``codec.dump_json``).
    set_json_loads(orjson.loads, con)
    set_json_dumps(dump_json, con)


class Database:
    """The connection pool; migrates the schema when opened."""

    def __init__(self, dsn: str, pool_size: int = 8) -> None:
        if pool_size < 1:
            raise ConfigError("pool_size: must be at least 1")
        # Timestamps are stored as UTC without a zone; the session zone must not shift
        # the values the server computes (casts, now()).
        settings: dict[str, Any] = {"autocommit": True, "options": "-c timezone=UTC"}
        # Migrate on a connection of its own first: an unreachable or misconfigured
        # database fails here at once, where a pool would keep retrying.
        try:
            with psycopg.connect(dsn, **settings) as con:
                self.version = migrate(con)
        except psycopg.Error as exc:
            raise StorageError(f"cannot open the database: {exc}") from exc
        self._pool = ConnectionPool(
            dsn, min_size=1, max_size=pool_size, open=False, configure=_configure,
            kwargs=settings, name="opscope-store",
        )
        try:
            self._pool.open(wait=True, timeout=30)
        except (psycopg.Error, PoolTimeout) as exc:
            self._pool.close()
            raise StorageError(f"cannot connect to the database: {exc}") from exc
        self._close_lock = threading.Lock()
        self._closed = False

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        self._check_open()
        try:
            with self._pool.connection(timeout=30) as con:
                yield con
        except PoolTimeout as exc:
            raise StorageError(f"no database connection free: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction on a connection of its own; committed when the block exits
        normally, rolled back when it raises."""
        try:
            with self._connection() as con, con.transaction():
                yield con
        except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
            # The input itself was refused: sending the same batch again cannot help.
            error = StorageError(f"the database rejected the batch: {exc}")
            error.retryable = False
            raise error from exc
        except psycopg.Error as exc:
            raise StorageError(f"the store could not commit the batch: {exc}") from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in autocommit mode: every committed write is visible to it."""
        try:
            with self._connection() as con:
                yield con
        except psycopg.Error as exc:
            raise StorageError(f"the store could not read: {exc}") from exc

    @staticmethod
    def lock(con: Connection, table: str, shared: bool = False) -> None:
        """Serialise the writers of ``table`` (in every process) until the transaction ends.

        Taken where rows must become visible in ``seq`` order (a reader that resumes
        after the last ``seq`` it saw must not miss a row committed later with a smaller
        one) or where a batch reads what it is about to overwrite. ``shared`` writers
        do not exclude each other, only the holders of the exclusive lock (retention).
        """
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        con.execute(f"SELECT {function}(%s, %s)", [LOCK_CLASS, _LOCK_KEYS[table]])

    first_row = staticmethod(first_row)
    count = staticmethod(count)

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")


def unnest(*columns: tuple[str, str]) -> str:
    """``unnest(%b::type[], ...) AS batch(name, ...)``: a batch passed as one array per
    column, read as rows in one statement (the counterpart of an Arrow batch). The arrays
    travel in binary, which costs half as much to build as their text form."""
    arrays = ", ".join(f"%b::{kind}[]" for _, kind in columns)
    names = ", ".join(name for name, _ in columns)
    return f"unnest({arrays}) AS batch({names})"
