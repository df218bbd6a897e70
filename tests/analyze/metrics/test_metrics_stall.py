"""Stall novelty and the spike-proof short range of range novelty, on series with known answers."""

from __future__ import annotations

import numpy as np

from opscope.analyze.metrics.bank import SeriesDetectorBank
from opscope.analyze.metrics.detector import Detector, FloatArray
from opscope.analyze.metrics.registry import create

STEP = 300.0  # five-minute samples


def run(detector: Detector, values: FloatArray) -> FloatArray:
    scores = np.zeros(values.shape[0])
    for i, value in enumerate(values):
        scores[i] = detector.step(np.array([0]), np.array([i * STEP]), np.array([value])).score[0]
    return scores


def idle_now_and_then(n: int, stuck_at: int, seed: int = 5) -> FloatArray:
    """Noise that goes idle (exactly 0) for 20 samples every 200, then sticks at 0."""
    rng = np.random.default_rng(seed)
    values = 10.0 + rng.normal(0.0, 1.0, n)
    for start in range(100, stuck_at, 200):
        values[start : start + 20] = 0.0
    values[stuck_at:] = 0.0
    return values


def test_a_run_longer_than_any_before_is_a_stall() -> None:
    values = idle_now_and_then(2900, stuck_at=2600)
    scores = run(create("stall"), values)
    # Runs of 20 are this series' habit: never news (a record that has faded a little is
    # beaten by a fraction of a sample), however often they come.
    assert scores[:2600].max() < 0.1
    # The stuck run is news once it is clearly longer than 20 samples, and stays news
    # until it has lasted twice the record; then the series is known to be stuck.
    first = 2600 + int(np.argmax(scores[2600:] > 1.0))
    assert 2600 + 20 < first <= 2600 + 30
    assert scores[first : 2600 + 38].min() > 1.0
    assert scores[2600 + 40 :].max() == 0.0


def test_a_stall_after_short_runs_is_news_for_ten_samples() -> None:
    # Rounded noise repeats a value now and then, in runs of a few samples; a stuck value
    # becomes news once it beats both that record and chance, for ten samples.
    rng = np.random.default_rng(9)
    values = np.round(20.0 + rng.normal(0.0, 2.0, 3000))
    values[2700:] = values[2700]
    scores = run(create("stall"), values)
    assert scores[:2700].max() == 0.0
    news = np.flatnonzero(scores[2700:] > 0.0)
    assert news.tolist() == list(range(news[0], news[0] + 10))
    assert 5 < news[0] < 20 and scores[2700 + news].min() > 2.0


def test_constant_and_never_repeating_series_never_stall() -> None:
    rng = np.random.default_rng(6)
    constant = np.full(1500, 7.0)
    never_repeats = 10.0 + rng.normal(0.0, 1.0, 1500)
    assert run(create("stall"), constant).max() == 0.0
    assert run(create("stall"), never_repeats).max() == 0.0


def test_a_series_that_never_repeated_is_news_once_it_sticks() -> None:
    # No run to beat: a few repeats are already more than chance allows for a series
    # that has not repeated once in 1,500 samples; news for ten samples (from a fractional
    # onset, so eleven whole ones), then known.
    rng = np.random.default_rng(6)
    values = 10.0 + rng.normal(0.0, 1.0, 1600)
    values[1500:] = values[1499]
    scores = run(create("stall"), values)
    assert scores[:1500].max() == 0.0
    news = np.flatnonzero(scores[1500:] > 0.0)
    assert news.tolist() == list(range(news[0], news[0] + 11))
    assert news[0] < 5 and scores[1500 + news[2:]].min() > 1.0


def frozen_twice_then_thrice(seed: int = 8) -> FloatArray:
    """Noise whose reading freezes for 40 samples at 1500, 2500 and 3500."""
    rng = np.random.default_rng(seed)
    values = 10.0 + rng.normal(0.0, 1.0, 4000)
    for start in (1500, 2500, 3500):
        values[start : start + 40] = values[start - 1]
    return values


