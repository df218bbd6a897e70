"""``PostgresStore``: the PostgreSQL implementation of ``opscope.store.ports.Store``.

The same public interface, row shapes, cursors, errors and validation messages as
``DuckDBStore``, for teams that outgrow one machine: several opscope processes can share
one database. Safe to share between threads (a pool of connections). Every write takes a
whole batch, is one transaction, and returns after the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from opscope.model import Anomaly, Change, Entity, Event, LogRecord, MetricSample, Relation, Ticket
from opscope.model.base import now_utc
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import Feedback, IncidentChange, Silence
from opscope.store.ports import (
    BandRow,
    EventQuery,
    ExecutionQuery,
    IncidentQuery,
    LabelMatcher,
    LogQuery,
    Page,
    RecordQuery,
    Row,
    SampleColumns,
    SeriesColumns,
    SeriesQuery,
    TemplateQuery,
    TimeRange,
    WriteResult,
)
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


class PostgresStore:
    """The PostgreSQL store.

    ``dsn`` is a libpq connection string or URI (``postgresql://user@host/db``); the
    schema is created or migrated on open. ``retention`` maps a kind (``events``,
    ``event_history``, ``logs``, ``samples``, ``anomalies``, ``changes``, ``tickets``) to
    how long its rows are kept by :meth:`apply_retention`. ``clock`` gives the receive
    time stamped on incoming rows. ``pool_size`` is the most connections held open.
    """

    def __init__(
        self,
        dsn: str,
        retention: dict[str, timedelta] | None = None,
        *,
        clock: Callable[[], datetime] = now_utc,
        pool_size: int = 8,
    ) -> None:
        self._retention = _retention.check_retention(retention)
        self._clock = clock
        self._db = Database(dsn, pool_size)
        self._samples = _metrics.SampleWriter(self._db)
        self._events = _events.EventWriter(self._db)
        self.reactions = _reactions.ReactionTables.open(self._db, clock)
        """Durable adapters of the reaction engine's ports (audit, approvals, ...)."""

    @property
    def schema_version(self) -> int:
        return self._db.version

    # --- events ----------------------------------------------------------------------

    def upsert_events(self, events: Sequence[Event]) -> WriteResult:
        """Insert new identities, fold repeats into stored ones (see ``lifecycle.py``).

        ``inserted``/``updated`` count distinct identities, not notifications.
        """
        return self._events.upsert(events, self._clock())

    def query_events(self, query: EventQuery) -> Page:
        return _events.query_events(self._db, query)

    def get_event(self, source: str, fingerprint: str) -> Row | None:
        return _events.get_event(self._db, source, fingerprint)

    def event_history(
        self, source: str, fingerprint: str, limit: int = 100, cursor: str | None = None
    ) -> Page:
        """Every notification received for one event, newest first."""
        return _events.event_history(self._db, source, fingerprint, limit, cursor)

    # --- logs and metrics ------------------------------------------------------------

    def append_logs(self, logs: Sequence[LogRecord]) -> WriteResult:
        return _logs.append_logs(self._db, logs, self._clock())

    def query_logs(self, query: LogQuery) -> Page:
        return _logs.query_logs(self._db, query)

    def append_samples(self, samples: Sequence[MetricSample]) -> WriteResult:
        return self._samples.append(samples)

    def query_series(self, query: SeriesQuery) -> list[Row]:
        return _metrics.query_series(self._db, query)

    def list_series(
        self, name: str | None, matchers: Sequence[LabelMatcher], limit: int
    ) -> list[Row]:
        return _metrics.list_series(self._db, name, matchers, limit)

    # --- expected bands (written by metric analysis) ----------------------------------

    def append_bands(self, bands: Sequence[BandRow]) -> WriteResult:
        return _bands.append_bands(self._db, bands)

    def query_bands(
        self, series_ids: Sequence[str], time: TimeRange, step_seconds: float | None = None
    ) -> dict[str, list[list[Any]]]:
        return _bands.query_bands(self._db, series_ids, time, step_seconds)

    def anomaly_marks(
        self, series_ids: Sequence[str], time: TimeRange
    ) -> dict[str, list[list[Any]]]:
        return _bands.anomaly_marks(self._db, series_ids, time)

    def sample_history(
        self, start: datetime | None, end: datetime | None, batch_rows: int = 100_000
    ) -> Iterator[SampleColumns]:
        return _bands.sample_history(self._db, start, end, batch_rows)

    # --- tickets, changes, topology, anomalies -----------------------------------------

    def upsert_tickets(self, tickets: Sequence[Ticket]) -> WriteResult:
        return _records.upsert_tickets(self._db, tickets, self._clock())

    def query_tickets(self, query: RecordQuery) -> Page:
        return _records.query_records(self._db, _records.TICKETS, query)

    def append_changes(self, changes: Sequence[Change]) -> WriteResult:
        return _records.append_changes(self._db, changes, self._clock())

    def query_changes(self, query: RecordQuery) -> Page:
        return _records.query_records(self._db, _records.CHANGES, query)

    def upsert_topology(
        self, entities: Sequence[Entity], relations: Sequence[Relation]
    ) -> WriteResult:
        return _topology.upsert_topology(self._db, entities, relations, self._clock())

    def topology(self) -> tuple[list[Row], list[Row]]:
        return _topology.topology(self._db)

    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> WriteResult:
        return _anomalies.append_anomalies(self._db, anomalies)

    def query_anomalies(self, query: RecordQuery) -> Page:
        return _records.query_records(self._db, _anomalies.ANOMALIES, query)

    # --- log templates (written by log analysis) --------------------------------------

    def logs_after(self, seq: int, limit: int) -> list[tuple[int, LogRecord]]:
        return _templates.logs_after(self._db, seq, limit)

    def log_analysis_mark(self) -> tuple[int, int]:
        return _templates.analysis_mark(self._db)

    def record_log_analysis(
        self, upto_seq: int, records: Sequence[tuple[int, LogRecord]],
        templates: Mapping[str, str], merges: Mapping[str, str],
    ) -> None:
        _templates.record_analysis(self._db, upto_seq, records, templates, merges,
                                   self._clock())

    def query_log_templates(self, query: TemplateQuery) -> list[Row]:
        return _templates.query_templates(self._db, query)

    def get_log_template(self, template_id: str, query: TemplateQuery) -> Row | None:
        return _templates.get_template(self._db, template_id, query)

    # --- incidents (written by correlation and root-cause ranking) -------------------

    def write_changes(self, changes: Sequence[IncidentChange]) -> None:
        _incidents.write_changes(self._db, changes)

    def write_feedback(self, feedback: Sequence[Feedback]) -> None:
        _incidents.write_feedback(self._db, feedback)

    def record_incident_action(self, action: str, actor: str, incident_ids: Sequence[str],
                               at: datetime, detail: dict[str, Any]) -> None:
        _incidents.record_action(self._db, action, actor, incident_ids, at, detail)

    def write_hypotheses(self, incident_id: str, ranked_at: datetime,
                         hypotheses: Sequence[Hypothesis]) -> None:
        _incidents.write_hypotheses(self._db, incident_id, ranked_at, hypotheses)

    def query_incidents(self, query: IncidentQuery) -> Page:
        return _incidents.query_incidents(self._db, query)

    def get_incident(self, incident_id: str, members_limit: int = _incidents.DETAIL_MEMBERS,
                     timeline_limit: int = _incidents.DETAIL_TIMELINE) -> Row | None:
        return _incidents.get_incident(self._db, incident_id, members_limit, timeline_limit)

    def get_incidents(self, incident_ids: Sequence[str],
                      members_limit: int = _incidents.DETAIL_MEMBERS,
                      timeline_limit: int = _incidents.DETAIL_TIMELINE) -> dict[str, Row]:
        return _incidents.get_incidents(self._db, incident_ids, members_limit, timeline_limit)

    def incident_members(self, incident_ids: Sequence[str]) -> dict[str, list[Row]]:
        return _incidents.members_of(self._db, incident_ids)

    def query_incident_members(self, incident_id: str, limit: int,
                               cursor: str | None) -> Page:
        return _incidents.query_members(self._db, incident_id, limit, cursor)

    def query_incident_timeline(self, incident_id: str, limit: int,
                                cursor: str | None) -> Page:
        return _incidents.query_timeline(self._db, incident_id, limit, cursor)

    def save_engine_state(self, name: str, data: bytes) -> None:
        _incidents.save_state(self._db, name, data, self._clock())

    def load_engine_state(self, name: str) -> bytes | None:
        return _incidents.load_state(self._db, name)

    def put_silence(self, silence: Silence) -> None:
        _incidents.put_silence(self._db, silence, self._clock())

    def get_silence(self, silence_id: str) -> Silence | None:
        return _incidents.get_silence(self._db, silence_id)

    def list_silences(self, active_at: datetime | None = None) -> list[Silence]:
        return _incidents.list_silences(self._db, active_at)

    def entity_series(self, entities: Sequence[str], start: datetime,
                      end: datetime) -> list[SeriesColumns]:
        return _incidents.entity_series(self._db, entities, start, end)

    def changes_between(self, entities: Sequence[str], start: datetime,
                        end: datetime) -> list[Change]:
        return _incidents.changes_between(self._db, entities, start, end)

    def anomalies_between(self, entities: Sequence[str], start: datetime,
                          end: datetime) -> list[Anomaly]:
        return _incidents.anomalies_between(self._db, entities, start, end)

    def topology_models(self) -> tuple[list[Entity], list[Relation]]:
        return _incidents.topology_models(self._db)

    # --- automated reactions (written through ``reactions``) ------------------------

    def query_executions(self, query: ExecutionQuery) -> Page:
        return _reactions.query_executions(self.reactions, query)

    # --- tokens ----------------------------------------------------------------------

    def add_token(self, token_id: str, digest: str, scopes: Sequence[str], name: str) -> None:
        _tokens.add_token(self._db, token_id, digest, scopes, name, self._clock())

    def find_token(self, digest: str) -> Row | None:
        return _tokens.find_token(self._db, digest)

    def list_tokens(self) -> list[Row]:
        return _tokens.list_tokens(self._db)

    def revoke_token(self, token_id: str) -> bool:
        return _tokens.revoke_token(self._db, token_id, self._clock())

    # --- lifecycle -------------------------------------------------------------------

    def apply_retention(self, now: datetime) -> dict[str, int]:
        """Delete what is older than each kind's retention; rows deleted per kind.

        Only configured kinds are touched. With ``samples`` configured, series left with
        no samples are deleted too and counted under ``series``, and expected bands
        follow the ``samples`` retention (counted under ``bands`` when any went).
        """
        deleted = _retention.apply_retention(self._db, self._retention, now)
        if "samples" in self._retention:
            bands = _bands.delete_before(self._db, now - self._retention["samples"])
            if bands:
                deleted["bands"] = bands
        return deleted

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
