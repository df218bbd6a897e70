"""The topology: entities (services, hosts, databases, queues) and their relations."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from opscope.model.base import Labels, Name, Record


class RelationKind(StrEnum):
    CALLS = "calls"
    DEPENDS_ON = "depends_on"
    RUNS_ON = "runs_on"
    CONSUMES = "consumes"
    """``source`` drains the queue ``target``: the queue's backlog is its consumer's
    symptom (a slow consumer makes it grow), not the other way round."""


class Entity(Record):
    id: Name
    kind: str = Field(default="service", min_length=1, max_length=64,
                      description="service, host, database, cache, queue, ...")
    name: str = Field(default="", max_length=256)
    labels: Labels = Field(default_factory=dict)


class Relation(Record):
    """A directed edge: ``source`` calls / depends on / runs on ``target``."""

    source: Name
    target: Name
    kind: RelationKind = RelationKind.CALLS
