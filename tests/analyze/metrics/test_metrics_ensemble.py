"""The default ensemble on coarse series: what waits for samples and what for time."""

from __future__ import annotations

import numpy as np

from opscope.analyze.metrics.bank import SeriesDetectorBank
from opscope.analyze.metrics.detector import FloatArray
from opscope.analyze.metrics.ensemble import EnsembleConfig, Member
from opscope.analyze.metrics.registry import create

HOUR = 3600.0
FIVE_MINUTES = 300.0


def noise(n: int, seed: int) -> FloatArray:
    rng = np.random.default_rng(seed)
    return 50.0 + rng.normal(0.0, 1.0, n)


def test_an_hourly_series_reports_a_new_value_on_its_fourth_day() -> None:
    # 80 hourly samples: far fewer than the 150 a count of samples would wait for, but
    # more than the day of history range novelty needs before a value can be new.
    values = noise(120, seed=11)
    values[80] += 30.0
    bank = SeriesDetectorBank()
    out = bank.score_arrays(["s"] * values.shape[0], np.arange(values.shape[0]) * HOUR, values)
    assert np.flatnonzero(out.alarm).tolist() == [80]


def test_a_record_fades_with_event_time_not_with_samples() -> None:
    # One series fed at two cadences: the change-point detector scores both alike, so
    # the only difference is how far its record has faded when a second, equal spike
    # comes 400 samples after the first: 17 days later hourly, 33 hours at 5 minutes.
    member = Member(detector="changepoint", reference=1.0)
    config = {"members": [member.model_dump()], "settle": 50, "settle_member": 50}
    values = noise(700, seed=12)
    values[[250, 650]] += 25.0
    detector = create("ensemble", config, capacity=2)
    scores = np.zeros((values.shape[0], 2))
    for i, value in enumerate(values):
        t = np.array([i * HOUR, i * FIVE_MINUTES])
        scores[i] = detector.step(np.array([0, 1]), t, np.array([value, value])).score
    hourly, fine = scores[650]
    memory = EnsembleConfig().memory
    faded = np.exp(-400 * (HOUR - FIVE_MINUTES) / memory)
    assert fine > 0.0
    assert hourly / fine > 0.9 / faded > 2.0


def test_a_member_with_its_own_memory_keeps_its_record_longer() -> None:
    # The same spike twice, 400 hours apart: a member fading over the ensemble's memory
    # has lost most of its record by then, one with a memory a hundred times longer has
    # not, so the second spike surprises it far less.
    values = noise(700, seed=12)
    values[[250, 650]] += 25.0
    t = np.arange(values.shape[0]) * HOUR
    second = []
    for memory in (None, 100.0 * EnsembleConfig().memory):
        member = Member(detector="changepoint", reference=1.0, memory=memory)
        config = {"members": [member.model_dump()], "settle": 50, "settle_member": 50}
        detector = create("ensemble", config, capacity=1)
        for i in range(651):
            score = detector.step(np.array([0]), t[i : i + 1], values[i : i + 1]).score[0]
        second.append(score)
    shared, own = second
    faded = np.exp(-400 * HOUR / EnsembleConfig().memory)
    assert own > 0.0
    assert shared / own > 0.9 / faded > 2.0


def seasonal_scores(step: float, days: int, lasting: bool) -> tuple[FloatArray, int, int]:
    """The ensemble's ratio for one seasonal member on a daily wave with two departures on
    its last day, both within the range it has shown: one sample at the daily mean at the
    peak hour, and later two samples in a row 30 below their usual value."""
    per_day = int(86_400 // step)
    t = np.arange(per_day * days) * step
    rng = np.random.default_rng(5)
    values = 100.0 + 30.0 * np.sin(2.0 * np.pi * t / 86_400.0) + rng.normal(0.0, 1.0, t.size)
    lone = per_day * (days - 1) + per_day // 4
    pair = lone + per_day // 6
    values[lone] = 100.0
    values[pair : pair + 2] -= 30.0
    member = Member(detector="seasonal", reference=1.0, lasting=lasting)
    detector = create("ensemble", {"members": [member.model_dump()]}, capacity=1)
    scores = np.array([
        detector.step(np.array([0]), t[i : i + 1], values[i : i + 1]).score[0]
        for i in range(t.size)
    ])
    return scores, lone, pair


def test_a_lasting_member_hears_a_departure_once_it_lasts_two_samples() -> None:
    # At five minutes a single sample off its usual value is left alone; the same
    # member not lasting calls it 7 times its record, and that record then mutes the
    # two-sample departure, which the lasting member hears on its second sample.
    plain, lone, pair = seasonal_scores(FIVE_MINUTES, days=6, lasting=False)
    held, _, _ = seasonal_scores(FIVE_MINUTES, days=6, lasting=True)
    assert plain[lone] > 5.0
    assert held[lone] < 0.5
    assert plain[pair : pair + 2].max() < 1.2
    assert held[pair] < 1.0 < 5.0 < held[pair + 1]


def test_a_lasting_member_hears_an_hourly_sample_alone() -> None:
    # An hourly sample spans two reference intervals by itself: nothing is held back.
    plain, lone, _ = seasonal_scores(HOUR, days=25, lasting=False)
    held, _, _ = seasonal_scores(HOUR, days=25, lasting=True)
    assert held[lone] == plain[lone] > 5.0
