"""How far, and from when, one series moved away from normal.

The centre and spread come from robust statistics of the normal reference (median, and
the larger of the interquartile and the 10-90 % ranges, each scaled to a Gaussian sigma)
so that a late detector, whose "normal" window already holds some anomalous points (up
to a tenth of them), does not inflate the spread the way a mean and standard deviation
would, and so that heavy-tailed series (high percentiles of sparse traffic) are not
over-trusted on the strength of a narrow middle alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opscope.analyze.rca.inputs import FloatArray, MetricSeries

# IQR and 10-90 % range of a standard normal distribution, to express spreads as sigmas.
_IQR_SIGMAS = 1.349
_TAIL_SIGMAS = 2.563
# Spreads are never below this: a series that never moved in normal operation and now
# moves gets a huge (not infinite) z-score; degrees saturate anyway.
_TINY = 1e-12


@dataclass(frozen=True)
class Baseline:
    """Centre and robust spread of a series in normal operation."""

    center: float
    scale: float
    samples: int


@dataclass(frozen=True)
class Shift:
    """The movement of one series after the fault time."""

    key: str
    entity: str
    metric: str
    score: float
    """Largest absolute robust z-score in the anomalous window (0 when nothing to compare)."""
    signed: float
    """The z-score at that point, with its sign: positive means the value went up."""
    onset: float | None
    """First time the series left its normal band, in unix seconds; None if it never did."""
    value: float | None
    baseline: Baseline | None
    step: float = 0.0
    """Sampling step of the series, in seconds."""
    relative: bool = False
    """True when too little history forced the relative-change fallback."""


def step_of(times: FloatArray) -> float:
    """Sampling step: the median gap between distinct timestamps (0 for a single point)."""
    t = times[np.isfinite(times)]
    if t.size < 2:
        return 0.0
    gaps = np.diff(t)
    if bool((gaps < 0).any()):  # unsorted input: sort once, then the same rule
        gaps = np.diff(np.sort(t))
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if gaps.size else 0.0


def robust_baseline(values: FloatArray) -> Baseline:
    """Median and a robust sigma of the finite values."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return Baseline(center=float("nan"), scale=float("nan"), samples=0)
    q10, q25, q50, q75, q90 = np.percentile(v, [10.0, 25.0, 50.0, 75.0, 90.0])
    scale = max(float(q75 - q25) / _IQR_SIGMAS, float(q90 - q10) / _TAIL_SIGMAS, _TINY)
    return Baseline(center=float(q50), scale=scale, samples=int(v.size))


def measure_shift(
    series: MetricSeries,
    reference: MetricSeries | None,
    fault_time: float,
    *,
    band: float,
    min_baseline: int,
    min_reference: int,
    relative_noise: float = 0.0,
    lead_in_steps: float = 5.0,
) -> Shift:
    """Compare a series from ``fault_time`` on with its normal reference.

    The spread comes from ``reference`` when it has at least ``min_reference`` points,
    otherwise from the reference pooled with the incident's points wholly before the
    fault. When the reference is another recording (it does not end within
    ``lead_in_steps`` steps before the incident), the centre is taken from the incident's
    own pre-fault points if there are any: another recording may sit at another level,
    and only the move since just before the fault is the incident's. A reference that
    leads straight into the incident keeps its own centre, so that a late fault time,
    whose "pre-fault" points are already anomalous, cannot re-level the series.

    With fewer than ``min_baseline`` normal points no spread can be estimated. If
    ``relative_noise`` is positive, the series is then scored by its relative change
    from the median of its points before the fault, taking ``relative_noise`` times its
    magnitude as one sigma (``Baseline.samples`` tells how little it rests on); else it
    is not scored.
    """
    t, v = series.times, series.values
    step = step_of(t)
    pre = v[(t + step <= fault_time) & np.isfinite(v)]
    ref = np.empty(0) if reference is None else reference.values[np.isfinite(reference.values)]
    separate = ref.size >= min_reference
    base = robust_baseline(ref if separate else np.concatenate([ref, pre]))
    relevel = separate and reference is not None and not _leads_in(
        reference.times, t, max(step, step_of(reference.times)) * lead_in_steps)
    window = t >= fault_time
    window_v = v[window]
    finite = np.isfinite(window_v)
    usable = base.samples >= min_baseline
    relative = False
    if not usable and relative_noise > 0 and finite.any():
        base = _relative_baseline(v[(t < fault_time) & np.isfinite(v)], window_v[finite],
                                  relative_noise)
        relevel = False
        usable = relative = base.samples > 0
    if not usable or not finite.any():
        return Shift(
            key=series.key, entity=series.entity, metric=series.metric, score=0.0,
            signed=0.0, onset=None, value=None, baseline=base if base.samples else None,
            step=step,
        )
    center = float(np.median(pre)) if relevel and pre.size else base.center
    base = Baseline(center=center, scale=base.scale, samples=base.samples)
    z = (window_v[finite] - center) / base.scale
    zt = t[window][finite]
    peak = int(np.argmax(np.abs(z)))
    out = np.abs(z) > band
    onset = float(zt[int(np.argmax(out))]) if out.any() else None
    return Shift(
        key=series.key, entity=series.entity, metric=series.metric,
        score=float(abs(z[peak])), signed=float(z[peak]), onset=onset,
        value=float(window_v[finite][peak]), baseline=base, step=step, relative=relative,
    )


def _leads_in(ref_times: FloatArray, times: FloatArray, gap: float) -> bool:
    """Whether the reference ends at most ``gap`` seconds before the incident starts."""
    r = ref_times[np.isfinite(ref_times)]
    t = times[np.isfinite(times)]
    if r.size == 0 or t.size == 0:
        return False
    lag = float(t.min() - r.max())
    return 0.0 <= lag <= gap


def _relative_baseline(before: FloatArray, after: FloatArray, relative_noise: float) -> Baseline:
    """A baseline for a series with almost no normal history: its level before the fault,
    with a sigma of ``relative_noise`` times the series' magnitude (before or after, the
    larger, so that a series rising from zero is not divided by zero)."""
    if before.size == 0:
        return Baseline(center=float("nan"), scale=float("nan"), samples=0)
    rough = robust_baseline(before)
    magnitude = max(abs(rough.center), float(np.median(np.abs(after))))
    return Baseline(center=rough.center, scale=max(relative_noise * magnitude, rough.scale),
                    samples=rough.samples)
