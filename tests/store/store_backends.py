"""Stores of either backend for the store tests (see ``conftest.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pg_server import DatabasePool

from opscope.model.base import now_utc
from opscope.store.duckdb import DuckDBStore
from opscope.store.postgres import PostgresStore

AnyStore = DuckDBStore | PostgresStore
BACKENDS = ("duckdb", "postgres")


class Stores:
    """Opens stores of one backend and closes them all at the end.

    :meth:`open` gives an empty store; :meth:`reopen` opens another store on the
    database of an earlier one, as a restarted process would.
    """

    def __init__(self, backend: str, request: pytest.FixtureRequest, tmp: Path) -> None:
        self.backend = backend
        self._request = request
        self._tmp = tmp
        self._opened: list[AnyStore] = []
        self._targets: dict[int, str] = {}
        self._taken: list[str] = []
        self._names = 0

    def open(self, retention: dict[str, timedelta] | None = None,
             clock: Callable[[], datetime] = now_utc, durable: bool = False) -> AnyStore:
        """An empty store; ``durable`` puts a DuckDB store in a file (so it can be reopened)."""
        if self.backend == "duckdb":
            self._names += 1
            path = str(self._tmp / f"store{self._names}.duckdb") if durable else None
            store: AnyStore = DuckDBStore(path, retention, clock=clock)
            target = path or ""
        else:
            target = self.databases().take()
            self._taken.append(target)
            store = PostgresStore(target, retention, clock=clock, pool_size=4)
        self._targets[id(store)] = target
        self._opened.append(store)
        return store

    def reopen(self, earlier: AnyStore, retention: dict[str, timedelta] | None = None,
               clock: Callable[[], datetime] = now_utc) -> AnyStore:
        target = self._targets[id(earlier)]
        if self.backend == "duckdb":
            assert target, "open the earlier store with durable=True"
            store: AnyStore = DuckDBStore(target, retention, clock=clock)
        else:
            store = PostgresStore(target, retention, clock=clock, pool_size=4)
        self._targets[id(store)] = target
        self._opened.append(store)
        return store

    def databases(self) -> DatabasePool:
        pool: DatabasePool = self._request.getfixturevalue("pg_databases")
        return pool

    def close(self) -> None:
        for store in self._opened:
            with contextlib.suppress(Exception):
                store.close()
        if self._taken:
            pool = self.databases()
            for dsn in self._taken:
                pool.give_back(dsn)
