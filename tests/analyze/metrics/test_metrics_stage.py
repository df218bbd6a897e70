"""The metric analysis stage: samples in; anomalies stored and published, bands written,
detector state saved and restored."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opscope.analyze.metrics import BankConfig
from opscope.analyze.metrics.stage import (
    BandRow,
    MetricAnalysisStage,
    load_state,
    save_state,
)
from opscope.errors import Overloaded, StorageError
from opscope.model import Anomaly, MetricSample, series_id

T0 = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
DAY = 288  # five-minute samples per day
SPIKE = 3 * DAY  # the first sample of the fourth day
LABELS = {"service": "api", "instance": "a1"}
SID = series_id("cpu", LABELS)


class MemoryStore:
    """Records what the stage writes; ``fail`` makes the next writes raise."""

    def __init__(self) -> None:
        self.bands: list[BandRow] = []
        self.anomalies: list[Anomaly] = []
        self.fail = 0

    def _check(self) -> None:
        if self.fail:
            self.fail -= 1
            raise StorageError("disk full")

    def append_bands(self, bands: Sequence[BandRow]) -> None:
        self._check()
        self.bands.extend(bands)

    def append_anomalies(self, anomalies: Sequence[Anomaly]) -> None:
        self._check()
        self.anomalies.extend(anomalies)


def seasonal(n: int, spike_at: int | None = SPIKE, seed: int = 3) -> list[MetricSample]:
    rng = np.random.default_rng(seed)
    values = 50 + 20 * np.sin(2 * np.pi * np.arange(n) / DAY) + rng.normal(0, 1, n)
    if spike_at is not None and spike_at < n:
        values[spike_at] += 60
    return [MetricSample(name="cpu", labels=LABELS, value=float(v), ts=T0 + i * STEP)
            for i, v in enumerate(values)]


def batches(samples: list[MetricSample], size: int = 100) -> list[list[MetricSample]]:
    return [samples[i:i + size] for i in range(0, len(samples), size)]


def run(stage: MetricAnalysisStage, samples: list[MetricSample]) -> list[Anomaly]:
    found: list[Anomaly] = []
    for batch in batches(samples):
        found += stage.process(batch)
    return found


def test_spike_becomes_one_stored_and_published_anomaly() -> None:
    store, published = MemoryStore(), list[Anomaly]()
    stage = MetricAnalysisStage(store, publish=published.extend, band_step=300)
    found = run(stage, seasonal(SPIKE + 20))

    assert len(found) == 1 and store.anomalies == found and published == found
    anomaly = found[0]
    spike = seasonal(SPIKE + 1)[SPIKE]
    assert anomaly.kind == "metric" and anomaly.detector == "ensemble"
    assert anomaly.subject == SID and anomaly.entity == "api"
    assert anomaly.ts == spike.ts and anomaly.value == pytest.approx(spike.value)
    assert anomaly.direction == "up" and 0.5 <= anomaly.score < 1
    assert anomaly.lower is not None and anomaly.upper is not None
    assert anomaly.expected is not None
    # The expected value is the daily shape (about 50 at this phase), not the spike.
    assert anomaly.lower < anomaly.expected < anomaly.upper < anomaly.value
    assert abs(anomaly.expected - 50) < 5
    level = anomaly.evidence.pop("driver_level")
    # A spike of one sample beyond anything the series has shown is range novelty's: the
    # seasonal view waits for a departure to last into a second five-minute window.
    assert anomaly.evidence == {
        "metric": "cpu", "labels": LABELS, "driver": "range",
        "driver_text": "outside the range it has shown", "driver_index": 2,
    }
    # Range novelty's own score: how far beyond the known range, in units of the range,
    # far above its reference of 0.5.
    assert level > 1.0
    assert stage.counters.samples == SPIKE + 20 and stage.counters.anomalies == 1


class VerdictStore(MemoryStore):
    """Also hands out false-alarm verdicts after a sequence number, as the store does."""

    def __init__(self) -> None:
        super().__init__()
        self.verdicts: list[dict[str, Any]] = []  # seq, anomaly_id, kind, subject, ...
        self.reads = 0

    def false_alarms_after(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        self.reads += 1
        self._check()
        newer = [v for v in self.verdicts if v["seq"] > after][:limit]
        return ([v for v in newer if v["verdict"] == "false_alarm"],
                max((v["seq"] for v in newer), default=after))

    def judge(self, anomaly: Anomaly, verdict: str = "false_alarm") -> None:
        self.verdicts.append({
            "seq": len(self.verdicts) + 1, "verdict": verdict, "anomaly_id": "a",
            "kind": anomaly.kind, "subject": anomaly.subject,
            "anomaly_ts": anomaly.ts.isoformat().replace("+00:00", "Z"),
            "evidence": anomaly.evidence})


def tolerance(stage: MetricAnalysisStage, anomaly: Anomaly) -> float:
    slot = stage.bank._slots[anomaly.subject]
    return float(stage.bank.detector.arr(f"tolerance{anomaly.evidence['driver_index']}")[slot])


def test_false_alarm_verdicts_are_read_from_the_store_and_saved_with_the_state(
        tmp_path: Path) -> None:
    store = VerdictStore()
    state = tmp_path / "state.npz"
    stage = MetricAnalysisStage(store, band_step=300, state_path=state, verdict_interval=0)
    (anomaly,) = run(stage, seasonal(SPIKE + 20))
    store.judge(anomaly, "confirmed")
    store.judge(anomaly)
    store.judge(anomaly.model_copy(update={"kind": "log_rate"}))  # not a metric: skipped
    stage.process([])
    assert stage.counters.verdicts_applied == 1 and stage.bank.verdicts_seen == 3
    # The member's own score, faded by the 19 samples seen since the alarm.
    memory = stage.bank.detector.config.tolerance_memory
    taken = anomaly.evidence["driver_level"] * math.exp(-19 * 300 / memory)
    assert tolerance(stage, anomaly) == pytest.approx(taken, rel=1e-9)
    stage.process([])  # nothing newer: nothing applied twice
    assert stage.counters.verdicts_applied == 1
    stage.close()
    restarted = MetricAnalysisStage.open(store, BankConfig(), state_path=state,
                                         verdict_interval=0)
    assert restarted.bank.verdicts_seen == 3
    assert tolerance(restarted, anomaly) == pytest.approx(taken, rel=1e-9)


def test_verdicts_wait_for_their_series_and_fade_with_their_age() -> None:
    store = VerdictStore()
    first = MetricAnalysisStage(store, band_step=300, verdict_interval=0)
    (anomaly,) = run(first, seasonal(SPIKE + 20))
    store.judge(anomaly)
    # A detector that starts afresh (state set aside) takes every verdict again, once
    # the series is back; the verdict has faded by the event time since its alarm.
    fresh = MetricAnalysisStage(store, band_step=300, verdict_interval=0)
    fresh.process([])
    assert fresh.counters.verdicts_applied == 0 and fresh.bank.verdicts_seen == 1
    later = seasonal(SPIKE + 20 + 2 * DAY, spike_at=None)[SPIKE + 20:]
    run(fresh, later)
    assert fresh.counters.verdicts_applied == 1
    # Faded from the alarm to the series' latest sample, whenever it was taken.
    age = (later[-1].ts - anomaly.ts).total_seconds()
    memory = fresh.bank.detector.config.tolerance_memory
    assert tolerance(fresh, anomaly) == pytest.approx(
        anomaly.evidence["driver_level"] * math.exp(-age / memory), rel=1e-6)


def test_a_verdict_the_detector_cannot_take_does_not_wait() -> None:
    store = VerdictStore()
    stage = MetricAnalysisStage(store, band_step=300, verdict_interval=0)
    (anomaly,) = run(stage, seasonal(SPIKE + 20))
    # Made with other members (the settings changed since): no member 99 here.
    store.judge(anomaly.model_copy(update={"evidence": {**anomaly.evidence,
                                                        "driver_index": 99}}))
    stage.process([])
    assert stage.counters.verdicts_applied == 0 and not stage._waiting
    assert stage.bank.verdicts_seen == 1


def test_verdicts_are_read_again_after_the_store_failed() -> None:
    store = VerdictStore()
    stage = MetricAnalysisStage(store, band_step=300, verdict_interval=0)
    (anomaly,) = run(stage, seasonal(SPIKE + 20))
    store.judge(anomaly)
    store.fail = 1
    stage.process([])
    assert stage.counters.verdict_failures == 1 and stage.bank.verdicts_seen == 0
    stage.process([])
    assert stage.counters.verdicts_applied == 1 and stage.bank.verdicts_seen == 1


def test_verdicts_are_read_at_most_every_interval() -> None:
    store = VerdictStore()
    stage = MetricAnalysisStage(store, band_step=300, verdict_interval=3600)
    run(stage, seasonal(50, spike_at=None))
    assert store.reads == 1  # on the first batch, then not within the hour
def test_band_points_are_stored_at_most_once_per_step_and_series() -> None:
    store = MemoryStore()
    stage = MetricAnalysisStage(store, band_step=900)  # three samples per band step
    other = [s.model_copy(update={"labels": {"service": "db"}}) for s in seasonal(60, None)]
    mixed = [s for pair in zip(seasonal(60, None), other, strict=True) for s in pair]
    run(stage, mixed)

    by_series: dict[str, list[BandRow]] = {}
    for row in store.bands:
        by_series.setdefault(row[0], []).append(row)
    assert set(by_series) == {SID, series_id("cpu", {"service": "db"})}
    for rows in by_series.values():
        buckets = [math.floor(r[1].timestamp() / 900) for r in rows]
        assert buckets == sorted(set(buckets))  # one point per bucket, in time order
        assert len(rows) == 20  # 60 samples of 5 minutes cover 20 buckets of 15
        assert all(r[3] is not None and r[4] is not None and r[3] <= r[2] <= r[4]
                   for r in rows)
    assert stage.counters.bands == 40


def test_state_saved_and_restored_across_a_restart(tmp_path: Path) -> None:
    samples = seasonal(SPIKE + 20)
    path = tmp_path / "metric-detectors.npz"
    uninterrupted = run(MetricAnalysisStage(MemoryStore()), samples)
    assert len(uninterrupted) == 1

    first = MetricAnalysisStage.open(MemoryStore(), state_path=path)
    run(first, samples[:DAY * 2 + 50])
    first.close()
    assert path.exists() and first.counters.saves == 1

    second = MetricAnalysisStage.open(MemoryStore(), state_path=path)
    assert len(second.bank) == 1
    resumed = run(second, samples[DAY * 2 + 50:])
    assert [(a.ts, a.score, a.expected) for a in resumed] == [
        (a.ts, a.score, a.expected) for a in uninterrupted]


def test_periodic_save_while_samples_flow(tmp_path: Path) -> None:
    path = tmp_path / "state.npz"
    stage = MetricAnalysisStage(MemoryStore(), state_path=path, save_interval=1e-9)
    stage.process(seasonal(5, None))
    assert path.exists() and stage.counters.saves == 1
    stage.process([])  # nothing new learnt: nothing to save
    assert stage.counters.saves == 1


def test_state_of_other_settings_or_garbage_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "state.npz"
    stage = MetricAnalysisStage(MemoryStore(), state_path=path)
    stage.process(seasonal(10, None))
    stage.close()
    other = BankConfig(capacity=5)
    assert load_state(path, other) is None
    assert not path.exists() and (tmp_path / "state.npz.old").exists()

    path.write_bytes(b"not npz at all")
    fresh = MetricAnalysisStage.open(MemoryStore(), state_path=path)
    assert len(fresh.bank) == 0 and not path.exists()


def test_save_state_round_trip(tmp_path: Path) -> None:
    stage = MetricAnalysisStage(MemoryStore())
    stage.process(seasonal(30, None))
    save_state(tmp_path / "s.npz", stage.bank)
    restored = load_state(tmp_path / "s.npz", BankConfig())
    assert restored is not None and len(restored) == 1


def test_failed_writes_are_retried_with_the_next_batch() -> None:
    store = MemoryStore()
    stage = MetricAnalysisStage(store, band_step=300)
    samples = seasonal(SPIKE + 20)
    run(stage, samples[:SPIKE - 10])
    store.fail = 1
    with pytest.raises(StorageError):
        stage.process(samples[SPIKE - 10:SPIKE + 10])  # holds the spike
    assert store.anomalies == [] and stage.counters.write_failures == 1
    stage.process(samples[SPIKE + 10:])
    assert [a.ts for a in store.anomalies] == [samples[SPIKE].ts]
    # Every sample's band point arrived, none twice.
    stamps = [r[1] for r in store.bands]
    assert len(stamps) == len(set(stamps)) == len(samples)


def test_full_anomaly_queue_is_counted_not_fatal() -> None:
    store = MemoryStore()

    def publish(_: Sequence[Anomaly]) -> None:
        raise Overloaded("queue full")

    stage = MetricAnalysisStage(store, publish=publish)
    run(stage, seasonal(SPIKE + 5))
    assert len(store.anomalies) == 1 and stage.counters.unpublished == 1


def test_handle_ignores_what_is_not_a_sample() -> None:
    store = MemoryStore()
    stage = MetricAnalysisStage(store, band_step=300)
    stage.handle([*seasonal(3, None), "noise"])
    assert stage.counters.samples == 3 and len(store.bands) == 3
