"""Alert dedup and lifecycle in event time: identity, repeats, flapping, quiet resolve, reopen.

The store already folds repeated notifications of one ``(source, fingerprint)`` into a
row. This layer decides what an *occurrence* is for correlation: which labels identify an
alert (per source), when a flapping alert is held firing, when silence means resolved,
and when a recurrence reopens the last occurrence rather than starting a new one.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from opscope.analyze.correlate.config import DedupConfig, FingerprintRule
from opscope.model.anomaly import Anomaly
from opscope.model.events import Event, Severity, Status, fingerprint_of
from opscope.model.incident import Signal, SignalKind

STATE_VERSION = 1


class UpdateKind(StrEnum):
    NEW = "new"
    """A new occurrence (possibly already resolved, if only its resolve was seen)."""
    REPEAT = "repeat"
    RESOLVED = "resolved"
    AUTO_RESOLVED = "auto_resolved"
    REOPENED = "reopened"
    FLAPPING = "flapping"
    """Started flapping: resolves are held until it has been quiet for the flap window."""


@dataclass(frozen=True, slots=True)
class AlertUpdate:
    kind: UpdateKind
    signal: Signal
    at: datetime


@dataclass
class _AlertState:
    source: str
    fingerprint: str
    kind: SignalKind
    name: str
    entity: str
    severity: Severity
    summary: str
    labels: dict[str, str]
    starts_at: datetime
    last_seen: datetime
    occurrence: int = 1
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    repeat_count: int = 1
    flapping: bool = False
    held_resolve: datetime | None = None
    auto_resolve: float | None = None
    transitions: deque[datetime] = field(default_factory=deque)
    version: int = 0

    def signal(self) -> Signal:
        return Signal(
            id=f"{self.source[:100]}/{self.fingerprint}#{self.occurrence}", kind=self.kind,
            source=self.source, name=self.name, fingerprint=self.fingerprint,
            entity=self.entity, severity=self.severity, summary=self.summary[:65_536],
            labels=self.labels, starts_at=self.starts_at, fired_at=self.fired_at,
            last_seen=self.last_seen,
            resolved_at=self.resolved_at, repeat_count=self.repeat_count,
            flapping=self.flapping, occurrence=self.occurrence)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "fingerprint": self.fingerprint, "kind": self.kind.value,
            "name": self.name, "entity": self.entity, "severity": self.severity.value,
            "summary": self.summary, "labels": self.labels,
            "starts_at": self.starts_at.isoformat(), "last_seen": self.last_seen.isoformat(),
            "fired_at": self.fired_at.isoformat() if self.fired_at else None,
            "occurrence": self.occurrence,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "repeat_count": self.repeat_count, "flapping": self.flapping,
            "held_resolve": self.held_resolve.isoformat() if self.held_resolve else None,
            "auto_resolve": self.auto_resolve,
            "transitions": [t.isoformat() for t in self.transitions],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> _AlertState:
        def ts(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            source=doc["source"], fingerprint=doc["fingerprint"], kind=SignalKind(doc["kind"]),
            name=doc["name"], entity=doc["entity"], severity=Severity(doc["severity"]),
            summary=doc["summary"], labels=dict(doc["labels"]),
            starts_at=datetime.fromisoformat(doc["starts_at"]),
            last_seen=datetime.fromisoformat(doc["last_seen"]), occurrence=doc["occurrence"],
            fired_at=ts(doc["fired_at"]),
            resolved_at=ts(doc["resolved_at"]), repeat_count=doc["repeat_count"],
            flapping=doc["flapping"], held_resolve=ts(doc["held_resolve"]),
            auto_resolve=doc["auto_resolve"],
            transitions=deque(datetime.fromisoformat(t) for t in doc["transitions"]))


_LOG_NAMES = {"log_new_template": "new {level}log line", "log_level_surge": "{level}log surge",
              "log_rate": "log rate change", "log_session": "abnormal sessions"}


def anomaly_name(anomaly: Anomaly) -> str:
    """What an anomaly signal is called in incidents and their titles: the metric and its
    direction for a metric anomaly ("memory_usage_bytes up"), words for a log anomaly
    ("new error log line", "error log surge"), else the anomaly's kind."""
    metric = anomaly.evidence.get("metric")
    if isinstance(metric, str) and metric:
        return f"{metric} {anomaly.direction}".strip()[:256]
    template = _LOG_NAMES.get(anomaly.kind)
    if template is not None:
        level = anomaly.evidence.get("level")
        return template.format(level=f"{level} " if isinstance(level, str) and level else "")
    return anomaly.kind


