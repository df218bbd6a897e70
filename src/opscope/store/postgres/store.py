"""``PostgresStore``: the PostgreSQL implementation of ``opscope.store.ports.Store``.

The same public interface, row shapes, cursors, errors and validation messages as
``DuckDBStore``, for teams that outgrow one machine: several opscope processes can share
one database. Safe to share between threads (a pool of connections). Every write takes a
whole batch, is one transaction, and returns after the commit. The public methods are
the shared facade's (``opscope.store.facade``) over this package's modules.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from opscope.model.base import now_utc
from opscope.store.backend import Backend
from opscope.store.facade import SQLStore
from opscope.store.postgres import anomalies as _anomalies
from opscope.store.postgres import bands as _bands
from opscope.store.postgres import events as _events
from opscope.store.postgres import incidents as _incidents
from opscope.store.postgres import logs as _logs
from opscope.store.postgres import metrics as _metrics
from opscope.store.postgres import reactions as _reactions
from opscope.store.postgres import records as _records
from opscope.store.postgres import retention as _retention
from opscope.store.postgres import templates as _templates
from opscope.store.postgres import tokens as _tokens
from opscope.store.postgres import topology as _topology
from opscope.store.postgres.database import Database
from opscope.store.sql.reactions import ReactionTables

_BACKEND: Backend[Database] = Backend(
    events=_events, logs=_logs, metrics=_metrics, bands=_bands, records=_records,
    anomalies=_anomalies, topology=_topology, templates=_templates, incidents=_incidents,
    tokens=_tokens,
)


class PostgresStore(SQLStore[Database]):
    """The PostgreSQL store.

    ``dsn`` is a libpq connection string or URI (``postgresql://user@host/db``); the
    schema is created or migrated on open. ``retention`` maps a kind (``events``,
    ``event_history``, ``logs``, ``samples``, ``anomalies``, ``changes``, ``tickets``) to
    how long its rows are kept by :meth:`apply_retention`. ``clock`` gives the receive
    time stamped on incoming rows. ``pool_size`` is the most connections held open.
    """

    _samples: _metrics.SampleWriter
    _events: _events.EventWriter
    reactions: ReactionTables
    """Durable adapters of the reaction engine's ports (audit, approvals, ...)."""

    def __init__(
        self,
        dsn: str,
        retention: dict[str, timedelta] | None = None,
        *,
        clock: Callable[[], datetime] = now_utc,
        pool_size: int = 8,
    ) -> None:
        super().__init__(_BACKEND, _retention.check_retention(retention), clock)
        self._db = Database(dsn, pool_size)
        self._samples = _metrics.SampleWriter(self._db)
        self._events = _events.EventWriter(self._db)
        self.reactions = _reactions.open_tables(self._db, clock)

    def _delete_expired(self, now: datetime) -> dict[str, int]:
        return _retention.apply_retention(self._db, self._retention, now)
