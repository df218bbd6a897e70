"""Narrow storage ports. Adapters: ``opscope.store.duckdb`` (embedded, default).

Writes take whole batches and return only after the batch is committed. Reads take a
query object and return a ``Page`` of JSON-ready rows plus an opaque cursor for the next
page (keyset paging: newest first, stable under concurrent appends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

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

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Row]
    next_cursor: str | None = None


def read_pages(fetch: Callable[[int, str | None], Page], cap: int,
               page_size: int = 1000) -> tuple[list[Row], bool]:
    """Follow a read's cursors (``fetch(limit, cursor)``) until ``cap`` rows; also say
    whether rows were left unread."""
    rows: list[Row] = []
    cursor: str | None = None
    while len(rows) < cap:
        page = fetch(min(page_size, cap - len(rows)), cursor)
        rows.extend(page.items)
        cursor = page.next_cursor
        if cursor is None or not page.items:
            return rows, False
    return rows, True


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a batch write did: rows inserted, rows that updated an existing identity."""

    inserted: int = 0
    updated: int = 0


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """Prometheus-style matcher: op is one of ``=``, ``!=``, ``=~``, ``!~``."""

    name: str
    op: str
    value: str


@dataclass(frozen=True, slots=True)
class EventQuery:
    time: TimeRange = TimeRange()
    entity: str | None = None
    source: str | None = None
    status: str | None = None
    severity: Sequence[str] = ()
    labels: Sequence[LabelMatcher] = ()
    text: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class LogQuery:
    time: TimeRange = TimeRange()
    entity: str | None = None
    source: str | None = None
    level: Sequence[str] = ()
    text: str | None = None
    template_id: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    name: str
    matchers: Sequence[LabelMatcher] = ()
    time: TimeRange = TimeRange()
    step_seconds: float | None = None
    agg: str = "avg"
    max_series: int = 100


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """Tickets, changes and anomalies: time range plus an optional entity and kind/status."""

    time: TimeRange = TimeRange()
    entity: str | None = None
    kind: str | None = None
    text: str | None = None
    limit: int = 100
    cursor: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TemplateQuery:
    """Log template statistics: counts in ``time`` (at the store's count resolution).

    ``sort`` is ``count`` or ``last_seen`` (both descending); ``bucket_seconds`` asks for
    counts per time bucket as well, and must be a multiple of the count resolution.
    """

    time: TimeRange = TimeRange()
    entity: str | None = None
    text: str | None = None
    sort: str = "count"
    bucket_seconds: int | None = None
    limit: int = 100
    offset: int = 0


class EventStore(Protocol):
    def upsert_events(self, events: Sequence[Event]) -> WriteResult: ...
    def query_events(self, query: EventQuery) -> Page: ...
    def get_event(self, source: str, fingerprint: str) -> Row | None: ...
    def event_history(self, source: str, fingerprint: str, limit: int = 100,
                      cursor: str | None = None) -> Page: ...


class LogStore(Protocol):
    def append_logs(self, logs: Sequence[LogRecord]) -> WriteResult: ...
    def query_logs(self, query: LogQuery) -> Page: ...


class MetricStore(Protocol):
    def append_samples(self, samples: Sequence[MetricSample]) -> WriteResult: ...
    def query_series(self, query: SeriesQuery) -> list[Row]: ...
    def list_series(
        self, name: str | None, matchers: Sequence[LabelMatcher], limit: int
    ) -> list[Row]: ...


class TemplateStore(Protocol):
    """What log analysis reads and writes, and the template statistics it leaves behind.

    Log rows are keyed by ``seq``; analysis reads committed rows in ``seq`` order and
    records its results together with how far it got, in one transaction.
    """

    def logs_after(self, seq: int, limit: int) -> list[tuple[int, LogRecord]]:
        """Up to ``limit`` committed log rows with ``seq`` above ``seq``, in order."""
        ...

    def log_analysis_mark(self) -> tuple[int, int]:
        """``(last analysed seq, last committed seq)``; 0 where there is none."""
        ...

    def record_log_analysis(
        self, upto_seq: int, records: Sequence[tuple[int, LogRecord]],
        templates: Mapping[str, str], merges: Mapping[str, str],
    ) -> None:
        """Store each row's template and params, count them, and mark ``upto_seq`` done.

        ``templates`` maps the ids in ``records`` to their current text; ``merges`` maps
        ids folded into others to the id they live on as.
        """
        ...

    def query_log_templates(self, query: TemplateQuery) -> list[Row]: ...
    def get_log_template(self, template_id: str, query: TemplateQuery) -> Row | None: ...


