"""Per-series shift measurement: robust scale, windows, references, onset."""

from __future__ import annotations

import numpy as np
import pytest

from opscope.analyze.rca import MetricSeries, RcaInputs, anomaly_degree, rank_by_nsigma
from opscope.analyze.rca.config import RcaConfig
from opscope.analyze.rca.shift import measure_shift, robust_baseline, step_of


def _s(values: list[float], start: float = 0.0, step: float = 1.0, key: str = "x") -> MetricSeries:
    times = start + step * np.arange(len(values), dtype=np.float64)
    return MetricSeries.of(key, key, "m", times, values)


def _measure(series: MetricSeries, reference: MetricSeries | None, fault: float) -> float:
    return measure_shift(series, reference, fault, band=5.0, min_baseline=3,
                         min_reference=10).score


def test_step_is_the_median_gap_of_distinct_times() -> None:
    assert step_of(np.array([0.0, 300.0, 300.0, 600.0, 1200.0])) == 300.0
    assert step_of(np.array([5.0])) == 0.0


def test_baseline_spread_is_robust_to_a_few_outliers() -> None:
    clean = np.array([10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 10.0, 11.0, 9.0, 10.0] * 10)
    dirty = clean.copy()
    dirty[:8] = 500.0  # 8 % contamination, e.g. a fault time given late
    a, b = robust_baseline(clean), robust_baseline(dirty)
    assert a.center == pytest.approx(10.0) and b.center == pytest.approx(10.0)
    assert b.scale == pytest.approx(a.scale, rel=0.5)
    assert b.scale < 2.0


def test_shift_measured_in_robust_sigmas_from_the_fault_on() -> None:
    values = [10, 11, 9, 10, 10.5, 9.5, 10, 11, 9, 10, 30, 30, 30]
    z = _measure(_s(values), None, fault=10.0)
    assert z > 10.0
    # Before the fault time nothing is scored.
    assert _measure(_s(values), None, fault=20.0) == 0.0


def test_too_short_a_baseline_is_not_trusted() -> None:
    assert _measure(_s([10, 11, 50, 50]), None, fault=2.0) == 0.0


def test_lead_in_reference_keeps_its_centre_when_the_fault_time_is_late() -> None:
    # The reference leads straight into the incident; the fault time given is 3 steps
    # late, so the "pre-fault" points are already high. The shift must still be seen.
    ref = _s([10, 11, 9, 10, 10.5, 9.5, 10, 11, 9, 10, 10, 10], start=0.0)
    incident = _s([30, 30, 30, 30, 30, 30], start=12.0)
    assert _measure(incident, ref, fault=15.0) > 10.0


def test_separate_recording_is_relevelled_on_pre_fault_points() -> None:
    ref = _s([10, 11, 9, 10, 10.5, 9.5, 10, 11, 9, 10, 10, 10], start=1e6)
    flat_but_higher = _s([14, 14, 14, 14, 14, 14], start=0.0)
    assert _measure(flat_but_higher, ref, fault=3.0) == pytest.approx(0.0)


def test_anomaly_degree_is_zero_in_band_and_saturates() -> None:
    cfg = RcaConfig()
    assert anomaly_degree(cfg.band, cfg) == 0.0
    assert 0.0 < anomaly_degree(cfg.band + 1, cfg) < anomaly_degree(cfg.band + 10, cfg) < 1.0
    assert anomaly_degree(float("nan"), cfg) == 0.0


def test_nsigma_baseline_ranks_by_largest_z() -> None:
    quiet = _s([10, 11, 9, 10, 10, 11, 9, 10, 10, 10], key="quiet")
    loud = _s([10, 11, 9, 10, 10, 11, 9, 10, 40, 40], key="loud")
    inputs = RcaInputs(series=[quiet, loud], fault_time=8.0)
    assert rank_by_nsigma(inputs) == ["loud", "quiet"]
    assert rank_by_nsigma(inputs, robust=False) == ["loud", "quiet"]


def test_series_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError):
        MetricSeries(key="k", entity="e", metric="m", times=np.zeros(3), values=np.zeros(2))


def test_almost_no_history_falls_back_to_relative_change() -> None:
    series = _s([10.0, 10.0, 30.0, 30.0])
    shift = measure_shift(series, None, 2.0, band=5.0, min_baseline=3, min_reference=10,
                          relative_noise=0.1)
    # Centre 10 from the two points before the fault; one sigma = 10 % of magnitude 30.
    assert shift.baseline is not None and shift.baseline.samples == 2
    assert shift.score == pytest.approx(20.0 / 3.0)
    assert shift.signed > 0 and shift.relative
