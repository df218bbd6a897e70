"""Memories counted in samples must not shrink when a series is sampled more often."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from opscope.analyze.metrics.detector import (
    REFERENCE_INTERVAL,
    Context,
    Detector,
    DetectorConfig,
    FloatArray,
    IntArray,
    Step,
    youth,
)
from opscope.analyze.metrics.registry import create

DAY = 86_400.0


class Probe(Detector):
    """Records the context its core is given."""

    name: ClassVar[str] = "probe"
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig
    seen: list[tuple[float, float]]

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {}

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        self.seen.append((float(ctx.ratio[0]), float(ctx.elapsed[0])))
        zero = np.zeros(slots.shape[0])
        return Step(score=zero, expected=x, scale=zero + 1.0)


def steps_seen(times: list[float]) -> list[tuple[float, float]]:
    probe = Probe(DetectorConfig(warmup=0))
    probe.seen = []
    for t in times:
        probe.step(np.array([0]), np.array([t]), np.array([1.0]))
    return probe.seen[1:]


def test_a_sample_counts_as_its_share_of_the_reference_interval_when_finer() -> None:
    # Every 15 seconds: a sample moves averages a twentieth as far as one every five
    # minutes, so an average keeps its span of event time.
    assert steps_seen([0.0, 15.0, 30.0]) == [(0.05, 15.0), (0.05, 15.0)]
    # At the reference interval and coarser a sample counts as one, a gap as the samples
    # it stands for (its seconds come from a typical interval that a gap nudges up).
    regular, _, gap = steps_seen([0.0, 300.0, 600.0, 1500.0])
    assert regular == (1.0, 300.0)
    assert gap[0] == 3.0 and 900.0 <= gap[1] < 950.0
    assert steps_seen([0.0, 3600.0, 7200.0]) == [(1.0, 3600.0), (1.0, 3600.0)]


def test_a_young_series_counts_no_more_samples_than_its_age_allows() -> None:
    count, age = np.array([2880.0]), np.array([DAY / 10.0 * 9.99])  # 15 s, ~0.1 day
    # 2,880 samples in under a day: as young as 288 samples at the reference interval.
    assert np.isclose(youth(2500.0, count, age)[0], np.log(2500.0 / (age[0] / 300.0 + 1.0)))
    # At the reference interval the count governs.
    assert np.isclose(youth(2500.0, np.array([289.0]), np.array([DAY]))[0], np.log(2500 / 289))


def novelty_scores(detector: Detector, coarse: FloatArray, per: int) -> FloatArray:
    """The detector's score of every sample of ``coarse`` five-minute values, each given as
    ``per`` samples (repeated, at even steps of the five minutes)."""
    values: FloatArray = np.repeat(coarse, per)
    t = np.arange(values.shape[0]) * (REFERENCE_INTERVAL / per)
    scores = np.zeros(values.shape[0])
    slot = np.array([0])
    for i in range(values.shape[0]):
        scores[i] = detector.step(slot, t[i : i + 1], values[i : i + 1]).score[0]
    return scores


def range_scores(interval: float, seed: int = 4) -> tuple[float, float]:
    """Range novelty of one series sampled every ``interval`` seconds: noise with the
    same peak on day 3 and on day 10, given as that many samples per five minutes."""
    per = int(REFERENCE_INTERVAL // interval)
    rng = np.random.default_rng(seed)
    coarse = 50.0 + rng.normal(0.0, 1.0, int(12 * DAY / REFERENCE_INTERVAL))
    for day in (3, 10):
        coarse[int(day * DAY / REFERENCE_INTERVAL)] += 12.0
    scores = novelty_scores(create("novelty"), coarse, per)
    first = int(3 * DAY / interval)
    second = int(10 * DAY / interval)
    return float(scores[first : first + per].max()), float(scores[second : second + per].max())


def test_range_novelty_remembers_a_peak_a_week_later_at_any_cadence() -> None:
    coarse_first, coarse_second = range_scores(REFERENCE_INTERVAL)
    fine_first, fine_second = range_scores(60.0)
    # The first peak is news at both cadences.
    assert coarse_first > 2.0 and fine_first > 2.0
    # A week later the same peak is about as known at one minute as at five; were the
    # range to fade by samples, a minute's series would have forgotten most of it.
    assert fine_second < coarse_second + 0.5


class Echo(Detector):
    """A member whose score is the sample's value, so that a test sets it directly."""

    name: ClassVar[str] = "echo"
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {}

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        return Step(score=x.copy(), expected=x, scale=np.ones(slots.shape[0]))


