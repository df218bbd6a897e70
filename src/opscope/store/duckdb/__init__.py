"""The embedded store: one DuckDB file, batched Arrow appends, keyset-paged queries."""

from opscope.store.duckdb.store import DuckDBStore

__all__ = ["DuckDBStore"]
