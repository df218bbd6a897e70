"""Local time for calendar features: named zones with daylight saving, and days off."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from pydantic import ValidationError

from opscope.analyze.metrics.calendar import LocalClock, zone_table
from opscope.analyze.metrics.detector import FloatArray
from opscope.analyze.metrics.ensemble import Ensemble, EnsembleConfig
from opscope.analyze.metrics.registry import create
from opscope.analyze.metrics.seasonal import SeasonalConfig

HOUR = 3600.0
DAY = 86_400.0


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_new_york_springs_forward_and_falls_back_at_the_right_second() -> None:
    instants, offsets = zone_table("America/New_York")
    # 2026: clocks go from 02:00 EST to 03:00 EDT on 8 March (07:00 UTC) and back from
    # 02:00 EDT to 01:00 EST on 1 November (06:00 UTC).
    assert utc(2026, 3, 8, 7) in instants.tolist()
    assert utc(2026, 11, 1, 6) in instants.tolist()
    clock = LocalClock("America/New_York")
    t = np.array([utc(2026, 3, 8, 7) - 1, utc(2026, 3, 8, 7), utc(2026, 11, 1, 6) - 1,
                  utc(2026, 11, 1, 6)])
    assert clock.offset(t).tolist() == [-5 * HOUR, -4 * HOUR, -4 * HOUR, -5 * HOUR]
    assert offsets.shape == instants.shape


def test_a_fixed_offset_applies_without_a_zone() -> None:
    clock = LocalClock(utc_offset=19_800.0)  # India
    assert clock.local(np.array([0.0])).tolist() == [19_800.0]


def test_weekends_and_holidays_fall_on_local_dates() -> None:
    clock = LocalClock("America/New_York", holidays=["2026-12-25"])
    t = np.array([
        utc(2026, 11, 28, 0, 30),  # Saturday in UTC, Friday evening in New York
        utc(2026, 11, 28, 15),  # Saturday
        utc(2026, 12, 25, 15),  # Christmas, a Friday
        utc(2026, 12, 26, 3),  # Saturday in UTC, still Christmas evening in New York
        utc(2026, 12, 24, 15),  # an ordinary Thursday
    ])
    assert clock.quiet(t).tolist() == [False, True, True, True, False]


def test_unknown_zones_and_bad_dates_are_named() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        SeasonalConfig(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="2026-13-01"):
        SeasonalConfig(holidays=("2026-13-01",))
    with pytest.raises(ValidationError, match="list of dates"):
        EnsembleConfig.model_validate({"holidays": "2026-12-25"})
    # YAML reads an unquoted date as a date object: it is taken as the same day.
    days = SeasonalConfig.model_validate({"holidays": [date(2026, 12, 25), "2026-01-01"]})
    assert days.holidays == ("2026-01-01", "2026-12-25")


def office_hours(zone: str, start: float, days: int, seed: int) -> tuple[FloatArray, FloatArray]:
    """5-minute load with a sharp working-day hump from 09:00 to 17:00 in ``zone``."""
    rng = np.random.default_rng(seed)
    t: FloatArray = start + np.arange(int(days * DAY / 300.0)) * 300.0
    hour = np.mod(LocalClock(zone).local(t), DAY) / HOUR
    level = 10.0 + 50.0 * ((hour >= 9.0) & (hour < 17.0))
    x: FloatArray = level + rng.normal(0.0, 1.0, t.shape[0])
    return t, x


def point_scores(config: dict[str, object], t: FloatArray, x: FloatArray) -> FloatArray:
    detector = create("seasonal", {"warmup": 0, "weekend": [False, False], **config})
    slot = np.array([0])
    return np.array([
        detector.step(slot, t[i : i + 1], x[i : i + 1]).score[0] for i in range(t.shape[0])
    ])


def test_a_named_zone_keeps_the_daily_profile_on_local_time_through_daylight_saving() -> None:
    # Two weeks before New York springs forward, three days after.
    t, x = office_hours("America/New_York", utc(2026, 2, 22), 17, seed=3)
    after = t >= utc(2026, 3, 9, 12)
    in_utc = point_scores({}, t, x)
    local = point_scores({"timezone": "America/New_York"}, t, x)
    # In UTC the hump starts and ends an hour early: its edges sit in the wrong bins.
    assert np.percentile(in_utc[after], 99) > 5.0
    assert np.percentile(local[after], 99) < 4.0


def test_the_ensemble_gives_its_calendar_to_the_seasonal_baseline() -> None:
    ensemble = create("ensemble", {"timezone": "Europe/Berlin", "holidays": ["2026-12-24"]})
    assert isinstance(ensemble, Ensemble)
    configs = [d.config for d in ensemble.detectors if isinstance(d.config, SeasonalConfig)]
    assert [(c.timezone, c.holidays) for c in configs] == [("Europe/Berlin", ("2026-12-24",))]
