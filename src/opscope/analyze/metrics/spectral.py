"""Spectral residual (Ren et al., KDD 2019), online over a short ring of recent samples.

The log-amplitude spectrum of the window minus its local average is the "spectral
residual"; transformed back, it gives a saliency map where the unexpected parts of the
window stand out. The score is the saliency of the newest sample against the running
mean saliency. Cost per sample is one FFT of ``window`` points: constant, bounded state.
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

_PAD = 5


class SpectralConfig(DetectorConfig):
    window: int = Field(default=32, ge=8, le=512, description="Samples in the FFT window.")
    average: int = Field(default=3, ge=1, description="Width of the log-spectrum average.")
    alpha: float = Field(default=0.02, gt=0, le=1, description="Smoothing of mean saliency.")


class SpectralResidual(Detector):
    """Saliency of the newest sample in the spectral-residual map of a trailing window."""

    name: ClassVar[str] = "spectral"
    config_class: ClassVar[type[DetectorConfig]] = SpectralConfig
    config: SpectralConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {"ring": ((self.config.window,), np.nan), "pos": ((), 0.0), "sal": ((), np.nan)}

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        cfg = self.config
        ring_all, pos_all, sal_all = self.arr("ring"), self.arr("pos"), self.arr("sal")
        pos = pos_all[slots].astype(np.intp)
        ring_all[slots, pos] = x
        pos_all[slots] = (pos + 1) % cfg.window
        # Unroll each ring so that the newest sample is last.
        idx = (pos[:, None] + 1 + np.arange(cfg.window)[None, :]) % cfg.window
        window = ring_all[slots[:, None], idx]
        filled = np.isfinite(window)
        mean = np.sum(np.where(filled, window, 0.0), axis=1) / np.maximum(filled.sum(axis=1), 1)
        window = np.where(filled, window, mean[:, None]) - mean[:, None]
        # The newest sample must not sit on the window's edge, where the transform is least
        # reliable: pad with a few copies of the window mean (0 once centred), as the
        # method's authors do with their extrapolated points.
        padded = np.concatenate([window, np.zeros((window.shape[0], _PAD))], axis=1)
        size = cfg.window + _PAD
        spec = np.fft.rfft(padded, axis=1)
        amp = np.abs(spec) + 1e-12
        # The window is centred, so its mean (bin 0) is empty; its log would drag the
        # local average of its neighbours to minus infinity. Give it a neighbour's level.
        amp[:, 0] = amp[:, 1]
        log_amp = np.log(amp)
        kernel = np.ones(cfg.average) / cfg.average
        smooth = np.apply_along_axis(lambda r: np.convolve(r, kernel, mode="same"), 1, log_amp)
        residual = np.exp(log_amp - smooth)
        residual[:, 0] = 0.0
        saliency = np.abs(np.fft.irfft(residual * spec / amp, n=size, axis=1))
        # The newest sample's saliency against the rest of the window's, and that ratio
        # against its own running mean: a point is salient when it stands out of its
        # window more than points of this series usually do.
        newest = saliency[:, cfg.window - 1]
        local = np.mean(saliency[:, : cfg.window - 1], axis=1) + 1e-12
        ratio = newest / local
        sal = sal_all[slots]
        known = np.isfinite(sal)
        base = np.where(known, sal, ratio) + 1e-12
        score = ratio / base
        w = time_weight(cfg.alpha, ctx.ratio)
        sal_all[slots] = np.where(known, sal + w * (ratio - sal), ratio)
        spread = np.sqrt(np.mean(window**2, axis=1))
        return Step(score=score, expected=mean, scale=spread)
