"""Metric anomaly detection: online detectors, a default ensemble and a per-series bank."""