BandRow = tuple[str, datetime, float, float | None, float | None]
"""What a metric detector expected of one series at one time:
``(series_id, ts, expected, lower, upper)``."""


@dataclass(frozen=True, slots=True)
class SampleColumns:
    """Stored samples as parallel columns (``ts`` in unix seconds), in event-time order."""

    series: Sequence[str]
    names: Sequence[str]
    ts: Sequence[float]
    values: Sequence[float]


class BandStore(Protocol):
    """What metric analysis writes and trains from, and the overlays charts draw."""

    def append_bands(self, bands: Sequence[BandRow]) -> WriteResult: ...

    def query_bands(
        self, series_ids: Sequence[str], time: TimeRange, step_seconds: float | None = None
    ) -> dict[str, list[list[Any]]]:
        """``[[epoch_ms, expected, lower, upper], ...]`` per series id, bucketed like
        ``query_series`` when ``step_seconds`` is given."""
        ...

    def anomaly_marks(
        self, series_ids: Sequence[str], time: TimeRange
    ) -> dict[str, list[list[Any]]]:
        """``[[epoch_ms, score, direction], ...]`` of metric anomalies per series id."""
        ...

    def sample_history(
        self, start: datetime | None, end: datetime | None, batch_rows: int = 100_000
    ) -> Iterator[SampleColumns]:
        """Stored samples in ``[start, end)``, oldest first, in batches."""
        ...


class RecordStore(Protocol):
    def upsert_tickets(self, tickets: Sequence[Ticket]) -> WriteResult: ...
    def query_tickets(self, query: RecordQuery) -> Page: ...
    def append_changes(self, changes: Sequence[Change]) -> WriteResult: ...
    def query_changes(self, query: RecordQuery) -> Page: ...


class TopologyStore(Protocol):
    def upsert_topology(
        self, entities: Sequence[Entity], relations: Sequence[Relation]
    ) -> WriteResult: ...
    def topology(self) -> tuple[list[Row], list[Row]]: ...


class AnomalyStore(Protocol):
    """Anomalies found by analysis, and operators' verdicts on them (every verdict is
    kept: an audit trail, and labels for evaluation and learning)."""

    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> WriteResult: ...
    def query_anomalies(self, query: RecordQuery) -> Page: ...

    def get_anomaly(self, anomaly_id: str) -> Row | None:
        """One stored anomaly, as ``query_anomalies`` returns it; None when absent."""
        ...

    def record_verdict(self, verdict: AnomalyVerdict) -> None:
        """Append one verdict; earlier verdicts on the same anomaly are kept."""
        ...

    def anomaly_verdicts(self, anomaly_ids: Sequence[str]) -> dict[str, list[Row]]:
        """The verdicts on these anomalies, newest first per anomaly, as rows
        ``{anomaly_id, verdict, ts, actor, note}``; ids without any are left out."""
        ...

    def false_alarms_after(self, after: int, limit: int) -> tuple[list[Row], int]:
        """The false alarms among the next ``limit`` verdicts (of any kind) with ``seq``
        above ``after``, and the highest ``seq`` among those verdicts (``after`` when
        there is none): ``(rows, cursor)``.

        For metric analysis, which polls it to apply operators' false alarms to its
        detectors, wherever they were given: pass ``cursor`` as ``after`` next time.
        Rows are ``{seq, anomaly_id, kind, subject, anomaly_ts, evidence}`` (the
        anomaly's ``ts`` and ``evidence`` as ``get_anomaly`` returns them), oldest
        ``seq`` first. A verdict whose anomaly is no longer stored (retention) is left
        out, as are confirmations, but the cursor still moves past them, so it advances
        by at most ``limit`` verdicts a call and a page with no rows need not be the
        last. Verdicts become visible in ``seq`` order, so none is missed behind it.
        """
        ...


