"""Change-point detection: shifts of level and of variance, by comparing two horizons.

A fast and a slow exponential window each keep a mean and a mean absolute deviation.
A level shift shows as the fast mean leaving the slow one by many standard errors; a
variance shift as the ratio of the two deviations leaving 1. Both are O(1) per sample and
need no buffer. When a shift has held for long, the slow window has caught up and the
score falls back: a change is news once.

After a gap in the timestamps the fast window forgets as much as the missing samples
would have moved it, so its first sample after the gap carries most of its weight. The
window then holds fewer samples than usual, and its mean and deviation are that much
noisier: the detector keeps the sum of the squared weights of the samples in the fast
window (alpha / (2 - alpha) under regular sampling) and measures the level shift in the
standard error those weights give, and shrinks the variance shift by the same factor.
Before, a gap alone roughly doubled the score of plain noise (the first sample after it
counted as a whole fast window, its deviation as zero). Measured with the default
ensemble, standard profile: on the NAB dev files -0.02 (one detection a few rows later,
no alarm more or less), no change on their first and last 1,000 rows or on the files
thinned to every third and sixth row; on synthetic held-out-style corpora (``opscope
eval synth-nab`` seeds 1-5) +0.00, +0.13, +0.30, +2.45 and +0.00, with 5 fewer false
alarms and one window more found; with the seasonal baseline's rule for its sustained
score, on two further seeds kept apart until the rule was fixed (6 and 7): +2.62 and
+0.12 (low-FP +3.10 and +0.25), 4 fewer false alarms and one window more.

The slow window's updates are clipped at ``clip`` scales, so that an anomaly barely bends
it. On a sparse series of spikes (``art_increase_spike_density``: zeros, and pairs of
spikes 100 samples apart) the clipped spikes teach the slow deviation little, so it
shrinks between them and each pair's second spike scores about 1.4 times the record the
pair before set: at five minutes the 25-hour alarm episode hides most of these, at 15
seconds (``opscope eval nab --fine 20``) five of them page. Tried and rejected: the slow
deviation learning from unclipped deviations (the mean still clipped), -5.3 on the NAB
dev files (75.43 to 70.11): that false alarm goes, but a disk's write series then
alarms 23 and 145 samples before two of its windows, whose episodes hide them, and
another series gains a false alarm.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from opscope.analyze.metrics.detector import (
    Context,
    Detector,
    DetectorConfig,
    FloatArray,
    IntArray,
    Step,
    time_weight,
)


class ChangePointConfig(DetectorConfig):
    alpha_fast: float = Field(default=0.15, gt=0, le=1, description="Fast window smoothing.")
    alpha_slow: float = Field(default=0.005, gt=0, le=1, description="Slow window smoothing.")
    variance_weight: float = Field(
        default=1.5,
        gt=0,
        description="Score units per doubling of the deviation (a variance shift).",
    )
    clip: float = Field(default=6.0, gt=0, description="Slow updates clipped at this many scales.")


class ChangePoint(Detector):
    """Level and variance shifts between a fast and a slow horizon."""

    name: ClassVar[str] = "changepoint"
    state_version: ClassVar[int] = 2
    config_class: ClassVar[type[DetectorConfig]] = ChangePointConfig
    config: ChangePointConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {
            "fmean": ((), np.nan),
            "fdev": ((), np.nan),
            "smean": ((), np.nan),
            "sdev": ((), np.nan),
            "count": ((), 0.0),
            "fweight": ((), 1.0),
        }

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        cfg = self.config
        fm_a, fd_a, sm_a, sd_a = self.arr("fmean"), self.arr("fdev"), self.arr("smean"), self.arr(
            "sdev"
        )
        fm, fd, sm, sd = fm_a[slots], fd_a[slots], sm_a[slots], sd_a[slots]
        fresh = ~np.isfinite(sm)
        sm = np.where(fresh, x, sm)
        fm = np.where(fresh, x, fm)
        floor = ctx.floor
        sd = np.where(np.isfinite(sd), np.maximum(sd, floor), floor)
        fd = np.where(np.isfinite(fd), np.maximum(fd, floor), sd)
        wf = time_weight(cfg.alpha_fast, ctx.ratio)
        # A plain average while young, so the slow window starts from a fair estimate
        # instead of creeping up from nothing.
        count = self.arr("count")[slots]
        wsl = np.maximum(time_weight(cfg.alpha_slow, ctx.ratio), 1.0 / (count + 2.0))
        self.arr("count")[slots] = count + 1.0
        fm = fm + wf * (x - fm)
        fd = fd + wf * (np.abs(x - fm) - fd)
        # Sum of the squared weights of the samples in the fast window: alpha / (2 - alpha)
        # under regular sampling, more after a gap, where the window holds fewer samples.
        regular = cfg.alpha_fast / (2.0 - cfg.alpha_fast)
        fw = self.arr("fweight")[slots]
        fw = np.where(fresh, 1.0, (1.0 - wf) ** 2 * fw + wf**2)
        self.arr("fweight")[slots] = fw
        # Standard error of the fast mean, for roughly independent samples.
        se = sd * 1.25 * np.sqrt(np.maximum(fw, regular))
        level_z = np.abs(fm - sm) / se
        # The deviation ratio is as much noisier as the mean, so it is shrunk alike.
        confidence = np.sqrt(regular / np.maximum(fw, regular))
        var_z = np.abs(np.log2(np.maximum(fd, floor) / sd)) * cfg.variance_weight * confidence
        score = np.maximum(level_z / 4.0, var_z / 4.0) * 4.0
        dev = x - sm
        dc = np.clip(dev, -cfg.clip * sd, cfg.clip * sd)
        sm_a[slots] = sm + wsl * dc
        sd_a[slots] = sd + wsl * (np.abs(dc) - sd)
        fm_a[slots] = fm
        fd_a[slots] = fd
        return Step(score=score, expected=sm, scale=sd * 1.25)