def test_a_frozen_reading_is_news_until_it_has_happened_twice() -> None:
    scores = run(create("stall"), frozen_twice_then_thrice())
    # The second freeze, no longer than the first, is news again: a freeze that was
    # news does not make the next one routine.
    assert scores[1500:1540].max() > 1.0
    assert scores[2500:2540].max() > 1.0
    # Twice is a habit: the third is not news (its faded record is beaten by a fraction
    # of a sample at most).
    assert scores[3500:3540].max() < 0.5


def test_rests_at_zero_become_routine_at_once() -> None:
    # An idle disk writes zero bytes for a long stretch now and then: after the first
    # long rest, one as long is no news.
    values = frozen_twice_then_thrice()
    for start in (1500, 2500, 3500):
        values[start : start + 40] = 0.0
    scores = run(create("stall"), values)
    assert scores[1500:1540].max() > 1.0
    assert scores[2500:].max() < 0.5


def test_records_of_a_random_sparse_counter_are_chance() -> None:
    # A counter of rare events (5 % of samples) sets new records of zeros by chance now
    # and then; the chance check keeps them quiet, without it they would be news.
    rng = np.random.default_rng(7)
    values = (rng.random(6000) < 0.05).astype(float)
    plain = {"chance_factor": 1e-9, "horizon": 1.0}
    assert run(create("stall", plain), values).max() > 1.0
    assert run(create("stall", {"horizon": 1.0}), values).max() == 0.0


def test_short_range_ignores_a_spike_and_sees_a_later_shift() -> None:
    # A two-sample spike, then days later a sustained shift that stays below the spike:
    # the running median keeps the spike out of the short range, so the shift is new.
    rng = np.random.default_rng(8)
    values = 50.0 + rng.normal(0.0, 1.0, 2000)
    values[600:602] += 60.0
    values[1500:] += 8.0
    settings = {"warmup": 0, "horizon": 1.0}
    median = run(create("novelty", settings), values)
    plain = run(create("novelty", {**settings, "median_of": 1}), values)
    # Above the 0.5 that the default ensemble takes as one unit of novelty; without the
    # median the spike has already stretched the short range beyond the shift.
    assert median[1500:1540].max() > 0.5
    assert plain[1500:1540].max() == 0.0
    # The spike itself is still scored, on the point range.
    assert median[600] > 10.0


def test_default_ensemble_reports_a_stuck_series_once() -> None:
    values = idle_now_and_then(4000, stuck_at=3500)
    bank = SeriesDetectorBank()
    t = np.arange(values.shape[0]) * STEP
    out = bank.score_arrays(["s"] * values.shape[0], t, values)
    alarms = np.flatnonzero(out.alarm[600:]) + 600
    # Nothing before the stall, one alarm soon after the run outlasts its habit, and no
    # reminder while the series stays stuck (500 samples, well past the hold-off).
    assert len(alarms) == 1
    assert 3500 + 20 < alarms[0] <= 3500 + 40


def stall_onset(per: int) -> float:
    """Minutes after a rounded gauge sticks until stall novelty calls it news, the gauge
    updating every five minutes and read ``per`` times as often (each value repeated)."""
    rng = np.random.default_rng(9)
    coarse = np.round(20.0 + rng.normal(0.0, 2.0, 900))
    coarse[800:] = coarse[800]
    values: FloatArray = np.repeat(coarse, per)
    detector = create("stall", {"horizon": 100.0})
    step = STEP / per
    for i, value in enumerate(values.tolist()):
        score = detector.step(np.array([0]), np.array([i * step]), np.array([value])).score[0]
        if i >= 800 * per and score > 0.0:
            return (i - 800 * per) * step / 60.0
    return np.inf


def test_a_stall_is_news_as_soon_when_a_five_minute_gauge_is_read_every_15_seconds() -> None:
    at_five, at_fifteen = stall_onset(1), stall_onset(20)
    assert at_five < 100.0
    # Judged on every sample, the repeats within each five minutes made chance runs of a
    # day or more, and the stall went unseen for that long.
    assert at_fifteen <= at_five + 10.0