class TokenStore(Protocol):
    def add_token(self, token_id: str, digest: str, scopes: Sequence[str], name: str) -> None: ...
    def find_token(self, digest: str) -> Row | None: ...
    def list_tokens(self) -> list[Row]: ...
    def revoke_token(self, token_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Incidents opened in ``time``; ``status``/``severity``/``entity`` narrow the list."""

    time: TimeRange = TimeRange()
    status: str | None = None
    severity: Sequence[str] = ()
    entity: str | None = None
    limit: int = 100
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class SeriesColumns:
    """One stored series around an incident: ``ts`` in unix seconds, NaN for no value."""

    series_id: str
    entity: str
    metric: str
    ts: Sequence[float]
    values: Sequence[float]


DETAIL_MEMBERS = 1000
"""Members an incident's detail carries at most (the first to join); the rest are paged."""
DETAIL_TIMELINE = 1000
"""Timeline entries an incident's detail carries at most (the earliest); the rest are paged."""


class IncidentStore(Protocol):
    """The incident change stream, root-cause rankings and operator actions; reads for
    the incident API. The engine's own state is saved as versioned JSON bytes by name."""

    def write_changes(self, changes: Sequence[IncidentChange]) -> None: ...
    def write_feedback(self, feedback: Sequence[Feedback]) -> None: ...
    def record_incident_action(self, action: str, actor: str, incident_ids: Sequence[str],
                               at: datetime, detail: dict[str, Any]) -> None: ...
    def write_hypotheses(self, incident_id: str, ranked_at: datetime,
                         hypotheses: Sequence[Hypothesis]) -> None: ...
    def query_incidents(self, query: IncidentQuery) -> Page: ...
    def get_incident(self, incident_id: str, members_limit: int = DETAIL_MEMBERS,
                     timeline_limit: int = DETAIL_TIMELINE) -> Row | None: ...
    def get_incidents(self, incident_ids: Sequence[str], members_limit: int = DETAIL_MEMBERS,
                      timeline_limit: int = DETAIL_TIMELINE) -> dict[str, Row]: ...
    def incident_members(self, incident_ids: Sequence[str]) -> dict[str, list[Row]]: ...
    def query_incident_members(self, incident_id: str, limit: int,
                               cursor: str | None) -> Page: ...
    def query_incident_timeline(self, incident_id: str, limit: int,
                                cursor: str | None) -> Page: ...
    def save_engine_state(self, name: str, data: bytes) -> None: ...
    def load_engine_state(self, name: str) -> bytes | None: ...


class SilenceStore(Protocol):
    def put_silence(self, silence: Silence) -> None: ...
    def get_silence(self, silence_id: str) -> Silence | None: ...
    def list_silences(self, active_at: datetime | None = None) -> list[Silence]: ...


class EvidenceStore(Protocol):
    """What root-cause ranking reads around an incident."""

    def entity_series(self, entities: Sequence[str], start: datetime,
                      end: datetime) -> list[SeriesColumns]: ...
    def changes_between(self, entities: Sequence[str], start: datetime,
                        end: datetime) -> list[Change]: ...
    def anomalies_between(self, entities: Sequence[str], start: datetime,
                          end: datetime) -> list[Anomaly]: ...
    def topology_models(self) -> tuple[list[Entity], list[Relation]]: ...


@dataclass(frozen=True, slots=True)
class ExecutionQuery:
    """Executions of automated reactions, newest first; empty fields do not filter.

    The reaction engine's own ``AuditQuery`` has the same filter fields, so it can be
    passed where an ``ExecutionQuery`` is read (``cursor`` then defaults to none).
    """

    rule: str = ""
    action: str = ""
    status: str | None = None
    subject: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    cursor: str | None = None


class ExecutionStore(Protocol):
    """Cursor-paged reads of the reaction audit (the writes go through the engine's ports)."""

    def query_executions(self, query: ExecutionQuery) -> Page: ...


class Store(EventStore, LogStore, MetricStore, RecordStore, TopologyStore, AnomalyStore,
            TokenStore, TemplateStore, BandStore, IncidentStore, SilenceStore, EvidenceStore,
            Protocol):
    """Everything the embedded server needs, in one object. ``close`` is idempotent."""

    def apply_retention(self, now: datetime) -> dict[str, int]: ...
    def close(self) -> None: ...
