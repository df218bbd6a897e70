"""``DuckDBStore``: the embedded implementation of ``opscope.store.ports.Store``.

One DuckDB file in the data directory (or an in-memory database for tests). Safe to
share between threads: writes are serialised, each reading thread has its own cursor.
Every write takes a whole batch, is one transaction, and returns after the commit;
DuckDB commits to its write-ahead log, so an acknowledged batch survives a crash.
The public methods are the shared facade's (``opscope.store.facade``) over this
package's modules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from opscope.model.base import now_utc
from opscope.store.backend import Backend
from opscope.store.duckdb import anomalies as _anomalies
from opscope.store.duckdb import bands as _bands
from opscope.store.duckdb import events as _events
from opscope.store.duckdb import incidents as _incidents
from opscope.store.duckdb import logs as _logs
from opscope.store.duckdb import metrics as _metrics
from opscope.store.duckdb import reactions as _reactions
from opscope.store.duckdb import records as _records
from opscope.store.duckdb import retention as _retention
from opscope.store.duckdb import templates as _templates
from opscope.store.duckdb import tokens as _tokens
from opscope.store.duckdb import topology as _topology
from opscope.store.duckdb.database import Database
from opscope.store.facade import SQLStore
from opscope.store.sql.reactions import ReactionTables

_BACKEND: Backend[Database] = Backend(
    events=_events, logs=_logs, metrics=_metrics, bands=_bands, records=_records,
    anomalies=_anomalies, topology=_topology, templates=_templates, incidents=_incidents,
    tokens=_tokens,
)


class DuckDBStore(SQLStore[Database]):
    """The embedded store.

    ``path`` is the database file (created with its directory if missing); ``None`` or
    ``":memory:"`` keeps everything in memory. ``retention`` maps a kind (``events``,
    ``event_history``, ``logs``, ``samples``, ``anomalies``, ``changes``, ``tickets``) to
    how long its rows are kept by :meth:`apply_retention`. ``clock`` gives the receive
    time stamped on incoming rows (injected so replays and tests are deterministic).
    """

    _samples: _metrics.SampleWriter
    _events: _events.EventWriter
    reactions: ReactionTables
    """Durable adapters of the reaction engine's ports (audit, approvals, ...)."""

    def __init__(
        self,
        path: str | Path | None = None,
        retention: dict[str, timedelta] | None = None,
        *,
        clock: Callable[[], datetime] = now_utc,
        memory_limit: str | None = None,
    ) -> None:
        super().__init__(_BACKEND, _retention.check_retention(retention), clock)
        self._db = Database(path, memory_limit)
        self._samples = _metrics.SampleWriter(self._db)
        self._events = _events.EventWriter(self._db)
        self.reactions = _reactions.open_tables(self._db, clock)

    def _delete_expired(self, now: datetime) -> dict[str, int]:
        # The writers' memories of what is stored are dropped with the rows.
        return _retention.apply_retention(
            self._db, self._retention, now, self._samples.forget, self._events.forget)
