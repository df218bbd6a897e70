"""Caps on metric analysis state: the series in the bank and the results waiting for a
failing store stay under their caps, and what is evicted is counted."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from opscope.analyze.metrics import BankConfig
from opscope.analyze.metrics import stage as stage_module
from opscope.analyze.metrics.bank import SeriesDetectorBank
from opscope.analyze.metrics.stage import BandRow, MetricAnalysisStage
from opscope.errors import StorageError
from opscope.model import Anomaly

T0 = datetime(2026, 3, 2, tzinfo=UTC)


class BrokenStore:
    def append_bands(self, bands: Sequence[BandRow]) -> None:
        raise StorageError("disk full")

    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> None:
        raise StorageError("disk full")


def test_bank_stays_at_capacity_and_counts_evicted_series() -> None:
    bank = SeriesDetectorBank(BankConfig(capacity=10))
    for i in range(25):
        bank.score_arrays([f"s{i}", "s0"], [float(i), float(i)], [1.0, 1.0])
        assert len(bank) <= 10
    assert len(bank) == 10
    assert bank.evicted == 15  # s0 is refreshed with every batch and never evicted
    assert "s0" in bank._slots and "s1" not in bank._slots


def test_anomalies_waiting_for_a_broken_store_are_capped_and_counted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stage_module, "_PENDING_ANOMALY_LIMIT", 3)
    stage = MetricAnalysisStage(BrokenStore())
    stage._pending.anomalies.extend(
        Anomaly(kind="metric", entity="api", subject=f"s{i}", ts=T0, score=0.9)
        for i in range(5))
    with pytest.raises(StorageError):
        stage.process([])
    assert [a.subject for a in stage._pending.anomalies] == ["s2", "s3", "s4"]
    assert stage.counters.anomalies_dropped == 2
