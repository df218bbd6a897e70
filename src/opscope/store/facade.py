"""The store facade: the public methods of ``opscope.store.ports.Store``, written once.

``DuckDBStore`` and ``PostgresStore`` are this class over their own backend: the
database object, the writers that batch events and samples, the reaction adapters and
the modules named in a :class:`~opscope.store.backend.Backend`. A method here checks
nothing and stores nothing itself; it hands its arguments, with the backend's database
and the receive time from the injected clock, to the backend module that does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, Self, TypeVar

from opscope.model import (
    Anomaly,
    AnomalyVerdict,
    Change,
    Entity,
    Event,
    LogRecord,
    MetricSample,
    Relation,
    Ticket,
)
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import Feedback, IncidentChange, Silence
from opscope.store.backend import Backend, EventUpserts, ReactionAdapters, SampleAppends
from opscope.store.ports import (
    DETAIL_MEMBERS,
    DETAIL_TIMELINE,
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


class OpenDatabase(Protocol):
    """What the facade itself asks of a backend's database."""

    @property
    def version(self) -> int: ...

    def close(self) -> None: ...


DB = TypeVar("DB", bound=OpenDatabase)


class SQLStore(Generic[DB]):
    """The store over one backend's database ``DB``.

    A backend's constructor opens its database, then sets ``_db``, ``_events``,
    ``_samples`` and ``reactions``, and implements :meth:`_delete_expired`.
    """

    _db: DB
    _events: EventUpserts
    _samples: SampleAppends
    reactions: ReactionAdapters
    """Durable adapters of the reaction engine's ports (audit, approvals, ...)."""

    def __init__(self, ops: Backend[DB], retention: dict[str, timedelta],
                 clock: Callable[[], datetime]) -> None:
        self._ops = ops
        self._retention = retention
        self._clock = clock

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
        return self._ops.events.query_events(self._db, query)

    def get_event(self, source: str, fingerprint: str) -> Row | None:
        return self._ops.events.get_event(self._db, source, fingerprint)

    def event_history(
        self, source: str, fingerprint: str, limit: int = 100, cursor: str | None = None
    ) -> Page:
        """Every notification received for one event, newest first."""
        return self._ops.events.event_history(self._db, source, fingerprint, limit, cursor)

    # --- logs and metrics ------------------------------------------------------------

    def append_logs(self, logs: Sequence[LogRecord]) -> WriteResult:
        return self._ops.logs.append_logs(self._db, logs, self._clock())

    def query_logs(self, query: LogQuery) -> Page:
        return self._ops.logs.query_logs(self._db, query)

    def append_samples(self, samples: Sequence[MetricSample]) -> WriteResult:
        return self._samples.append(samples)

    def query_series(self, query: SeriesQuery) -> list[Row]:
        return self._ops.metrics.query_series(self._db, query)

    def list_series(
        self, name: str | None, matchers: Sequence[LabelMatcher], limit: int
    ) -> list[Row]:
        return self._ops.metrics.list_series(self._db, name, matchers, limit)

    # --- expected bands (written by metric analysis) ----------------------------------

    def append_bands(self, bands: Sequence[BandRow]) -> WriteResult:
        return self._ops.bands.append_bands(self._db, bands)

    def query_bands(
        self, series_ids: Sequence[str], time: TimeRange, step_seconds: float | None = None
    ) -> dict[str, list[list[Any]]]:
        return self._ops.bands.query_bands(self._db, series_ids, time, step_seconds)

    def anomaly_marks(
        self, series_ids: Sequence[str], time: TimeRange
    ) -> dict[str, list[list[Any]]]:
        return self._ops.bands.anomaly_marks(self._db, series_ids, time)

    def sample_history(
        self, start: datetime | None, end: datetime | None, batch_rows: int = 100_000
    ) -> Iterator[SampleColumns]:
        return self._ops.bands.sample_history(self._db, start, end, batch_rows)

    # --- tickets, changes, topology, anomalies -----------------------------------------

    def upsert_tickets(self, tickets: Sequence[Ticket]) -> WriteResult:
        return self._ops.records.upsert_tickets(self._db, tickets, self._clock())

    def query_tickets(self, query: RecordQuery) -> Page:
        return self._ops.records.query_records(self._db, self._ops.records.TICKETS, query)

    def append_changes(self, changes: Sequence[Change]) -> WriteResult:
        return self._ops.records.append_changes(self._db, changes, self._clock())

    def query_changes(self, query: RecordQuery) -> Page:
        return self._ops.records.query_records(self._db, self._ops.records.CHANGES, query)

    def upsert_topology(
        self, entities: Sequence[Entity], relations: Sequence[Relation]
    ) -> WriteResult:
        return self._ops.topology.upsert_topology(self._db, entities, relations, self._clock())

    def topology(self) -> tuple[list[Row], list[Row]]:
        return self._ops.topology.topology(self._db)

    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> WriteResult:
        return self._ops.anomalies.append_anomalies(self._db, anomalies)

    def query_anomalies(self, query: RecordQuery) -> Page:
        return self._ops.records.query_records(self._db, self._ops.anomalies.ANOMALIES, query)

    def get_anomaly(self, anomaly_id: str) -> Row | None:
        return self._ops.anomalies.get_anomaly(self._db, anomaly_id)

    def record_verdict(self, verdict: AnomalyVerdict) -> None:
        self._ops.anomalies.record_verdict(self._db, verdict)

    def anomaly_verdicts(self, anomaly_ids: Sequence[str]) -> dict[str, list[Row]]:
        return self._ops.anomalies.verdicts_of(self._db, anomaly_ids)

    def false_alarms_after(self, after: int, limit: int) -> tuple[list[Row], int]:
        return self._ops.anomalies.false_alarms_after(self._db, after, limit)

    # --- log templates (written by log analysis) --------------------------------------

    def logs_after(self, seq: int, limit: int) -> list[tuple[int, LogRecord]]:
        return self._ops.templates.logs_after(self._db, seq, limit)

    def log_analysis_mark(self) -> tuple[int, int]:
        return self._ops.templates.analysis_mark(self._db)

    def record_log_analysis(
        self, upto_seq: int, records: Sequence[tuple[int, LogRecord]],
        templates: Mapping[str, str], merges: Mapping[str, str],
    ) -> None:
        self._ops.templates.record_analysis(self._db, upto_seq, records, templates, merges,
                                   self._clock())

    def query_log_templates(self, query: TemplateQuery) -> list[Row]:
        return self._ops.templates.query_templates(self._db, query)

    def get_log_template(self, template_id: str, query: TemplateQuery) -> Row | None:
        return self._ops.templates.get_template(self._db, template_id, query)

    # --- incidents (written by correlation and root-cause ranking) -------------------

    def write_changes(self, changes: Sequence[IncidentChange]) -> None:
        self._ops.incidents.write_changes(self._db, changes)

    def write_feedback(self, feedback: Sequence[Feedback]) -> None:
        self._ops.incidents.write_feedback(self._db, feedback)

    def record_incident_action(self, action: str, actor: str, incident_ids: Sequence[str],
                               at: datetime, detail: dict[str, Any]) -> None:
        self._ops.incidents.record_action(self._db, action, actor, incident_ids, at, detail)

    def write_hypotheses(self, incident_id: str, ranked_at: datetime,
                         hypotheses: Sequence[Hypothesis]) -> None:
        self._ops.incidents.write_hypotheses(self._db, incident_id, ranked_at, hypotheses)

    def query_incidents(self, query: IncidentQuery) -> Page:
        return self._ops.incidents.query_incidents(self._db, query)

    def get_incident(self, incident_id: str, members_limit: int = DETAIL_MEMBERS,
                     timeline_limit: int = DETAIL_TIMELINE) -> Row | None:
        return self._ops.incidents.get_incident(self._db, incident_id, members_limit,
                                               timeline_limit)

    def get_incidents(self, incident_ids: Sequence[str],
                      members_limit: int = DETAIL_MEMBERS,
                      timeline_limit: int = DETAIL_TIMELINE) -> dict[str, Row]:
        return self._ops.incidents.get_incidents(self._db, incident_ids, members_limit,
                                                timeline_limit)

    def incident_members(self, incident_ids: Sequence[str]) -> dict[str, list[Row]]:
        return self._ops.incidents.members_of(self._db, incident_ids)

    def query_incident_members(self, incident_id: str, limit: int,
                               cursor: str | None) -> Page:
        return self._ops.incidents.query_members(self._db, incident_id, limit, cursor)

    def query_incident_timeline(self, incident_id: str, limit: int,
                                cursor: str | None) -> Page:
        return self._ops.incidents.query_timeline(self._db, incident_id, limit, cursor)

    def save_engine_state(self, name: str, data: bytes) -> None:
        self._ops.incidents.save_state(self._db, name, data, self._clock())

    def load_engine_state(self, name: str) -> bytes | None:
        return self._ops.incidents.load_state(self._db, name)

    def put_silence(self, silence: Silence) -> None:
        self._ops.incidents.put_silence(self._db, silence, self._clock())

    def get_silence(self, silence_id: str) -> Silence | None:
        return self._ops.incidents.get_silence(self._db, silence_id)

    def list_silences(self, active_at: datetime | None = None) -> list[Silence]:
        return self._ops.incidents.list_silences(self._db, active_at)

    def entity_series(self, entities: Sequence[str], start: datetime,
                      end: datetime) -> list[SeriesColumns]:
        return self._ops.incidents.entity_series(self._db, entities, start, end)

    def changes_between(self, entities: Sequence[str], start: datetime,
                        end: datetime) -> list[Change]:
        return self._ops.incidents.changes_between(self._db, entities, start, end)

    def anomalies_between(self, entities: Sequence[str], start: datetime,
                          end: datetime) -> list[Anomaly]:
        return self._ops.incidents.anomalies_between(self._db, entities, start, end)

    def topology_models(self) -> tuple[list[Entity], list[Relation]]:
        return self._ops.incidents.topology_models(self._db)

    # --- automated reactions (written through ``reactions``) ------------------------

    def query_executions(self, query: ExecutionQuery) -> Page:
        return self.reactions.audit.page(query, query.cursor)

    # --- tokens ----------------------------------------------------------------------

    def add_token(self, token_id: str, digest: str, scopes: Sequence[str], name: str) -> None:
        self._ops.tokens.add_token(self._db, token_id, digest, scopes, name, self._clock())

    def find_token(self, digest: str) -> Row | None:
        return self._ops.tokens.find_token(self._db, digest)

    def list_tokens(self) -> list[Row]:
        return self._ops.tokens.list_tokens(self._db)

    def revoke_token(self, token_id: str) -> bool:
        return self._ops.tokens.revoke_token(self._db, token_id, self._clock())

    # --- lifecycle -------------------------------------------------------------------

    def apply_retention(self, now: datetime) -> dict[str, int]:
        """Delete what is older than each kind's retention; rows deleted per kind.

        Only configured kinds are touched. With ``samples`` configured, series left with
        no samples are deleted too and counted under ``series``, and expected bands
        follow the ``samples`` retention (counted under ``bands`` when any went).
        Verdicts on anomalies follow the ``anomalies`` retention, aged by when they were
        given (counted under ``anomaly_verdicts`` when any went).
        """
        deleted = self._delete_expired(now)
        if "samples" in self._retention:
            bands = self._ops.bands.delete_before(self._db, now - self._retention["samples"])
            if bands:
                deleted["bands"] = bands
        return deleted

    def _delete_expired(self, now: datetime) -> dict[str, int]:
        """The backend's retention run: rows deleted per kind (bands aside)."""
        raise NotImplementedError

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
