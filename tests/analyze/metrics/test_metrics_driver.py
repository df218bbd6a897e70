"""A metric anomaly says which of the ensemble's views found it, and what that means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from opscope.analyze.metrics import BankConfig, SeriesDetectorBank
from opscope.analyze.metrics.registry import create
from opscope.model import Anomaly, MetricSample

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = 288  # five-minute samples


def samples(values: np.ndarray) -> list[MetricSample]:
    return [
        MetricSample(
            name="requests_per_second", labels={"service": "api"}, value=float(v),
            ts=T0 + timedelta(minutes=5 * i),
        )
        for i, v in enumerate(values)
    ]


def anomalies(values: np.ndarray, config: BankConfig | None = None) -> list[Anomaly]:
    bank = SeriesDetectorBank(config)
    found: list[Anomaly] = []
    batch = samples(values)
    for start in range(0, len(batch), 500):
        found.extend(bank.update(batch[start : start + 500]))
    return found


def daily(days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    i = np.arange(days * DAY)
    return 50 + 20 * np.sin(2 * np.pi * i / DAY) + rng.normal(0, 1, i.shape[0])


def test_a_night_time_value_of_the_daily_peak_is_found_by_the_seasonal_view() -> None:
    values = daily(6, seed=4)
    at = 5 * DAY + 3 * DAY // 4  # the trough of the sixth day
    # As high as every afternoon, unheard of at this hour, for two samples: the seasonal
    # view hears a departure once it lasts into a second five-minute window.
    values[at : at + 2] = 68.0
    found = [a for a in anomalies(values) if a.ts == T0 + timedelta(minutes=5 * (at + 1))]
    assert len(found) == 1
    assert found[0].evidence["driver"] == "seasonal"
    assert found[0].summary.endswith("(far from its usual value at this time)")


def test_a_value_that_stops_changing_is_found_by_the_stall_view() -> None:
    values = daily(6, seed=5)
    values[5 * DAY :] = values[5 * DAY]  # the exporter hangs at its last reading
    found = [a for a in anomalies(values) if a.ts >= T0 + timedelta(days=5)]
    assert found, "the stall went unnoticed"
    assert found[0].evidence["driver"] == "stall"
    assert found[0].evidence["driver_text"] == "stuck at one value for longer than ever before"


def test_a_single_view_detector_names_no_driver() -> None:
    values = daily(3, seed=6)
    values[2 * DAY + 10] += 200
    config = BankConfig(detector="zscore", detector_config={"window": 288})
    found = anomalies(values, config)
    assert found and all("driver" not in a.evidence for a in found)
    assert all(a.summary.endswith("was expected") for a in found)


def test_every_default_member_has_a_meaning_for_operators() -> None:
    drivers = create("ensemble").drivers()
    keys = [key for key, _ in drivers]
    assert keys == ["seasonal", "change_point", "range", "stall", "sustained", "shape"]
    assert all(text and not text.startswith("the ") for _, text in drivers)
