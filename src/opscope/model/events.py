"""Alerts and events from monitors."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator, model_validator

from opscope.model.base import Labels, Name, Record, Text, UtcDatetime


class Status(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.CRITICAL: 3, Severity.ERROR: 2, Severity.WARNING: 1, Severity.INFO: 0}

# Spellings monitors use in the wild, folded onto the four levels.
SEVERITY_ALIASES: dict[str, Severity] = {
    "critical": Severity.CRITICAL, "crit": Severity.CRITICAL, "page": Severity.CRITICAL,
    "fatal": Severity.CRITICAL, "emergency": Severity.CRITICAL, "disaster": Severity.CRITICAL,
    "p1": Severity.CRITICAL, "high": Severity.ERROR, "error": Severity.ERROR,
    "err": Severity.ERROR, "major": Severity.ERROR, "p2": Severity.ERROR,
    "warning": Severity.WARNING, "warn": Severity.WARNING, "minor": Severity.WARNING,
    "medium": Severity.WARNING, "average": Severity.WARNING, "p3": Severity.WARNING,
    "info": Severity.INFO, "informational": Severity.INFO, "low": Severity.INFO,
    "none": Severity.INFO, "ok": Severity.INFO, "notice": Severity.INFO, "p4": Severity.INFO,
    "p5": Severity.INFO, "debug": Severity.INFO,
}


def parse_severity(value: object, default: Severity | None = None) -> Severity:
    """Fold a monitor's severity spelling onto the four levels."""
    if isinstance(value, Severity):
        return value
    if isinstance(value, str):
        found = SEVERITY_ALIASES.get(value.strip().lower())
        if found is not None:
            return found
    if default is not None:
        return default
    allowed = ", ".join(s.value for s in Severity)
    raise ValueError(f"unknown severity {value!r}; use one of {allowed} (or a common alias)")


def fingerprint_of(source: str, name: str, entity: str, labels: dict[str, str]) -> str:
    """A stable identity for an alert when the sender gives none: same labels, same alert."""
    # One joined string and one hash call: this runs for every generic event ingested.
    parts = [source, name, entity]
    parts += [f"{key}={labels[key]}" for key in sorted(labels)]
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=8).hexdigest()


class Event(Record):
    """One alert or event as a monitor reports it.

    The pair ``(source, fingerprint)`` is the alert's identity: posting it again updates
    the stored event (status, end time, repeat count) instead of adding a second one.
    """

    source: Name = Field(description="The system that sent it, e.g. 'alertmanager'.")
    name: Name = Field(description="What fired, e.g. the alert name 'HighLatency'.")
    fingerprint: str = Field(
        default="", max_length=128,
        description="Identity of the alert; derived from source, name, entity and labels if empty.",
    )
    status: Status = Status.FIRING
    severity: Severity = Severity.WARNING
    entity: str = Field(
        default="", max_length=256,
        description="The service, host or component the alert is about.",
    )
    summary: Text = ""
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None = None
    received_at: UtcDatetime | None = None

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: Any) -> Severity:
        return parse_severity(value)

    @model_validator(mode="after")
    def _derive(self) -> Event:
        if not self.fingerprint:
            fp = fingerprint_of(self.source, self.name, self.entity, self.labels)
            object.__setattr__(self, "fingerprint", fp)
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        return self

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.fingerprint)

    def resolved_at(self) -> datetime | None:
        return self.ends_at if self.status is Status.RESOLVED else None
