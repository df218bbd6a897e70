"""Each detector on synthetic series whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from opscope.analyze.metrics.detector import Detector, FloatArray
from opscope.analyze.metrics.multivariate import EntityDetector
from opscope.analyze.metrics.registry import create

STEP = 300.0  # five-minute samples
DAY = 288


def run(detector: Detector, values: FloatArray, step: float = STEP) -> FloatArray:
    """Feed one series sample by sample; return its scores."""
    scores = np.zeros(values.shape[0])
    for i, value in enumerate(values):
        out = detector.step(np.array([0]), np.array([i * step]), np.array([value]))
        scores[i] = out.score[0]
    return scores


def noise(n: int, seed: int = 1) -> FloatArray:
    rng = np.random.default_rng(seed)
    return 50.0 + rng.normal(0.0, 1.0, n)


def daily(days: int, seed: int = 2) -> FloatArray:
    rng = np.random.default_rng(seed)
    i = np.arange(days * DAY)
    return 50.0 + 20.0 * np.sin(2 * np.pi * i / DAY) + rng.normal(0.0, 1.0, i.shape[0])


@pytest.mark.parametrize("name", ["seasonal", "forecast", "spectral", "zscore"])
def test_spike_scores_highest_at_the_spike(name: str) -> None:
    values = noise(800)
    values[600] += 15.0
    scores = run(create(name, {"warmup": 100}), values)
    assert int(np.argmax(scores[100:])) + 100 == 600
    assert scores[600] > 3.0 * np.percentile(scores[100:590], 99)


@pytest.mark.parametrize("name", ["changepoint", "novelty"])
def test_level_shift_is_seen(name: str) -> None:
    values = noise(1200)
    values[800:] += 8.0
    scores = run(create(name, {"warmup": 100}), values)
    before = scores[100:800].max()
    after = scores[800:830].max()
    assert after > 2.0 * before


def test_novelty_discounts_a_young_range() -> None:
    # The same excursion scores ln(horizon / samples seen) less while the range is young,
    # and exactly the same once the series has shown ``horizon`` samples.
    values = noise(400)
    values[300] += 20.0
    plain = {"warmup": 0, "min_history": 0.0}
    mature = run(create("novelty", {**plain, "horizon": 1.0}), values)
    young = run(create("novelty", {**plain, "horizon": 3010.0}), values)
    grown = run(create("novelty", {**plain, "horizon": 200.0}), values)
    assert mature[300] > 10.0
    assert young[300] == pytest.approx(mature[300] - math.log(10.0))  # 301 samples seen
    assert grown[300] == pytest.approx(mature[300])
    # Early records of plain noise are discounted away.
    assert young[20:300].max() < 0.5 * mature[20:300].max()


def test_novelty_scores_a_positive_series_first_zero() -> None:
    # Multiplicative noise with a heavy upper tail: the known range is wide above, so a
    # drop to zero is inside a range unit or two, yet the series has never read zero.
    rng = np.random.default_rng(4)
    values = 0.1 * np.exp(0.3 * rng.standard_t(3.0, 1400).clip(-4.0, 4.0))
    values[1000] = 0.0
    values[1200] = 0.0
    plain = {"warmup": 0, "horizon": 1.0}
    scores = run(create("novelty", plain), values)
    assert scores[1000] >= 10.0
    assert scores[1200] < 1.0  # zero is known now
    assert scores[300:1000].max() < 1.0
    # A series that has read zero before (or below it) gains nothing.
    values[400] = 0.0
    assert run(create("novelty", plain), values)[1000] < 1.0
    # Nor does a zero within the first day, when no range means anything yet.
    early = values.copy()
    early[100] = 0.0
    assert run(create("novelty", plain), early)[100] == 0.0
    # The zero is forgotten with the range: a new one after ``memory`` samples counts again.
    forgetful = run(create("novelty", {**plain, "memory": 150.0}), values)
    assert forgetful[1000] >= 10.0


def test_novelty_takes_a_first_zero_of_low_counts_as_chance() -> None:
    # Counts whose lowest values are one or two apart from zero reach it by chance; the
    # same counts ten times larger do not.
    rng = np.random.default_rng(5)
    rate = 6.0 + 2.0 * np.sin(2 * np.pi * np.arange(1400) / DAY)
    plain = {"warmup": 0, "horizon": 1.0}
    low = rng.poisson(rate).astype(float)
    low[1000] = 0.0
    assert run(create("novelty", plain), low)[1000] < 1.0
    high = rng.poisson(10.0 * rate).astype(float)
    high[1000] = 0.0
    assert run(create("novelty", plain), high)[1000] >= 10.0


def test_ensemble_member_is_heard_once_its_record_spans_a_day() -> None:
    # One-minute samples: a member that started speaking a few hours ago has a record
    # that has not seen the day yet, so a level shift then is not compared against it.
    values = noise(900)
    values[600:] += 8.0
    members = [{"detector": "changepoint", "reference": 6.0}]
    settings = {"warmup": 10, "settle": 10, "settle_member": 20, "members": members}
    day = run(create("ensemble", {**settings, "record_span": 86_400.0}), values, step=60.0)
    soon = run(create("ensemble", {**settings, "record_span": 3_600.0}), values, step=60.0)
    assert not day.any()
    assert soon[600:630].max() > 1.0
    assert soon[600:630].max() > 2.0 * soon[100:600].max()


def test_variance_change_is_seen() -> None:
    rng = np.random.default_rng(3)
    values = 50.0 + rng.normal(0.0, 1.0, 1400)
    values[900:] = 50.0 + rng.normal(0.0, 6.0, 500)
    scores = run(create("changepoint", {"warmup": 100}), values)
    assert scores[900:960].max() > 1.5 * scores[100:900].max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_gap_in_the_timestamps_is_not_a_change(seed: int) -> None:
    # The same noise throughout; forty samples go missing before row 800.
    values = noise(1200, seed)
    t = np.arange(1200) * STEP
    t[800:] += 40 * STEP
    detector = create("changepoint", {"warmup": 100})
    scores = np.zeros(values.shape[0])
    for i, value in enumerate(values):
        scores[i] = detector.step(np.array([0]), np.array([t[i]]), np.array([value])).score[0]
    assert scores[800:810].max() < scores[100:800].max()


def test_seasonal_baseline_learns_the_daily_shape() -> None:
    values = daily(5)
    detector = create("seasonal", {"warmup": 50})
    expected = np.zeros(values.shape[0])
    for i, value in enumerate(values):
        out = detector.step(np.array([0]), np.array([i * STEP]), np.array([value]))
        expected[i] = out.expected[0]
    truth = 50.0 + 20.0 * np.sin(2 * np.pi * np.arange(values.shape[0]) / DAY)
    # After two days the daily period is chosen and the expected value follows the wave.
    error = np.abs(expected[3 * DAY :] - truth[3 * DAY :])
    assert np.median(error) < 2.0
    # A level-only model would be off by the wave's amplitude.
    assert np.median(np.abs(values[3 * DAY :].mean() - truth[3 * DAY :])) > 8.0


def test_seasonal_deviation_inside_the_range_is_found() -> None:
    values = daily(6)
    # At a daily trough, the value jumps to the daily mean: inside the usual range,
    # but wrong for this time of day.
    trough = 5 * DAY + int(0.75 * DAY)
    values[trough : trough + 6] = 50.0
    scores = run(create("seasonal", {"warmup": 50}), values)
    assert scores[trough : trough + 6].max() > 2.0 * scores[3 * DAY : 5 * DAY].max()


def test_gap_and_irregular_sampling_keep_the_season() -> None:
    values = daily(5)
    keep = np.ones(values.shape[0], dtype=bool)
    keep[2 * DAY + 10 : 2 * DAY + 80] = False  # a six-hour gap
    keep[::7] = False  # and irregular sampling throughout
    idx = np.flatnonzero(keep)
    detector = create("seasonal", {"warmup": 50})
    scores = np.zeros(idx.shape[0])
    for j, i in enumerate(idx):
        out = detector.step(np.array([0]), np.array([i * STEP]), np.array([values[i]]))
        scores[j] = out.score[0]
    late = idx >= 3 * DAY
    assert np.percentile(scores[late], 99) < 5.0


def test_counter_reset_is_not_an_anomaly() -> None:
    rate = 10.0
    values = rate * STEP * np.arange(1, 601, dtype=float)
    values[400:] -= values[399]  # the process restarted; the counter begins again at 0
    detector = create("forecast", {"warmup": 20, "counter": True})
    scored = [
        detector.step(np.array([0]), np.array([i * STEP]), np.array([v]))
        for i, v in enumerate(values)
    ]
    rates = np.array([s.value[0] for s in scored])
    assert np.isnan(rates[0])  # no rate before the second sample
    assert np.allclose(rates[1:], rate)
    assert max(s.score[0] for s in scored[30:]) < 1.0


def test_nan_is_skipped_and_out_of_order_rejected() -> None:
    detector = create("forecast", {"warmup": 5})
    for i in range(50):
        detector.step(np.array([0]), np.array([i * STEP]), np.array([10.0 + (i % 3)]))
    before = detector.slot_state(0)
    out = detector.step(np.array([0]), np.array([50 * STEP]), np.array([np.nan]))
    assert np.isnan(out.score[0])
    late = detector.step(np.array([0]), np.array([10 * STEP]), np.array([11.0]))
    assert np.isnan(late.score[0])
    after = detector.slot_state(0)
    for key in ("level", "scale", "trend", "_n"):
        assert np.array_equal(before[key], after[key])


def test_slots_are_independent() -> None:
    a, b = noise(400, seed=5), noise(400, seed=6) * 3.0
    alone_a = run(create("ensemble"), a)
    together = create("ensemble", capacity=2)
    scores = np.zeros((400, 2))
    for i in range(400):
        t = np.array([i * STEP, i * STEP])
        out = together.step(np.array([0, 1]), t, np.array([a[i], b[i]]))
        scores[i] = out.score
    assert np.array_equal(scores[:, 0], alone_a)


def test_default_ensemble_is_silent_on_a_seasonal_pattern() -> None:
    from opscope.analyze.metrics.bank import SeriesDetectorBank

    values = daily(7, seed=4)
    bank = SeriesDetectorBank()
    t = np.arange(values.shape[0]) * STEP
    out = bank.score_arrays(["s"] * values.shape[0], t, values)
    # The first day is spent learning the range; from then on nothing is anomalous.
    assert not out.alarm[2 * DAY :].any()


def test_default_ensemble_alarms_on_a_spike_after_warmup() -> None:
    from opscope.analyze.metrics.bank import SeriesDetectorBank

    values = daily(7, seed=4)
    values[5 * DAY + 40] += 60.0
    bank = SeriesDetectorBank()
    t = np.arange(values.shape[0]) * STEP
    out = bank.score_arrays(["s"] * values.shape[0], t, values)
    assert list(np.flatnonzero(out.alarm[2 * DAY :]) + 2 * DAY) == [5 * DAY + 40]


def test_multivariate_sees_a_broken_correlation() -> None:
    rng = np.random.default_rng(8)
    detector = EntityDetector()
    scores = []
    for i in range(600):
        base = rng.normal(0.0, 1.0)
        vector = np.array([[base, base + 0.05 * rng.normal(), rng.normal(), rng.normal()]])
        if i == 500:
            vector[0, 1] = -vector[0, 0] - 1.0  # each value ordinary, the pair is not
        scores.append(detector.step(np.array([0]), vector)[0])
    assert int(np.argmax(scores)) == 500


def test_entity_bank_reports_an_unusual_combination() -> None:
    from datetime import UTC, datetime, timedelta

    from opscope.analyze.metrics.entity_bank import EntityDetectorBank
    from opscope.model import MetricSample

    rng = np.random.default_rng(9)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    samples = []
    for i in range(400):
        load = rng.normal(50.0, 10.0)
        cpu = 0.8 * load + rng.normal(0.0, 0.5)
        if i == 300:
            cpu = 0.8 * 30.0  # low CPU while load is high: each value ordinary, not the pair
            load = 70.0
        ts = t0 + timedelta(minutes=i)
        samples.append(MetricSample(name="load", labels={"host": "h1"}, value=load, ts=ts))
        samples.append(MetricSample(name="cpu", labels={"host": "h1"}, value=cpu, ts=ts))
    anomalies = EntityDetectorBank().update(samples)
    assert [a.ts for a in anomalies] == [t0 + timedelta(minutes=300)]
    assert anomalies[0].entity == "h1"
