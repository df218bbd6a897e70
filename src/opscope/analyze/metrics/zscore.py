"""Trailing-window z-score: the plain reference every other detector is measured against.

The last ``window`` samples are kept in a ring; a sample scores its distance from their
mean in standard deviations. It has no notion of season or trend, which is the point of
a baseline.
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
)


class WindowZScoreConfig(DetectorConfig):
    window: int = Field(default=288, ge=2, le=4096, description="Samples in the window.")


class WindowZScore(Detector):
    """Distance from the trailing window's mean, in its standard deviations."""

    name: ClassVar[str] = "zscore"
    config_class: ClassVar[type[DetectorConfig]] = WindowZScoreConfig
    config: WindowZScoreConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {"ring": ((self.config.window,), np.nan), "pos": ((), 0.0)}

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        ring_all, pos_all = self.arr("ring"), self.arr("pos")
        ring = ring_all[slots]
        have = np.isfinite(ring)
        count = np.maximum(np.sum(have, axis=1), 1)
        filled = np.where(have, ring, 0.0)
        mean = np.sum(filled, axis=1) / count
        var = np.sum(np.where(have, (filled - mean[:, None]) ** 2, 0.0), axis=1) / count
        mean = np.where(have.any(axis=1), mean, x)
        std = np.sqrt(var)
        scale = np.maximum(std, 1e-9 * (1.0 + np.abs(mean)))
        pos = pos_all[slots].astype(np.intp)
        ring_all[slots, pos] = x
        pos_all[slots] = (pos + 1) % self.config.window
        return Step(score=np.abs(x - mean) / scale, expected=mean, scale=scale)
