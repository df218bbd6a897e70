"""Anomalies found by analysis: every one carries the evidence that supports it."""

from __future__ import annotations

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
