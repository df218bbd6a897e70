"""Forecast residual: a damped-trend exponential smoothing model, ETS(A,Ad,N).

The detector predicts each sample from the ones before it and scores the one-step
residual against a running robust scale. It reacts to what is sudden (spikes, dips,
steps) and forgets a level shift within a few dozen samples, which is what makes it the
complement of the slow seasonal baseline.
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


class ForecastConfig(DetectorConfig):
    alpha: float = Field(default=0.3, gt=0, le=1, description="Level smoothing.")
    beta: float = Field(default=0.02, ge=0, le=1, description="Trend smoothing.")
    phi: float = Field(default=0.9, ge=0, le=1, description="Trend damping per step.")
    alpha_scale: float = Field(default=0.01, gt=0, le=1, description="Scale smoothing.")
    clip: float = Field(default=4.0, gt=0, description="Updates are clipped at this many scales.")


class ForecastResidual(Detector):
    """One-step-ahead residual of damped Holt smoothing, in units of its running scale."""

    name: ClassVar[str] = "forecast"
    config_class: ClassVar[type[DetectorConfig]] = ForecastConfig
    config: ForecastConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {"level": ((), np.nan), "trend": ((), 0.0), "scale": ((), np.nan)}

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        cfg = self.config
        level_all, trend_all, scale_all = self.arr("level"), self.arr("trend"), self.arr("scale")
        level, trend, scale = level_all[slots], trend_all[slots], scale_all[slots]
        fresh = ~np.isfinite(level)
        level = np.where(fresh, x, level)
        # After a gap the trend has had several steps to act; damping keeps that bounded.
        damp = np.power(cfg.phi, ctx.ratio)
        pred = level + trend * cfg.phi * (1.0 - damp) / max(1.0 - cfg.phi, 1e-9)
        resid = x - pred
        floor = ctx.floor
        known = np.isfinite(scale)
        s = np.where(known, np.maximum(scale, floor), np.abs(resid) + floor)
        rc = np.clip(resid, -cfg.clip * s, cfg.clip * s)
        wa = time_weight(cfg.alpha, ctx.ratio)
        new_level = pred + wa * rc
        trend_all[slots] = damp * trend + cfg.beta * (new_level - level - trend)
        level_all[slots] = new_level
        ws = time_weight(cfg.alpha_scale, ctx.ratio)
        scale_all[slots] = np.where(known, s + ws * (1.25 * np.abs(rc) - s), 1.25 * np.abs(rc))
        return Step(score=np.abs(resid) / s, expected=pred, scale=s)
