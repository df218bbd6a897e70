"""One DuckDB database shared by many threads: serialised writes, one read cursor per thread.

A DuckDB connection object must not be used by two threads at once, but cursors made
from it (``con.cursor()``) are independent connections to the same database. Writers
take one lock and use the root connection inside an explicit transaction; readers each
get a cursor of their own the first time they read, and see every committed batch.
DuckDB errors are translated into ``StorageError`` here, at the boundary.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from opscope.errors import StorageError
from opscope.store.duckdb.schema import migrate

_OPEN: weakref.WeakSet[Database] = weakref.WeakSet()


@atexit.register
def _close_open_databases() -> None:
    # Close connections while the interpreter is still whole: a DuckDB connection torn
    # down during interpreter finalisation (e.g. still held by a daemon worker thread)
    # can abort the process instead of checkpointing cleanly.
    for database in list(_OPEN):
        # At exit there is no one left to tell of a failure; the WAL stays valid.
        with contextlib.suppress(Exception):
            database.close()


def first_row(
    con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None
) -> tuple[Any, ...] | None:
    """The first row of a query, reading the result to its end.

    DuckDB refuses new work on a connection whose last result was not read to the end,
    which ``fetchone`` does not do.
    """
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> int:
    """The single number a query returns (a count, or the rows a DML statement touched)."""
    row = first_row(con, sql, params)
    return int(row[0]) if row and row[0] is not None else 0


def _target(path: str | Path | None) -> str:
    if path is None or str(path) == ":memory:":
        return ":memory:"
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    return str(file)


class Database:
    """The connection, its write lock and its per-thread read cursors; migrates on open."""

    def __init__(self, path: str | Path | None, memory_limit: str | None = None) -> None:
        # DuckDB's buffer pool may otherwise grow to most of the machine's memory.
        config: dict[str, str | bool | int | float | list[str]] = (
            {"memory_limit": memory_limit} if memory_limit else {})
        try:
            self._con = duckdb.connect(_target(path), config=config)
        except (duckdb.Error, OSError) as exc:
            raise StorageError(f"cannot open the database at {path}: {exc}") from exc
        try:
            self.version = migrate(self._con)
        except BaseException as exc:
            # Release the file: DuckDB locks it for as long as the connection is open.
            self._con.close()
            if isinstance(exc, duckdb.Error):
                raise StorageError(f"cannot migrate the database at {path}: {exc}") from exc
            raise
        self._write_lock = threading.Lock()
        self._readers_lock = threading.Lock()
        self._readers: list[duckdb.DuckDBPyConnection] = []
        self._local = threading.local()
        self._seq: dict[str, int] = {}
        self._closed = False
        _OPEN.add(self)

    @contextmanager
    def write(self, on_failure: Callable[[], None] | None = None
              ) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction holding the write lock; committed when the block exits normally.

        ``on_failure`` is called, still under the lock, when the transaction does not
        commit: a writer that remembers what it wrote forgets it before anyone else
        writes.
        """
        with self._write_lock:
            self._check_open()
            con = self._con
            try:
                con.begin()
                try:
                    yield con
                except BaseException:
                    con.rollback()
                    raise
                con.commit()
            except duckdb.Error as exc:
                if on_failure is not None:
                    on_failure()
                raise StorageError(f"the store could not commit the batch: {exc}") from exc
            except BaseException:
                if on_failure is not None:
                    on_failure()
                raise

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """This thread's own cursor; every committed write is visible to it."""
        self._check_open()
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            with self._readers_lock:
                self._check_open()
                cursor = self._con.cursor()
                self._readers.append(cursor)
            self._local.cursor = cursor
        try:
            yield cursor
        except duckdb.Error as exc:
            raise StorageError(f"the store could not read: {exc}") from exc

    def allocate(self, con: duckdb.DuckDBPyConnection, table: str, size: int) -> int:
        """Reserve ``size`` consecutive ``seq`` values of ``table``; returns the first.

        Call inside :meth:`write`. Numbering in Python (not a DuckDB sequence) keeps the
        append a single columnar ``INSERT ... SELECT``; a rolled-back batch leaves a gap,
        which is harmless since ``seq`` only has to be unique and increasing.
        """
        last = self._seq.get(table)
        if last is None:
            last = count(con, f"SELECT coalesce(max(seq), 0) FROM {table}")
        self._seq[table] = last + size
        return last + 1

    @staticmethod
    def insert_arrow(
        con: duckdb.DuckDBPyConnection, sql: str, batch: pa.Table, name: str = "batch"
    ) -> int:
        """Run ``sql`` (which reads the view ``name``) over an Arrow table; rows affected."""
        con.register(name, batch)
        try:
            return count(con, sql)
        finally:
            con.unregister(name)

    first_row = staticmethod(first_row)
    count = staticmethod(count)

    def close(self) -> None:
        with self._write_lock, self._readers_lock:
            if self._closed:
                return
            self._closed = True
            for cursor in self._readers:
                cursor.close()
            self._readers.clear()
            self._con.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")