def ensemble_scores(member_scores: FloatArray, interval: float, settle: int = 0) -> FloatArray:
    """The ensemble's score of one relative member that scores ``member_scores``."""
    ensemble = create("ensemble", {
        "members": [{"detector": "zscore", "reference": 1.0}], "band_from": "zscore",
        "settle": settle, "settle_member": 0, "record_span": 0.0})
    ensemble.detectors[0] = Echo(DetectorConfig(warmup=0))
    out = np.zeros(member_scores.shape[0])
    for i, value in enumerate(member_scores.tolist()):
        out[i] = ensemble.step(np.array([0]), np.array([i * interval]),
                               np.array([value])).score[0]
    return out


def test_a_score_rising_over_minutes_is_measured_against_the_record_before_it() -> None:
    # A member that has scored 2 at most scores 3 for five minutes: one sample at five
    # minutes, twenty every 15 seconds, climbing there as a fast average climbs.
    coarse = np.r_[np.full(100, 1.0), 2.0, np.full(100, 1.0), 3.0]
    fine = np.r_[np.full(2000, 1.0), np.full(20, 2.0), np.full(2000, 1.0),
                 np.linspace(2.05, 3.0, 20)]
    at_five = ensemble_scores(coarse, REFERENCE_INTERVAL)[-1]
    at_fifteen = ensemble_scores(fine, 15.0)[-20:].max()
    assert at_five > 1.4  # 3 against a record of 2, faded a little over eight hours
    # Against the record from the last few minutes' start, not against the sample 15
    # seconds earlier (3.0 / 2.95, about 1.05): past the alarm ratio of 1.2 as at five
    # minutes, though a window of records that began inside the rise keeps part of it.
    assert at_fifteen > 1.25


def test_start_up_scores_stay_out_of_the_record_at_any_cadence() -> None:
    # A member scores 50 in its first hour (statistics not settled yet), then 1, then 3
    # for five minutes a day later: news against the settled record of 1.
    def start_up(interval: float) -> float:
        per = int(REFERENCE_INTERVAL // interval)
        scores = np.r_[np.full(12 * per, 50.0), np.full(276 * per, 1.0), np.full(per, 3.0)]
        return float(ensemble_scores(scores, interval, settle=150)[-per:].max())

    assert start_up(REFERENCE_INTERVAL) > 2.5  # the first hour is 12 of 150 samples
    # At 15 seconds the first hour is 240 samples, but not 150 five-minute intervals: the
    # record still starts after 12.5 hours, not with the start-up scores (3 / 50).
    assert start_up(15.0) > 2.5


def shift_scores(interval: float, seed: int = 6) -> float:
    """Range novelty's largest score over a 50-minute shift of +20 on a series of unit
    noise whose single five-minute spikes of +30 every two hours already span the shift,
    given as ``REFERENCE_INTERVAL / interval`` samples per five minutes (a range taken as
    mature after 100 samples, to keep the series short)."""
    per = int(REFERENCE_INTERVAL // interval)
    rng = np.random.default_rng(seed)
    coarse = 50.0 + rng.normal(0.0, 1.0, int(2 * DAY / REFERENCE_INTERVAL))
    coarse[12::24] += 30.0
    start = 12 + 24 * 18 + 2  # a day and a half in, between two spikes
    coarse[start : start + 10] += 20.0
    scores = novelty_scores(create("novelty", {"horizon": 100.0}), coarse, per)
    return float(scores[start * per : (start + 10) * per].max())


def test_range_novelty_sees_a_shift_climb_past_its_short_range_at_any_cadence() -> None:
    at_five, at_fifteen = shift_scores(REFERENCE_INTERVAL), shift_scores(15.0)
    # The short average (a running median skips the spikes) leaves its known range at
    # five minutes, where the point range cannot tell the shift from the spikes.
    assert at_five > 0.8
    # At 15 seconds too: its climb is measured against the range from before it, and the
    # spikes, repeated twenty times, still do not move it.
    assert at_fifteen > 0.7 * at_five
