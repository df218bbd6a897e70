"""Incidents and what shapes them: signals, suppressions, members, timeline, change stream.

An incident groups signals (alerts and anomalies) that share one cause. Everything here is
a frozen snapshot; the correlation engine in ``opscope.analyze.correlate`` owns the live
state and emits :class:`IncidentChange` records that stores and subscribers consume.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from opscope.model.base import Labels, Name, Record, Text, UtcDatetime
from opscope.model.events import Severity


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class Matcher(Record):
    """A Prometheus-style label matcher. Regexes are anchored, as in Alertmanager.

    Besides labels, the pseudo labels ``alertname``/``name``, ``entity``, ``source``,
    ``severity`` and ``kind`` match the signal's own fields.
    """

    name: Name = Field(description="Label to test.")
    op: MatchOp = Field(default=MatchOp.EQUAL, description="=, !=, =~ or !~.")
    value: str = Field(default="", max_length=4096, description="Value or anchored regex.")


class SignalKind(StrEnum):
    ALERT = "alert"
    ANOMALY = "anomaly"


class Signal(Record):
    """One alert or anomaly as correlation sees it, after dedup.

    ``id`` is stable for one occurrence of an alert: repeats and flaps keep it, a new
    occurrence after the reopen window gets a new one.
    """

    id: Name = Field(description="Occurrence id, e.g. '<source>/<fingerprint>#<n>'.")
    kind: SignalKind = SignalKind.ALERT
    source: str = Field(default="", max_length=256)
    name: Name = Field(description="Alert name or anomaly kind.")
    fingerprint: str = Field(default="", max_length=128)
    entity: str = Field(default="", max_length=256)
    severity: Severity = Severity.WARNING
    summary: Text = ""
    labels: Labels = Field(default_factory=dict)
    starts_at: UtcDatetime = Field(description="When the occurrence began, in event time.")
    fired_at: UtcDatetime | None = Field(
        default=None, description="When it last started firing (later than starts_at once "
                                  "reopened); None means starts_at.")
    last_seen: UtcDatetime = Field(description="Latest notification, in event time.")
    resolved_at: UtcDatetime | None = None
    repeat_count: int = Field(default=1, ge=1, description="Notifications folded into it.")
    flapping: bool = False
    occurrence: int = Field(default=1, ge=1, description="How many times it (re)started.")

    @property
    def firing(self) -> bool:
        return self.resolved_at is None

    @property
    def since(self) -> datetime:
        """Start of the current firing spell."""
        return self.fired_at or self.starts_at

    @property
    def type_key(self) -> str:
        """What kind of thing fired where: the unit of learned co-occurrence."""
        return f"{self.name}@{self.entity}"


class Mute(Record):
    """Why a signal is suppressed. Suppressed signals are kept, never dropped."""

    kind: Name = Field(description="silence, maintenance or inhibition.")
    id: str = Field(default="", max_length=256, description="Id of the rule that mutes.")
    reason: str = Field(default="", max_length=1024, description="One line a person can read.")


class Silence(Record):
    """Mutes matching signals between ``starts_at`` and ``ends_at``."""

    id: Name
    matchers: list[Matcher] = Field(min_length=1, description="All must match.")
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    created_by: str = Field(default="", max_length=256)
    comment: str = Field(default="", max_length=2048)

    @model_validator(mode="after")
    def _order(self) -> Silence:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class MaintenanceWindow(Record):
    """A recurring window (cron-like schedule, duration, time zone) muting matching signals."""

    id: Name
    matchers: list[Matcher] = Field(min_length=1, description="All must match.")
    schedule: str = Field(
        min_length=9, max_length=256,
        description="Five cron fields 'minute hour day-of-month month day-of-week' giving "
                    "when each window starts, e.g. '0 2 * * sun' (Sundays 02:00).")
    duration_minutes: float = Field(gt=0, le=7 * 24 * 60, description="Length of each window.")
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone of the schedule.")
    active_from: UtcDatetime | None = Field(default=None, description="No window before this.")
    active_until: UtcDatetime | None = Field(default=None, description="No window after this.")
    created_by: str = Field(default="", max_length=256)
    comment: str = Field(default="", max_length=2048)


class InhibitRule(Record):
    """While a signal matching ``source_matchers`` fires, mute signals matching
    ``target_matchers`` that carry the same values for every name in ``equal``."""

    id: Name
    source_matchers: list[Matcher] = Field(min_length=1)
    target_matchers: list[Matcher] = Field(min_length=1)
    equal: list[str] = Field(
        default_factory=lambda: ["entity"],
        description="Labels (or pseudo labels such as 'entity') that must be equal.")
    comment: str = Field(default="", max_length=2048)


class IncidentStatus(StrEnum):
    PENDING = "pending"
    """Gathering signals; not yet past the min-signals / min-severity gate."""
    OPEN = "open"
    RESOLVED = "resolved"
    MERGED = "merged"
    """Folded into another incident by an operator (``merged_into``)."""


class Incident(Record):
    id: Name
    status: IncidentStatus = IncidentStatus.PENDING
    title: str = Field(default="", max_length=1024)
    severity: Severity = Severity.WARNING
    opened_at: UtcDatetime = Field(description="First signal's start, in event time.")
    updated_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    entities: list[str] = Field(default_factory=list, description="Affected entities, sorted.")
    impact: list[str] = Field(
        default_factory=list,
        description="User-facing services affected (directly or through the call graph).")
    root_candidates: list[str] = Field(
        default_factory=list,
        description="Affected entities that depend on no other affected entity: where "
                    "root-cause ranking should look first.")
    signal_count: int = Field(default=0, ge=0, description="Members that count (not muted).")
    muted_count: int = Field(default=0, ge=0, description="Suppressed members kept visible.")
    firing_count: int = Field(default=0, ge=0)
    group: Labels = Field(default_factory=dict, description="Shared group_by label values.")
    recurrence_of: str | None = Field(
        default=None, description="A resolved incident this one repeats.")
    merged_into: str | None = None
    acknowledged_by: str | None = None
    ticket_ids: list[str] = Field(default_factory=list)


class IncidentMember(Record):
    """One signal's place in an incident, with why it joined."""

    incident_id: Name
    signal: Signal
    joined_at: UtcDatetime
    score: float = Field(default=1.0, description="Link strength when it joined (0..1).")
    reason: str = Field(default="", max_length=1024, description="Why it joined.")
    muted_by: list[Mute] = Field(default_factory=list)


