"""What a SQL backend supplies to the store facade (``opscope.store.facade``).

A backend is a package of modules, one concept each (``events``, ``logs``, ``metrics``,
``bands``, ``records``, ``anomalies``, ``topology``, ``templates``, ``incidents``,
``tokens``), whose functions take the backend's own database object first. Each
protocol below is the set of functions one such module must define; a backend module
satisfies it as it is (mypy checks modules against protocols), so the facade is written
once and each backend names its modules in a :class:`Backend`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

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
from opscope.store.sql.records import RecordTable

DB = TypeVar("DB")
DB_contra = TypeVar("DB_contra", contravariant=True)


class EventUpserts(Protocol):
    """The writer that folds event notifications into stored events."""

    def upsert(self, events: Sequence[Event], now: datetime) -> WriteResult: ...


class SampleAppends(Protocol):
    """The writer that appends metric samples (and registers new series)."""

    def append(self, samples: Sequence[MetricSample]) -> WriteResult: ...


class EventReads(Protocol[DB_contra]):
    def query_events(self, db: DB_contra, query: EventQuery) -> Page: ...

    def get_event(self, db: DB_contra, source: str, fingerprint: str) -> Row | None: ...

    def event_history(self, db: DB_contra, source: str, fingerprint: str, limit: int,
                      cursor: str | None) -> Page: ...


class LogOperations(Protocol[DB_contra]):
    def append_logs(self, db: DB_contra, logs: Sequence[LogRecord], now: datetime
                    ) -> WriteResult: ...

    def query_logs(self, db: DB_contra, query: LogQuery) -> Page: ...


class SeriesReads(Protocol[DB_contra]):
    def query_series(self, db: DB_contra, query: SeriesQuery) -> list[Row]: ...

    def list_series(self, db: DB_contra, name: str | None, matchers: Sequence[LabelMatcher],
                    limit: int) -> list[Row]: ...


class BandOperations(Protocol[DB_contra]):
    def append_bands(self, db: DB_contra, bands: Sequence[BandRow]) -> WriteResult: ...

    def query_bands(self, db: DB_contra, series_ids: Sequence[str], span: TimeRange,
                    step_seconds: float | None) -> dict[str, list[list[Any]]]: ...

    def anomaly_marks(self, db: DB_contra, series_ids: Sequence[str], span: TimeRange
                      ) -> dict[str, list[list[Any]]]: ...

    def sample_history(self, db: DB_contra, start: datetime | None, end: datetime | None,
                       batch_rows: int) -> Iterator[SampleColumns]: ...

    def delete_before(self, db: DB_contra, cutoff: datetime) -> int: ...


class RecordOperations(Protocol[DB_contra]):
    """Tickets and changes, and the paged read all record tables share."""

    @property
    def TICKETS(self) -> RecordTable: ...

    @property
    def CHANGES(self) -> RecordTable: ...

    def upsert_tickets(self, db: DB_contra, tickets: Sequence[Ticket], now: datetime
                       ) -> WriteResult: ...

    def append_changes(self, db: DB_contra, changes: Sequence[Change], now: datetime
                       ) -> WriteResult: ...

    def query_records(self, db: DB_contra, table: RecordTable, query: RecordQuery
                      ) -> Page: ...


class AnomalyOperations(Protocol[DB_contra]):
    @property
    def ANOMALIES(self) -> RecordTable: ...

    def append_anomalies(self, db: DB_contra, anomalies: Sequence[Anomaly]) -> WriteResult: ...

    def get_anomaly(self, db: DB_contra, anomaly_id: str) -> Row | None: ...

    def record_verdict(self, db: DB_contra, verdict: AnomalyVerdict) -> None: ...

    def verdicts_of(self, db: DB_contra, anomaly_ids: Sequence[str]
                    ) -> dict[str, list[Row]]: ...

    def false_alarms_after(self, db: DB_contra, after: int, limit: int
                           ) -> tuple[list[Row], int]: ...


class TopologyOperations(Protocol[DB_contra]):
    def upsert_topology(self, db: DB_contra, entities: Sequence[Entity],
                        relations: Sequence[Relation], now: datetime) -> WriteResult: ...

    def topology(self, db: DB_contra) -> tuple[list[Row], list[Row]]: ...


class TemplateOperations(Protocol[DB_contra]):
    def logs_after(self, db: DB_contra, seq: int, limit: int) -> list[tuple[int, LogRecord]]: ...

    def analysis_mark(self, db: DB_contra) -> tuple[int, int]: ...

    def record_analysis(self, db: DB_contra, upto_seq: int,
                        records: Sequence[tuple[int, LogRecord]],
                        templates: Mapping[str, str], merges: Mapping[str, str],
                        now: datetime) -> None: ...

    def query_templates(self, db: DB_contra, query: TemplateQuery) -> list[Row]: ...

    def get_template(self, db: DB_contra, template_id: str, query: TemplateQuery
                     ) -> Row | None: ...


class IncidentOperations(Protocol[DB_contra]):
    """Incidents, rankings, operator actions, silences, engine state and the reads
    root-cause ranking makes around an incident."""

    def write_changes(self, db: DB_contra, changes: Sequence[IncidentChange]) -> None: ...

    def write_feedback(self, db: DB_contra, feedback: Sequence[Feedback]) -> None: ...

    def record_action(self, db: DB_contra, action: str, actor: str,
                      incident_ids: Sequence[str], at: datetime,
                      detail: dict[str, Any]) -> None: ...

    def write_hypotheses(self, db: DB_contra, incident_id: str, ranked_at: datetime,
                         hypotheses: Sequence[Hypothesis]) -> None: ...

    def query_incidents(self, db: DB_contra, query: IncidentQuery) -> Page: ...

    def get_incident(self, db: DB_contra, incident_id: str, members_limit: int,
                     timeline_limit: int) -> Row | None: ...

    def get_incidents(self, db: DB_contra, incident_ids: Sequence[str], members_limit: int,
                      timeline_limit: int) -> dict[str, Row]: ...

    def members_of(self, db: DB_contra, incident_ids: Sequence[str]
                   ) -> dict[str, list[Row]]: ...

    def query_members(self, db: DB_contra, incident_id: str, limit: int,
                      cursor: str | None) -> Page: ...

    def query_timeline(self, db: DB_contra, incident_id: str, limit: int,
                       cursor: str | None) -> Page: ...

    def save_state(self, db: DB_contra, name: str, data: bytes, now: datetime) -> None: ...

    def load_state(self, db: DB_contra, name: str) -> bytes | None: ...

    def put_silence(self, db: DB_contra, silence: Silence, now: datetime) -> None: ...

    def get_silence(self, db: DB_contra, silence_id: str) -> Silence | None: ...

    def list_silences(self, db: DB_contra, active_at: datetime | None) -> list[Silence]: ...

    def entity_series(self, db: DB_contra, entities: Sequence[str], start: datetime,
                      end: datetime) -> list[SeriesColumns]: ...

    def changes_between(self, db: DB_contra, entities: Sequence[str], start: datetime,
                        end: datetime) -> list[Change]: ...

    def anomalies_between(self, db: DB_contra, entities: Sequence[str], start: datetime,
                          end: datetime) -> list[Anomaly]: ...

    def topology_models(self, db: DB_contra) -> tuple[list[Entity], list[Relation]]: ...


class TokenOperations(Protocol[DB_contra]):
    def add_token(self, db: DB_contra, token_id: str, digest: str, scopes: Sequence[str],
                  name: str, now: datetime) -> None: ...

    def find_token(self, db: DB_contra, digest: str) -> Row | None: ...

    def list_tokens(self, db: DB_contra) -> list[Row]: ...

    def revoke_token(self, db: DB_contra, token_id: str, now: datetime) -> bool: ...


class ExecutionPages(Protocol):
    """The reaction audit log's paged read of executions."""

    def page(self, query: ExecutionQuery, cursor: str | None) -> Page: ...


class ReactionAdapters(Protocol):
    """The durable reaction adapters a store opens; the facade reads the audit log."""

    @property
    def audit(self) -> ExecutionPages: ...


@dataclass(frozen=True, slots=True)
class Backend(Generic[DB]):
    """A backend's modules, each taking that backend's database object ``DB``."""

    events: EventReads[DB]
    logs: LogOperations[DB]
    metrics: SeriesReads[DB]
    bands: BandOperations[DB]
    records: RecordOperations[DB]
    anomalies: AnomalyOperations[DB]
    topology: TopologyOperations[DB]
    templates: TemplateOperations[DB]
    incidents: IncidentOperations[DB]
    tokens: TokenOperations[DB]
