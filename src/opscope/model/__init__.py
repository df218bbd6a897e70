"""Frozen domain types. No I/O here: these are what every other package speaks."""

from opscope.model.anomaly import Anomaly, AnomalyVerdict, Verdict
from opscope.model.events import Event, Severity, Status, fingerprint_of, parse_severity
from opscope.model.hypothesis import Evidence, Hypothesis
from opscope.model.logs import Level, LogRecord, parse_level
from opscope.model.metrics import MetricSample, entity_of, series_id
from opscope.model.records import Change, Ticket
from opscope.model.topology import Entity, Relation, RelationKind

__all__ = [
    "Anomaly", "AnomalyVerdict", "Change", "Entity", "Event", "Evidence", "Hypothesis",
    "Level", "LogRecord", "MetricSample", "Relation",
    "RelationKind", "Severity", "Status", "Ticket", "Verdict", "entity_of", "fingerprint_of",
    "parse_level", "parse_severity", "series_id",
]
