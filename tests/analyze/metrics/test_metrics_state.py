"""State save and restore: a restored detector continues exactly where it stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import orjson
import pytest

from opscope.analyze.metrics.alarm import AlarmConfig, AlarmRules
from opscope.analyze.metrics.bank import BankConfig, SeriesDetectorBank
from opscope.analyze.metrics.detector import Detector
from opscope.analyze.metrics.registry import create, detector_class, register
from opscope.errors import ConfigError, ValidationFailed
from opscope.model import MetricSample

NAMES = [
    "seasonal", "forecast", "changepoint", "spectral", "novelty", "stall", "zscore", "ensemble",
    "prototypes",
]


def feed(detector: Detector, values: np.ndarray, start: int, slots: int = 2) -> np.ndarray:
    out = []
    for i, v in enumerate(values):
        t = np.full(slots, (start + i) * 300.0)
        x = np.array([v + k for k in range(slots)])
        out.append(detector.step(np.arange(slots), t, x).score)
    return np.array(out)


def series(n: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    i = np.arange(n)
    return 30 + 10 * np.sin(2 * np.pi * i / 288) + rng.normal(0, 1, n)


@pytest.mark.parametrize("name", NAMES)
def test_npz_round_trip_gives_identical_scores(name: str) -> None:
    values = series(700)
    original = create(name, {"warmup": 20}, capacity=2)
    feed(original, values[:600], 0)
    restored = create(name, {"warmup": 20}, capacity=1)
    restored.load_npz(original.save_npz())
    a = feed(original, values[600:], 600)
    b = feed(restored, values[600:], 600)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_slot_json_round_trip_gives_identical_scores(name: str) -> None:
    values = series(400)
    original = create(name, {"warmup": 20}, capacity=2)
    feed(original, values[:300], 0)
    document = orjson.loads(orjson.dumps(original.slot_json(1)))
    restored = create(name, {"warmup": 20}, capacity=2)
    restored.load_slot_json(1, document)
    restored.load_slot_json(0, orjson.loads(orjson.dumps(original.slot_json(0))))
    assert np.array_equal(feed(original, values[300:], 300), feed(restored, values[300:], 300))


def test_state_of_another_detector_is_refused() -> None:
    forecast = create("forecast")
    with pytest.raises(ValidationFailed):
        create("seasonal").load_npz(forecast.save_npz())
    document = forecast.slot_json(0)
    document["version"] = 99
    with pytest.raises(ValidationFailed):
        create("forecast").load_slot_json(0, document)


def test_registry_is_lazy_and_open() -> None:
    with pytest.raises(ConfigError):
        create("no-such-detector")
    with pytest.raises(ConfigError):
        register("broken", "no colon")
    register("forecast-alias", "opscope.analyze.metrics.forecast:ForecastResidual")
    assert detector_class("forecast-alias").name == "forecast"
    with pytest.raises(Exception, match="extra"):
        create("forecast", {"no_such_setting": 1})


def samples(n: int, host: str, spike_at: int | None = None) -> list[MetricSample]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rng = np.random.default_rng(sum(host.encode()))
    out = []
    for i in range(n):
        # Bounded noise: after warm-up it can never leave the range it has already shown.
        value = 20.0 + rng.uniform(-1, 1)
        if i == spike_at:
            value += 50.0
        out.append(
            MetricSample(
                name="cpu_busy", labels={"host": host}, value=value,
                ts=t0 + timedelta(minutes=5 * i),
            )
        )
    return out


def test_bank_turns_alarms_into_anomalies() -> None:
    bank = SeriesDetectorBank()
    batch = samples(700, "web-1", spike_at=650) + samples(700, "web-2")
    anomalies = bank.update(batch)
    assert len(anomalies) == 1
    anomaly = anomalies[0]
    assert anomaly.entity == "web-1" and anomaly.kind == "metric"
    assert anomaly.subject == batch[650].series
    assert anomaly.ts == batch[650].ts and anomaly.direction == "up"
    assert anomaly.lower is not None and anomaly.upper is not None and anomaly.expected is not None
    assert anomaly.lower < anomaly.expected < anomaly.upper < anomaly.value  # type: ignore[operator]


def test_bank_round_trip_and_group_thresholds() -> None:
    strict = AlarmConfig(half=1e9)
    config = BankConfig(alarms=AlarmRules(groups={"cpu_*": strict}))
    bank = SeriesDetectorBank(config)
    batch = samples(700, "db-1", spike_at=650)
    assert bank.update(batch[:600]) == []
    restored = SeriesDetectorBank.load(bank.save(), config)
    a = bank.score_arrays([s.series for s in batch[600:]],
                          np.array([s.ts.timestamp() for s in batch[600:]]),
                          np.array([s.value for s in batch[600:]]), ["cpu_busy"] * 100)
    b = restored.score_arrays([s.series for s in batch[600:]],
                              np.array([s.ts.timestamp() for s in batch[600:]]),
                              np.array([s.value for s in batch[600:]]), ["cpu_busy"] * 100)
    assert np.array_equal(a.score, b.score)
    assert not a.alarm.any()  # the group's strict threshold holds back the spike


def test_bank_memory_is_bounded() -> None:
    bank = SeriesDetectorBank(BankConfig(capacity=3))
    for k in range(5):
        bank.score_arrays([f"s{k}"] * 10, np.arange(10) * 60.0, np.ones(10))
    assert len(bank) == 3
    assert bank.detector.capacity <= 3
