"""Event-time helpers shared by the correlation tests: minutes after T0 and alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opscope.model import Event

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def fire(name: str, entity: str, minute: float, severity: str = "warning",
         **labels: str) -> Event:
    return Event(source="am", name=name, entity=entity, severity=severity, labels=labels,
                 starts_at=m(minute))
