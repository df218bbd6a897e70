"""Dedup, suppression and correlation of alerts and anomalies into incidents.

``CorrelationEngine`` is the entry point: notifications go through ``AlertTracker``
(identity, repeats, flapping, quiet resolve, reopen), the ``Suppressor`` (silences,
maintenance windows, inhibition; muted signals are kept and marked) and the
``IncidentCorrelator`` (linking by topology, labels, text and learned co-occurrence),
which emits the incident change stream.
"""

from opscope.analyze.correlate.config import (
    CorrelationConfig,
    DedupConfig,
    FingerprintRule,
    LinkWeights,
)
from opscope.analyze.correlate.correlator import IncidentCorrelator
from opscope.analyze.correlate.dedup import AlertTracker, AlertUpdate, UpdateKind
from opscope.analyze.correlate.engine import CorrelationEngine, CorrelationStage, EngineConfig
from opscope.analyze.correlate.learned import CoOccurrenceModel
from opscope.analyze.correlate.linker import EvidenceLinker, Link, Linker, TimeWindowLinker
from opscope.analyze.correlate.port import CorrelationStore, MemoryCorrelationStore
from opscope.analyze.correlate.schedule import CronWindows
from opscope.analyze.correlate.suppression import (
    Inhibitor,
    MaintenanceWindows,
    Silences,
    Suppression,
    Suppressor,
)
from opscope.analyze.correlate.topology import TopologyIndex

__all__ = [
    "AlertTracker", "AlertUpdate", "CoOccurrenceModel", "CorrelationConfig",
    "CorrelationEngine", "CorrelationStage", "CorrelationStore", "CronWindows", "DedupConfig",
    "EngineConfig", "EvidenceLinker", "FingerprintRule", "IncidentCorrelator", "Inhibitor",
    "Link", "LinkWeights", "Linker", "MaintenanceWindows", "MemoryCorrelationStore",
    "Silences", "Suppression", "Suppressor", "TimeWindowLinker", "TopologyIndex", "UpdateKind",
]
