"""Tickets and change records (deploys, config changes)."""

from __future__ import annotations

from pydantic import Field

from opscope.model.base import Labels, Name, Record, Text, UtcDatetime


class Ticket(Record):
    id: Name
    title: Text = Field(min_length=1, max_length=1024)
    description: Text = ""
    status: str = Field(default="open", max_length=64)
    priority: str = Field(default="", max_length=64)
    entity: str = Field(default="", max_length=256)
    created_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    resolution: Text = ""
    labels: Labels = Field(default_factory=dict)


class Change(Record):
    """Something people or tools changed: a deploy, a config change, a feature flag."""

    id: str = Field(default="", max_length=256, description="Derived if empty.")
    entity: Name
    kind: str = Field(default="deploy", min_length=1, max_length=64)
    version: str = Field(default="", max_length=256)
    author: str = Field(default="", max_length=256)
    ts: UtcDatetime
    description: Text = ""
    labels: Labels = Field(default_factory=dict)
