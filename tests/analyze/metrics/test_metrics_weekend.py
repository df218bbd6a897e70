"""The seasonal baseline's daily profile with separate bins for Saturdays and Sundays."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from opscope.analyze.metrics.calendar import is_weekend
from opscope.analyze.metrics.detector import FloatArray
from opscope.analyze.metrics.ensemble import Ensemble
from opscope.analyze.metrics.registry import create
from opscope.analyze.metrics.seasonal import SeasonalConfig

STEP = 1800.0  # half-hourly
MONDAY = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
DAY = 86_400.0


def office_load(days: int, seed: int, holiday: int | None = None) -> tuple[FloatArray, FloatArray]:
    """Half-hourly load with a working-hours hump on weekdays and a flat weekend; on the
    weekday ``holiday`` (days from the first Monday) the office stays shut."""
    rng = np.random.default_rng(seed)
    t: FloatArray = (MONDAY + np.arange(int(days * DAY / STEP)) * STEP).astype(np.float64)
    hour = np.mod(t, DAY) / 3600.0
    hump = np.clip(np.sin(np.pi * (hour - 7.0) / 11.0), 0.0, None) * ((hour > 7) & (hour < 18))
    day = np.floor((t - MONDAY) / DAY).astype(int)
    shut = is_weekend(t) | (day == holiday if holiday is not None else False)
    level = 20.0 + 60.0 * hump * ~shut
    x: FloatArray = (level + rng.normal(0.0, 3.0, t.shape[0])).astype(np.float64)
    return t, x


def run(config: dict[str, object], t: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Point score of one seasonal baseline over the series, and the size of its running
    average of scaled residuals (what the sustained score is made of)."""
    detector = create("seasonal", {"warmup": 0, **config})
    point, average = np.zeros(t.shape[0]), np.zeros(t.shape[0])
    slot = np.array([0])
    for i in range(t.shape[0]):
        point[i] = detector.step(slot, t[i : i + 1], x[i : i + 1]).score[0]
        average[i] = abs(detector.arr("shift")[0])
    return point, average


def test_weekend_days_are_saturday_and_sunday() -> None:
    days = [datetime(2026, 11, d, 12, tzinfo=UTC).timestamp() for d in range(23, 30)]
    # Monday 23 November 2026 to Sunday 29 November 2026.
    assert is_weekend(np.array(days)).tolist() == [False] * 5 + [True] * 2
    # Saturday 00:30 UTC is still Friday evening in New York.
    saturday = datetime(2026, 11, 28, 0, 30, tzinfo=UTC).timestamp()
    assert is_weekend(np.array([saturday])).tolist() == [True]
    assert is_weekend(np.array([saturday - 5 * 3600.0])).tolist() == [False]


def test_weekend_bins_need_a_daily_period() -> None:
    with pytest.raises(ValueError, match="one day"):
        create("seasonal", {"periods": [604_800.0], "bins": [84], "weekend": [True]})
    with pytest.raises(ValueError, match="same length"):
        create("seasonal", {"periods": [86_400.0], "bins": [72], "weekend": [False, True]})
    assert SeasonalConfig().weekend == (False, True)


def test_quiet_weekends_stop_looking_unusual_once_learnt() -> None:
    t, x = office_load(35, seed=1)
    weekends = is_weekend(t) & (t >= MONDAY + 21 * DAY)
    plain, _ = run({"periods": [86_400.0], "bins": [72], "weekend": [False]}, t, x)
    split, _ = run({}, t, x)
    # A plain daily profile expects the weekday hump on Saturdays and Sundays too.
    assert np.median(plain[weekends]) > 2.0 * np.median(split[weekends])
    assert np.percentile(split[weekends], 99) < 4.0


def test_a_weekday_that_stays_shut_stands_out_against_learnt_weekends() -> None:
    holiday = 30  # Wednesday of the fifth week
    t, x = office_load(35, seed=2, holiday=holiday)
    day = np.floor((t - MONDAY) / DAY)
    _, sustained = run({}, t, x)
    weekends = is_weekend(t) & (day >= 21) & (day < holiday)
    assert sustained[day == holiday].max() > 3.0 * sustained[weekends].max()


def seasonal_offsets(config: dict[str, object]) -> list[float]:
    ensemble = create("ensemble", config)
    assert isinstance(ensemble, Ensemble)
    configs = [d.config for d in ensemble.detectors if isinstance(d.config, SeasonalConfig)]
    return [c.utc_offset for c in configs]


def test_the_ensemble_gives_its_local_time_to_the_seasonal_baseline() -> None:
    # One instance serves the point and the sustained member, in New York time.
    assert seasonal_offsets({"utc_offset": -18_000.0}) == [-18_000.0]
    assert seasonal_offsets({}) == [0.0]
    # A member that sets its own keeps it.
    own = {"members": [{"detector": "seasonal", "config": {"utc_offset": 3_600.0}}]}
    assert seasonal_offsets({"utc_offset": -18_000.0, **own}) == [3_600.0]
