"""One batch of every item type the application publishes, keyed by topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from opscope.model import (
    Anomaly,
    Change,
    Entity,
    Event,
    LogRecord,
    MetricSample,
    Relation,
    RelationKind,
    Severity,
    Ticket,
)
from opscope.model.incident import (
    ChangeKind,
    Incident,
    IncidentChange,
    IncidentMember,
    IncidentStatus,
    Signal,
    TimelineEntry,
    TimelineKind,
)

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _incident_change() -> IncidentChange:
    signal = Signal(id="am/abc#1", name="HighLatency", entity="checkout",
                    severity=Severity.CRITICAL, labels={"env": "prod"}, starts_at=T0,
                    last_seen=T0 + timedelta(seconds=30))
    incident = Incident(id="inc-1", status=IncidentStatus.OPEN, title="checkout slow",
                        severity=Severity.CRITICAL, opened_at=T0, updated_at=T0,
                        entities=["checkout", "db"], signal_count=1, group={"env": "prod"})
    return IncidentChange(
        seq=7, kind=ChangeKind.OPENED, ts=T0, incident=incident,
        members=[IncidentMember(incident_id="inc-1", signal=signal, joined_at=T0,
                                score=0.75, reason="same entity")],
        timeline=[TimelineEntry(incident_id="inc-1", ts=T0, kind=TimelineKind.OPENED,
                                summary="opened", data={"signals": ["am/abc#1"], "n": 1})])


# One batch per topic the application publishes on, with the item type it carries there.
BATCHES: dict[str, list[Any]] = {
    "events": [Event(source="alertmanager", name="HighLatency", entity="checkout",
                     severity=Severity.CRITICAL, labels={"a": "b"},
                     annotations={"summary": "p99 > 1s"}, starts_at=T0),
               Event(source="zabbix", name="DiskFull", starts_at=T0, ends_at=T0)],
    "logs": [LogRecord(ts=T0, message="GET /cart 500 in 1.2s \u00e9\u2603", source="syslog",
                       entity="checkout", attributes={"pid": "42"}, params=["500"])],
    "metrics": [MetricSample(name="http_requests_total", labels={"service": "checkout"},
                             value=1.5e300, ts=T0),
                MetricSample(name="up", value=0.0, ts=T0 + timedelta(microseconds=1))],
    "anomalies": [Anomaly(id="an-1", kind="metric", detector="robust_z", entity="checkout",
                          subject="1234abcd", ts=T0, score=4.2, value=12.0, expected=3.0,
                          lower=1.0, upper=5.0, direction="up", summary="latency up",
                          evidence={"metric": "latency", "labels": {"service": "checkout"}})],
    "incidents": [_incident_change()],
    "tickets": [Ticket(id="T-1", title="checkout down", created_at=T0, labels={"x": "y"})],
    "changes": [Change(id="c-1", entity="checkout", version="1.2.3", author="ci", ts=T0)],
    "topology": [([Entity(id="checkout", labels={"team": "web"}), Entity(id="db",
                                                                         kind="database")],
                  [Relation(source="checkout", target="db", kind=RelationKind.DEPENDS_ON)])],
    "entities": [Entity(id="checkout")],
    "relations": [Relation(source="a", target="b")],
}
