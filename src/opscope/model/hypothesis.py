"""Root-cause hypotheses: a ranked suspect with the evidence for its place in the ranking."""

from __future__ import annotations

from pydantic import Field

from opscope.model.base import Name, Record, UtcDatetime


class Evidence(Record):
    """One fact that supports (or weighs on) a hypothesis."""

    kind: Name = Field(
        description="metric_shift, onset, topology, change, log, anomaly, target_link, ..."
    )
    summary: str = Field(max_length=2048, description="One line a person can read.")
    subject: str = Field(
        default="", max_length=512, description="Series, change id or template it is about."
    )
    value: float | None = Field(default=None, description="The number behind the fact.")
    ts: UtcDatetime | None = Field(default=None, description="When it happened, in event time.")


class Hypothesis(Record):
    """A candidate root cause: an entity and the signal on it that points there."""

    entity: Name = Field(description="The service, host or component suspected.")
    signal: str = Field(
        default="", max_length=512, description="The series on the entity that moved most."
    )
    score: float = Field(description="Higher is more likely; comparable within one ranking.")
    rank: int = Field(ge=1, description="1 is the most likely cause.")
    evidence: list[Evidence] = Field(default_factory=list)
    reason: str = Field(
        default="", max_length=1024, description="One sentence saying why it ranks here."
    )
