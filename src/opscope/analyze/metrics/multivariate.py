"""Multivariate detection per entity: several series of one entity scored together.

Each entity (a host, a service) has a vector of series. The detector keeps an
exponentially weighted mean and covariance of that vector and scores a new vector by its
Mahalanobis distance, so that a combination that is unusual is caught even when each
series alone looks normal (CPU high while requests are low). State is O(k^2) per entity
for k series, bounded by ``max_series``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.metrics.detector import FloatArray, IntArray
from opscope.errors import ValidationFailed


class MultivariateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    series: int = Field(default=4, ge=2, le=16, description="Series per entity (vector size).")
    alpha: float = Field(default=0.01, gt=0, le=1, description="Smoothing of mean, covariance.")
    shrink: float = Field(
        default=0.01, ge=0, le=1, description="Shrinkage of the covariance toward its diagonal."
    )
    warmup: int = Field(default=50, ge=0, description="Vectors before scores count.")


class EntityDetector:
    """Mahalanobis distance of an entity's vector from its running mean and covariance."""

    name = "multivariate"

    def __init__(self, config: MultivariateConfig | None = None, capacity: int = 8) -> None:
        self.config = config if config is not None else MultivariateConfig()
        k = self.config.series
        self.mean = np.zeros((capacity, k))
        self.cov = np.tile(np.eye(k), (capacity, 1, 1))
        self.n = np.zeros(capacity)

    @property
    def capacity(self) -> int:
        return int(self.n.shape[0])

    def resize(self, capacity: int) -> None:
        k, keep = self.config.series, min(capacity, self.capacity)
        mean, cov, n = np.zeros((capacity, k)), np.tile(np.eye(k), (capacity, 1, 1)), np.zeros(
            capacity
        )
        mean[:keep], cov[:keep], n[:keep] = self.mean[:keep], self.cov[:keep], self.n[:keep]
        self.mean, self.cov, self.n = mean, cov, n

    def step(self, slots: IntArray, vectors: FloatArray) -> FloatArray:
        """Score one vector (shape ``(m, k)``) per slot; missing entries (NaN) are imputed."""
        cfg = self.config
        if vectors.ndim != 2 or vectors.shape != (slots.shape[0], cfg.series):
            raise ValidationFailed(f"vectors must have shape (slots, {cfg.series})")
        mean, cov, n = self.mean[slots], self.cov[slots], self.n[slots]
        fresh = n == 0
        v = np.where(np.isfinite(vectors), vectors, mean)
        mean = np.where(fresh[:, None], v, mean)
        diag = np.einsum("mii->mi", cov)
        target = np.einsum("mi,ij->mij", diag, np.eye(cfg.series))
        reg = (1.0 - cfg.shrink) * cov + cfg.shrink * target
        reg = reg + 1e-9 * (1.0 + np.abs(target)) * np.eye(cfg.series)
        d = v - mean
        sol = np.linalg.solve(reg, d[:, :, None])[:, :, 0]
        distance = np.sqrt(np.maximum(np.einsum("mi,mi->m", d, sol), 0.0) / cfg.series)
        w = np.where(fresh, 1.0, np.maximum(cfg.alpha, 1.0 / (n + 1.0)))
        new_mean = mean + w[:, None] * d
        outer = np.einsum("mi,mj->mij", d, d)
        new_cov = np.where(
            fresh[:, None, None], cov * 0.0 + np.eye(cfg.series) * 1e-6,
            (1.0 - w)[:, None, None] * (cov + w[:, None, None] * outer),
        )
        self.mean[slots], self.cov[slots], self.n[slots] = new_mean, new_cov, n + 1.0
        result: FloatArray = np.where(n + 1 > cfg.warmup, distance, 0.0)
        return result

    def state(self, slot: int) -> dict[str, FloatArray]:
        return {"mean": self.mean[slot].copy(), "cov": self.cov[slot].copy(),
                "n": np.array(self.n[slot])}

    def load_state(self, slot: int, state: dict[str, FloatArray]) -> None:
        k = self.config.series
        if state["mean"].shape != (k,) or state["cov"].shape != (k, k):
            raise ValidationFailed("multivariate state has the wrong shape")
        self.mean[slot], self.cov[slot], self.n[slot] = state["mean"], state["cov"], state["n"]