class TimelineKind(StrEnum):
    OPENED = "opened"
    SIGNAL_ADDED = "signal_added"
    SIGNAL_RESOLVED = "signal_resolved"
    SEVERITY_CHANGED = "severity_changed"
    RESOLVED = "resolved"
    MERGED = "merged"
    SPLIT = "split"
    ACKNOWLEDGED = "acknowledged"
    TICKET_LINKED = "ticket_linked"
    CAUSE_CHANGED = "cause_changed"


class TimelineEntry(Record):
    incident_id: Name
    ts: UtcDatetime
    kind: TimelineKind
    summary: str = Field(default="", max_length=2048)
    signal_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class ChangeKind(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    RESOLVED = "resolved"


class IncidentChange(Record):
    """One entry of the incident event stream: the incident as it now is, plus what's new.

    A store upserts ``incident`` and ``members`` and appends ``timeline``; subscribers
    (root-cause ranking, reactions) look at ``kind``.
    """

    seq: int = Field(ge=0, description="Position in the stream; increases by one.")
    kind: ChangeKind
    ts: UtcDatetime
    incident: Incident
    members: list[IncidentMember] = Field(
        default_factory=list, description="Members added or changed by this change.")
    removed_signal_ids: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)


class FeedbackKind(StrEnum):
    MERGE = "merge"
    SPLIT = "split"


class Feedback(Record):
    """An operator's correction, kept so that learned correlation can use it."""

    kind: FeedbackKind
    ts: UtcDatetime
    actor: str = Field(default="", max_length=256)
    incident_ids: list[str] = Field(min_length=1)
    together: list[list[str]] = Field(
        default_factory=list,
        description="Groups of signal type keys ('name@entity') the operator put together.")
    apart: list[list[str]] = Field(
        default_factory=list,
        description="Two groups of type keys the operator separated (split only).")
