"""What the shared SQL logic asks of a backend's database: two ways to borrow a
connection, and the two single-result reads whose details differ by driver."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar


class Result(Protocol):
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A DB-API style connection (a DuckDB cursor, a psycopg connection)."""

    def execute(self, sql: str, params: Any = ..., /) -> Result: ...


Con = TypeVar("Con", bound=Connection)


class SQLDatabase(Protocol[Con]):
    """A backend's ``Database``: ``read()`` and ``write()`` lend a connection, the latter
    inside a transaction committed when the block exits normally."""

    def read(self) -> AbstractContextManager[Con]: ...

    def write(self) -> AbstractContextManager[Con]: ...

    def first_row(self, con: Con, sql: str, params: Sequence[Any] | None = None
                  ) -> tuple[Any, ...] | None: ...

    def count(self, con: Con, sql: str, params: Sequence[Any] | None = None) -> int: ...
