"""Small incident records for the language feature tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from opscope.analyze.nlp.record import IncidentRecord, OperatorAction
from opscope.model.hypothesis import Evidence, Hypothesis
from opscope.model.incident import (
    Incident,
    IncidentMember,
    IncidentStatus,
    Signal,
    SignalKind,
)

T0 = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)


def record(inc_id: str, signals: Sequence[tuple[str, str]], *, hour: float = 0.0,
           root: tuple[str, str] | None = None, anomalies: Sequence[tuple[str, str]] = (),
           impact: Sequence[str] = (), status: IncidentStatus = IncidentStatus.RESOLVED,
           resolved_by: str | None = None, merged_into: str | None = None,
           labels: dict[str, str] | None = None, tickets: Sequence[str] = (),
           acknowledged_by: str | None = None, title: str = "") -> IncidentRecord:
    """An incident made of alerts ``(name, entity)`` and anomalies, ranked to ``root``
    ``(entity, series)``; resolved 20 minutes after it opened unless open."""
    opened = T0 + timedelta(hours=hour)
    members = []
    for n, (name, entity) in enumerate([*signals, *anomalies]):
        kind = SignalKind.ALERT if n < len(signals) else SignalKind.ANOMALY
        sig = Signal(id=f"{inc_id}/{n}", kind=kind, name=name, entity=entity,
                     labels=dict(labels or {}), starts_at=opened, last_seen=opened)
        members.append(IncidentMember(incident_id=inc_id, signal=sig, joined_at=opened,
                                      reason="same entity"))
    entities = sorted({e for _, e in [*signals, *anomalies]})
    resolved = opened + timedelta(minutes=20) if status is IncidentStatus.RESOLVED else None
    inc = Incident(id=inc_id, status=status, title=title or f"{signals[0][0]} on {entities[0]}",
                   opened_at=opened, updated_at=resolved or opened, resolved_at=resolved,
                   entities=entities, impact=list(impact), signal_count=len(members),
                   firing_count=0 if resolved else len(members), merged_into=merged_into,
                   ticket_ids=list(tickets), acknowledged_by=acknowledged_by,
                   root_candidates=[root[0]] if root else [])
    hyps = []
    if root:
        hyps.append(Hypothesis(entity=root[0], signal=root[1], score=3.0, rank=1,
                               reason=f"{root[0]} moved first and its callers followed.",
                               evidence=[Evidence(kind="metric_shift",
                                                  summary=f"{root[1]} rose 8 sigma",
                                                  subject=root[1])]))
        hyps.append(Hypothesis(entity=entities[-1], score=1.0, rank=2, reason="a caller"))
    actions = [OperatorAction(resolved, "resolve", resolved_by)] \
        if resolved and resolved_by else []
    return IncidentRecord.of(inc, members, (), hyps, actions)
