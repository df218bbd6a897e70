"""Alarm episodes: the hold-off after an alarm ends after a number of samples or a span of
event time, whichever comes first, and not before the scores have cooled for five minutes
within that span."""

from __future__ import annotations

import numpy as np

from opscope.analyze.metrics.alarm import AlarmConfig, AlarmState
from opscope.analyze.metrics.bank import SeriesDetectorBank

HOUR = 3600.0
DAY = 86_400.0


def raised(state: AlarmState, slot: int, t: float, hold_s: float,
           hold_n: float = np.inf) -> bool:
    alarm = state.step(np.array([slot]), np.array([t]), np.array([0.9]), np.array([0.5]),
                       np.array([hold_n]), np.array([hold_s]))
    return bool(alarm[0])


def test_a_coarse_series_is_held_for_the_time_not_the_count() -> None:
    hold = AlarmConfig().hold_off_seconds
    state = AlarmState.empty(1)
    assert raised(state, 0, 0.0, hold, 300)  # the first alarm of an episode
    assert not raised(state, 0, 10 * HOUR, hold, 300)  # the same episode
    assert not raised(state, 0, hold, hold, 300)  # still held at exactly the hold-off
    assert raised(state, 0, 2 * DAY, hold, 300)  # a new episode after 2 of 300 samples


def fine_alarms(scores: list[float], scrape: float = 15.0) -> list[int]:
    config = AlarmConfig()
    state = AlarmState.empty(1)
    alarms = [state.step(np.array([0]), np.array([i * scrape]), np.array([c]),
                         np.array([config.threshold]), np.array([float(config.hold_off)]),
                         np.array([config.hold_off_seconds]))[0] for i, c in enumerate(scores)]
    return [i for i, a in enumerate(alarms) if a]


def test_a_fine_series_that_cools_is_held_for_the_count_not_the_time() -> None:
    hold = AlarmConfig().hold_off
    # Hot at the first sample, then cool for 80 minutes at 15 s, then hot again: alarms at
    # the first sample and again once hold_off samples (75 minutes) have passed, long
    # before the 25 hours of hold_off_seconds.
    assert fine_alarms([0.9] + [0.1] * (hold + 20) + [0.9] * 5) == [0, hold + 21]
    # A rise that began inside the episode belongs to it, however long it lasts.
    assert fine_alarms([0.9] + [0.1] * 40 + [0.9] * (hold + 10)) == [0]


def test_an_episode_lasts_while_its_scores_stay_hot() -> None:
    hold = AlarmConfig().hold_off
    # Three hours hot at 15 s: one incident, one alarm, though 300 samples pass twice.
    assert fine_alarms([0.9] * 720) == [0]
    # A dip shorter than five minutes (one minute) does not end the incident either.
    assert fine_alarms([0.9] * (hold + 1) + [0.1] * 4 + [0.9] * 20) == [0]
    # Five quiet minutes do.
    assert fine_alarms([0.9] * (hold + 1) + [0.1] * 20 + [0.9] * 5) == [0, hold + 21]
    # At five minutes a quiet sample is five quiet minutes: the count governs as before.
    assert fine_alarms([0.9, 0.1] * 200, scrape=300.0) == [0, hold + 2]


def test_cold_and_rejected_samples_raise_nothing() -> None:
    state = AlarmState.empty(1)
    alarm = state.step(np.array([0]), np.array([0.0]), np.array([np.nan]), np.array([0.5]),
                       np.array([0.0]), np.array([0.0]))
    assert not alarm[0]
    assert not raised_with(state, 0.4)
    assert raised_with(state, 0.6)


def raised_with(state: AlarmState, calibrated: float) -> bool:
    alarm = state.step(np.array([0]), np.array([DAY]), np.array([calibrated]),
                       np.array([0.5]), np.array([0.0]), np.array([0.0]))
    return bool(alarm[0])


def hourly_with_two_incidents(n: int, spike_at: int, drop_at: int) -> np.ndarray:
    rng = np.random.default_rng(5)
    values = 100.0 + rng.normal(0.0, 2.0, n)
    values[spike_at] += 60.0
    values[drop_at:] -= 50.0  # the source loses half its load two days after the spike
    return values


def test_an_hourly_series_reports_an_incident_two_days_after_the_last() -> None:
    # Two days are 48 hourly samples: a hold-off counted in samples alone (300, a day at
    # 5 minutes) would hide the second incident for twelve days.
    values = hourly_with_two_incidents(700, spike_at=500, drop_at=548)
    bank = SeriesDetectorBank()
    t = np.arange(values.shape[0]) * HOUR
    out = bank.score_arrays(["s"] * values.shape[0], t, values)
    alarms = np.flatnonzero(out.alarm)
    assert alarms[0] == 500
    assert np.any((alarms >= 548) & (alarms <= 552))


def test_a_restored_bank_keeps_the_episode_open() -> None:
    values = hourly_with_two_incidents(560, spike_at=500, drop_at=510)
    t = np.arange(values.shape[0]) * HOUR
    bank = SeriesDetectorBank()
    first = bank.score_arrays(["s"] * 505, t[:505], values[:505])
    assert first.alarm[500]
    restored = SeriesDetectorBank.load(bank.save())
    rest = ["s"] * (values.shape[0] - 505)
    a = bank.score_arrays(rest, t[505:], values[505:])
    b = restored.score_arrays(rest, t[505:], values[505:])
    # The drop ten hours later belongs to the spike's episode, in both banks.
    assert np.array_equal(a.alarm, b.alarm)
    assert not a.alarm.any()
    assert np.nanmax(a.score) >= 0.5  # hot, but held


def test_a_restored_bank_remembers_that_an_episode_stayed_hot() -> None:
    bank = SeriesDetectorBank()
    bank.score_arrays(["s"], [0.0], [1.0])
    bank.alarm_state.step(np.array([0]), np.array([0.0]), np.array([0.9]), np.array([0.5]),
                          np.array([300.0]), np.array([DAY]))
    restored = SeriesDetectorBank.load(bank.save())
    assert np.isnan(restored.alarm_state.calm[0])  # hot since the alarm
    again = restored.alarm_state.step(np.array([0]), np.array([HOUR * 2]), np.array([0.9]),
                                      np.array([0.5]), np.array([0.0]), np.array([DAY]))
    assert not again[0]  # the count is spent, but the episode never cooled