_ERROR_LEVELS = frozenset({"error", "fatal", "critical"})


def anomaly_severity(anomaly: Anomaly, default: Severity) -> Severity:
    """An anomaly's severity: error when its evidence is error-level log lines (a log
    line never seen before, or a surge, at error level or worse), else ``default``.
    Like an error alert, such an anomaly opens an incident on its own."""
    level = anomaly.evidence.get("level")
    if isinstance(level, str) and level.lower() in _ERROR_LEVELS:
        return Severity.ERROR if default.rank < Severity.ERROR.rank else default
    return default


def anomaly_fingerprint(anomaly: Anomaly) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for part in (anomaly.kind, anomaly.detector, anomaly.entity, anomaly.subject):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class AlertTracker:
    """Turns raw notifications into occurrence updates. Bounded: resolved state is forgotten
    after ``retain_resolved_minutes``, and at most ``max_alerts`` are tracked at once (the
    least recently seen is evicted: resolved and forgotten, see :meth:`take_evicted`);
    timers live in one heap, so ``advance`` costs only the work that is due."""

    def __init__(self, config: DedupConfig | None = None,
                 anomaly_severity: Severity = Severity.WARNING,
                 anomaly_hold_minutes: float = 10.0) -> None:
        self.config = config or DedupConfig()
        self.anomaly_severity = anomaly_severity
        self.anomaly_hold = anomaly_hold_minutes * 60.0
        # Least recently seen first: the order eviction takes them in.
        self._states: OrderedDict[tuple[str, str], _AlertState] = OrderedDict()
        self._timers: list[tuple[datetime, int, tuple[str, str], int]] = []
        self._seq = 0
        self._evicted: list[AlertUpdate] = []
        self.evicted = 0
        """Alerts forgotten because ``max_alerts`` were tracked (since start)."""

    # -- identity ----------------------------------------------------------------------

    def rule_for(self, source: str) -> FingerprintRule | None:
        for rule in self.config.rules:
            if rule.source in (source, "*"):
                return rule
        return None

    def key_of(self, event: Event) -> tuple[tuple[str, str], FingerprintRule | None]:
        rule = self.rule_for(event.source)
        fp = event.fingerprint
        if rule is not None and rule.labels is not None:
            kept = {k: event.labels[k] for k in rule.labels if k in event.labels}
            fp = fingerprint_of(event.source, event.name, event.entity, kept)
        return (event.source, fp), rule

    # -- notifications -----------------------------------------------------------------

    def observe(self, event: Event, seen: datetime | None = None) -> AlertUpdate | None:
        """Fold one notification in. ``seen`` is its event time (default: received_at,
        else the resolve time or start time it carries)."""
        key, rule = self.key_of(event)
        resolving = event.status is Status.RESOLVED
        when = seen or event.received_at or (
            event.ends_at if resolving and event.ends_at else event.starts_at)
        auto = rule.auto_resolve_minutes * 60.0 if rule and rule.auto_resolve_minutes else None
        return self._apply(key, SignalKind.ALERT, event.name, event.entity, event.severity,
                           event.summary, dict(event.labels), event.starts_at, when,
                           (event.ends_at or when) if resolving else None, auto)

    def observe_anomaly(self, anomaly: Anomaly) -> AlertUpdate | None:
        """Anomalies fire at their onset and resolve after ``anomaly_hold_minutes`` unless
        the same detector reports the same subject again."""
        key = (f"anomaly:{anomaly.detector or anomaly.kind}"[:256], anomaly_fingerprint(anomaly))
        labels = {"detector": anomaly.detector, "subject": anomaly.subject[:4096]}
        return self._apply(key, SignalKind.ANOMALY, anomaly_name(anomaly), anomaly.entity,
                           anomaly_severity(anomaly, self.anomaly_severity), anomaly.summary,
                           labels, anomaly.ts,
                           anomaly.ts, None, self.anomaly_hold)

    def _apply(self, key: tuple[str, str], kind: SignalKind, name: str, entity: str,
               severity: Severity, summary: str, labels: dict[str, str], starts_at: datetime,
               when: datetime, resolve_at: datetime | None,
               auto: float | None) -> AlertUpdate | None:
        st = self._states.get(key)
        reopen = timedelta(minutes=self.config.reopen_minutes)
        if st is None or (st.resolved_at is not None and when > st.resolved_at + reopen):
            occurrence = 1 if st is None else st.occurrence + 1
            st = _AlertState(source=key[0], fingerprint=key[1], kind=kind, name=name,
                             entity=entity, severity=severity, summary=summary, labels=labels,
                             starts_at=starts_at,
                             last_seen=when, occurrence=occurrence, resolved_at=resolve_at,
                             auto_resolve=auto)
            self._states.pop(key, None)
            self._evict_for_one(when)
            self._states[key] = st
            self._arm(st)
            return AlertUpdate(UpdateKind.NEW, st.signal(), when)
        self._states.move_to_end(key)
        st.last_seen = max(st.last_seen, when)
        st.severity, st.summary, st.labels, st.auto_resolve = severity, summary, labels, auto
        if resolve_at is None:
            return self._fire(st, when)
        return self._resolve(st, when, resolve_at)

    def _evict_for_one(self, at: datetime) -> None:
        """Make room for one more alert. A firing alert that is evicted is resolved at
        ``at`` (its last news is older than any other's) so that its incident is not held
        open by an alert nobody tracks any more."""
        while len(self._states) >= self.config.max_alerts:
            _, st = self._states.popitem(last=False)
            self.evicted += 1
            if st.resolved_at is None:
                st.resolved_at, st.held_resolve = max(at, st.last_seen), None
                self._evicted.append(AlertUpdate(UpdateKind.AUTO_RESOLVED, st.signal(), at))

    def take_evicted(self) -> list[AlertUpdate]:
        """The resolves caused by eviction since the last call (for correlation)."""
        out, self._evicted = self._evicted, []
        return out

    def _fire(self, st: _AlertState, when: datetime) -> AlertUpdate:
        st.repeat_count += 1
        if st.resolved_at is None and st.held_resolve is None:
            self._arm(st)
            return AlertUpdate(UpdateKind.REPEAT, st.signal(), when)
        if st.held_resolve is not None:  # a flapping alert fired again while held
            st.held_resolve = None
            self._transition(st, when)
            self._arm(st)
            return AlertUpdate(UpdateKind.REPEAT, st.signal(), when)
        st.resolved_at = None
        st.fired_at = when
        newly_flapping = self._transition(st, when)
        self._arm(st)
        kind = UpdateKind.FLAPPING if newly_flapping else UpdateKind.REOPENED
        return AlertUpdate(kind, st.signal(), when)

    def _resolve(self, st: _AlertState, when: datetime,
                 resolve_at: datetime) -> AlertUpdate | None:
        if st.resolved_at is not None or st.held_resolve is not None:
            st.repeat_count += 1
            return None
        newly_flapping = self._transition(st, when)
        if st.flapping:
            st.held_resolve = resolve_at
            self._arm(st)
            return AlertUpdate(UpdateKind.FLAPPING, st.signal(), when) if newly_flapping \
                else None
        st.resolved_at = resolve_at
        self._arm(st)
        return AlertUpdate(UpdateKind.RESOLVED, st.signal(), when)

    def _transition(self, st: _AlertState, when: datetime) -> bool:
        """Record a state change; return True if it made the alert start flapping."""
        window = timedelta(minutes=self.config.flap_window_minutes)
        st.transitions.append(when)
        while st.transitions and st.transitions[0] < when - window:
            st.transitions.popleft()
        if not st.flapping and len(st.transitions) >= self.config.flap_threshold:
            st.flapping = True
            return True
        return False

    # -- timers ------------------------------------------------------------------------

    def _deadline(self, st: _AlertState) -> datetime | None:
        if st.resolved_at is not None:
            return st.resolved_at + timedelta(minutes=self.config.retain_resolved_minutes)
        deadlines = []
        if st.flapping:
            last = st.transitions[-1] if st.transitions else st.last_seen
            deadlines.append(last + timedelta(minutes=self.config.flap_window_minutes))
        if st.auto_resolve is not None and st.held_resolve is None:
            deadlines.append(st.last_seen + timedelta(seconds=st.auto_resolve))
        return min(deadlines) if deadlines else None

    def _arm(self, st: _AlertState) -> None:
        # Versions are unique across states: an alert evicted or forgotten and then seen
        # again must not be woken by the timers of its former state.
        self._seq += 1
        st.version = self._seq
        deadline = self._deadline(st)
        if deadline is not None:
            heapq.heappush(self._timers, (deadline, self._seq, (st.source, st.fingerprint),
                                          st.version))

    def advance(self, now: datetime) -> list[AlertUpdate]:
        """Run every timer due by ``now``: quiet resolves, flap releases, forgetting."""
        out: list[AlertUpdate] = []
        while self._timers and self._timers[0][0] <= now:
            deadline, _, key, version = heapq.heappop(self._timers)
            st = self._states.get(key)
            if st is None or st.version != version:
                continue  # superseded by a later notification
            update = self._expire(st, deadline)
            if update is not None:
                out.append(update)
        return out

    def _expire(self, st: _AlertState, deadline: datetime) -> AlertUpdate | None:
        key = (st.source, st.fingerprint)
        if st.resolved_at is not None:
            del self._states[key]
            return None
        if st.flapping:
            last = st.transitions[-1] if st.transitions else st.last_seen
            quiet_end = last + timedelta(minutes=self.config.flap_window_minutes)
            if deadline >= quiet_end:
                st.flapping = False
                st.transitions.clear()
                if st.held_resolve is not None:
                    st.resolved_at, st.held_resolve = st.held_resolve, None
                    self._arm(st)
                    return AlertUpdate(UpdateKind.RESOLVED, st.signal(), deadline)
                self._arm(st)
                return AlertUpdate(UpdateKind.REPEAT, st.signal(), deadline)
        if st.auto_resolve is not None and st.held_resolve is None:
            quiet = st.last_seen + timedelta(seconds=st.auto_resolve)
            if deadline >= quiet:
                st.resolved_at = quiet
                self._arm(st)
                return AlertUpdate(UpdateKind.AUTO_RESOLVED, st.signal(), deadline)
        self._arm(st)
        return None

    # -- views and state ---------------------------------------------------------------

    def get(self, source: str, fingerprint: str) -> Signal | None:
        st = self._states.get((source, fingerprint))
        return None if st is None else st.signal()

    def firing(self) -> list[Signal]:
        return [st.signal() for st in self._states.values() if st.resolved_at is None]

    def __len__(self) -> int:
        return len(self._states)

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION,
                "alerts": [st.to_json() for st in self._states.values()]}

    def load_json(self, doc: dict[str, Any]) -> None:
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported dedup state version {doc.get('version')!r}")
        self._states.clear()
        self._timers.clear()
        # Saved least recently seen first. A cap smaller than the saved state keeps the
        # most recent; the others are evicted as at runtime (resolved, counted).
        for item in doc["alerts"]:
            st = _AlertState.from_json(item)
            self._evict_for_one(st.last_seen)
            self._states[(st.source, st.fingerprint)] = st
            self._arm(st)
