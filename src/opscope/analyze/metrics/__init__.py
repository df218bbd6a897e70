"""Metric anomaly detection: online detectors, a default ensemble and per-series banks.

A pipeline stage hands batches of ``MetricSample`` to a ``SeriesDetectorBank`` (one
detector state per series) and gets ``Anomaly`` records back, each with the expected value
and band a chart draws; ``EntityDetectorBank`` does the same for several series of one
entity scored together. Detectors are found by name through ``registry``.
"""

from opscope.analyze.metrics.alarm import AlarmConfig, AlarmRules
from opscope.analyze.metrics.bank import BankConfig, BankScores, SeriesDetectorBank
from opscope.analyze.metrics.detector import Context, Detector, DetectorConfig, Scored, Step
from opscope.analyze.metrics.entity_bank import EntityBankConfig, EntityDetectorBank
from opscope.analyze.metrics.registry import create, detector_class, register

__all__ = [
    "AlarmConfig", "AlarmRules", "BankConfig", "BankScores", "Context", "Detector",
    "DetectorConfig", "EntityBankConfig", "EntityDetectorBank", "Scored", "SeriesDetectorBank",
    "Step", "create", "detector_class", "register",
]
