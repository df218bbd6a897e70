"""Change-point detection: shifts of level and of variance, by comparing two horizons.

A fast and a slow exponential window each keep a mean and a mean absolute deviation.
A level shift shows as the fast mean leaving the slow one by many standard errors; a
variance shift as the ratio of the two deviations leaving 1. Both are O(1) per sample and
need no buffer. When a shift has held for long, the slow window has caught up and the
score falls back: a change is news once.
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
    config_class: ClassVar[type[DetectorConfig]] = ChangePointConfig
    config: ChangePointConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {
            "fmean": ((), np.nan),
            "fdev": ((), np.nan),
            "smean": ((), np.nan),
            "sdev": ((), np.nan),
            "count": ((), 0.0),
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
        # Standard error of the fast mean, for roughly independent samples.
        se = sd * 1.25 * np.sqrt(cfg.alpha_fast / (2.0 - cfg.alpha_fast))
        level_z = np.abs(fm - sm) / se
        var_z = np.abs(np.log2(np.maximum(fd, floor) / sd)) * cfg.variance_weight
        score = np.maximum(level_z / 4.0, var_z / 4.0) * 4.0
        dev = x - sm
        dc = np.clip(dev, -cfg.clip * sd, cfg.clip * sd)
        sm_a[slots] = sm + wsl * dc
        sd_a[slots] = sd + wsl * (np.abs(dc) - sd)
        fm_a[slots] = fm
        fd_a[slots] = fd
        return Step(score=score, expected=sm, scale=sd * 1.25)
