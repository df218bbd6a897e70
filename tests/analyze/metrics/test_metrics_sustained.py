"""The seasonal baseline's sustained score, and the ensemble member that hears it."""

from __future__ import annotations

import numpy as np
import pytest

from opscope.analyze.metrics.bank import BankConfig, SeriesDetectorBank
from opscope.analyze.metrics.detector import FloatArray
from opscope.analyze.metrics.ensemble import Ensemble, EnsembleConfig, Member
from opscope.analyze.metrics.registry import create

HOUR = 3600.0
STEP_AT = 900


def hourly_counts(n: int, seed: int, step_at: int | None) -> FloatArray:
    """Hourly event counts with a strong daily swing; from ``step_at`` on, 80 % more."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    rate = 30.0 * (1.0 + 0.8 * np.sin(2 * np.pi * i / 24.0 + rng.uniform(0.0, 6.3)))
    if step_at is not None:
        rate[step_at:] *= 1.8
    return rng.poisson(rate).astype(float)


def seasonal_scores(values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Point and sustained scores of the seasonal baseline, heard through an ensemble."""
    scores = []
    for output in ("score", "sustained"):
        member = Member(detector="seasonal", reference=1.0, relative=False, output=output)
        config = {"members": [member.model_dump()], "warmup": 0, "settle": 0}
        detector = create("ensemble", config)
        out = np.zeros(values.shape[0])
        for i, value in enumerate(values):
            step = detector.step(np.array([0]), np.array([i * HOUR]), np.array([value]))
            out[i] = step.score[0]
        scores.append(out)
    return scores[0], scores[1]


def alarms(values: FloatArray, config: BankConfig | None = None) -> list[int]:
    bank = SeriesDetectorBank(config)
    out = bank.score_arrays(["s"] * values.shape[0], np.arange(values.shape[0]) * HOUR, values)
    return np.flatnonzero(out.alarm).tolist()


def test_a_level_step_stands_out_in_the_sustained_score_not_in_the_point_score() -> None:
    point, sustained = seasonal_scores(hourly_counts(1100, seed=3, step_at=STEP_AT))
    before, after = slice(300, STEP_AT), slice(STEP_AT, STEP_AT + 24)
    # One sample's residual after the step is no larger than the bursts before it; the
    # run of residuals on one side is several times anything sustained before.
    assert point[after].max() < 1.5 * point[before].max()
    assert sustained[after].max() > 3.0 * sustained[before].max() > 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_gap_in_the_timestamps_is_not_a_sustained_shift(seed: int) -> None:
    # No step: forty hours go missing before row 900, and the counts carry on as before.
    values = hourly_counts(1200, seed, None)
    t = np.arange(1200) * HOUR
    t[900:] += 40 * HOUR
    member = Member(detector="seasonal", reference=1.0, relative=False, output="sustained")
    detector = create("ensemble", {"members": [member.model_dump()], "warmup": 0, "settle": 0})
    scores = np.zeros(values.shape[0])
    for i, value in enumerate(values):
        scores[i] = detector.step(np.array([0]), np.array([t[i]]), np.array([value])).score[0]
    assert scores[900:905].max() < 1.2 * scores[300:900].max()


def test_no_sustained_score_without_a_chosen_season() -> None:
    rng = np.random.default_rng(4)
    _point, sustained = seasonal_scores(50.0 + rng.normal(0.0, 1.0, 800))
    assert sustained.max() == 0.0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_default_ensemble_reports_a_step_of_hourly_counts_with_a_daily_swing(seed: int) -> None:
    found = alarms(hourly_counts(1100, seed=seed, step_at=STEP_AT))
    assert [i for i in found if i >= 300] == [next(i for i in found if i >= STEP_AT)]
    assert STEP_AT <= found[-1] <= STEP_AT + 48


def test_the_same_counts_without_a_step_raise_no_alarm_after_warmup() -> None:
    for seed in (1, 2, 3, 4):
        assert [i for i in alarms(hourly_counts(1100, seed=seed, step_at=None)) if i >= 300] == []


def test_members_naming_one_detector_share_it() -> None:
    ensemble = Ensemble(EnsembleConfig())
    assert len(ensemble.detectors) == len(EnsembleConfig().members) - 1
    profiles = [key for key in ensemble.state_layout() if key.endswith(".prof0")]
    assert profiles == ["m0.prof0"]


def test_a_sustained_member_of_a_detector_without_one_hears_nothing() -> None:
    members = (Member(detector="changepoint", relative=False, output="sustained"),)
    config = BankConfig(detector_config={"members": [m.model_dump() for m in members]})
    assert alarms(hourly_counts(600, seed=1, step_at=400), config) == []
