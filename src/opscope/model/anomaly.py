"""Anomalies found by analysis: every one carries the evidence that supports it."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field

from opscope.model.base import Name, Record, UtcDatetime


class Anomaly(Record):
    id: str = Field(default="", max_length=128)
    kind: Name = Field(description="metric, log_new_template, log_rate, log_session, ...")
    detector: str = Field(default="", max_length=128)
    entity: str = Field(default="", max_length=256)
    subject: str = Field(default="", max_length=512, description="Series id, template id, ...")
    ts: UtcDatetime = Field(description="Onset, in event time.")
    score: float = 0.0
    value: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    direction: str = Field(default="", max_length=16, description="up, down or empty.")
    summary: str = Field(default="", max_length=2048)
    evidence: dict[str, Any] = Field(default_factory=dict)


class Verdict(StrEnum):
    FALSE_ALARM = "false_alarm"
    CONFIRMED = "confirmed"


class AnomalyVerdict(Record):
    """An operator's judgement of one anomaly, kept as a label for evaluation and
    learning. A false alarm on a metric series also teaches that series' detector to
    tolerate a surprise of that size from the member that raised it."""

    anomaly_id: str = Field(min_length=1, max_length=128)
    verdict: Verdict
    ts: UtcDatetime = Field(description="When the verdict was given.")
    actor: str = Field(default="", max_length=256)
    note: str = Field(default="", max_length=2048)
