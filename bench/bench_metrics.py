"""Throughput and state size of the default metric ensemble, with a trivial baseline.

    python bench/bench_metrics.py --series 10000 --points 2000

Synthetic series (daily pattern, noise, a few spikes) are scored one scrape at a time:
each batch holds one sample of every series, as a pipeline stage would receive them.
The same loop with a running-mean detector shows what the bank itself costs. Figures are
for one core (numpy's thread pools are limited to one thread before it is imported).
"""

# ruff: noqa: E402  (the thread limits must be set before numpy is first imported)
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import gc
import time
from typing import ClassVar

import numpy as np

from opscope.analyze.metrics.bank import BankConfig, SeriesDetectorBank
from opscope.analyze.metrics.detector import (
    Context,
    Detector,
    DetectorConfig,
    FloatArray,
    IntArray,
    Step,
)
from opscope.analyze.metrics.registry import register


class RunningMean(Detector):
    """Trivial reference: distance from an exponential running mean."""

    name: ClassVar[str] = "running_mean"
    config_class: ClassVar[type[DetectorConfig]] = DetectorConfig

    def _layout(self) -> dict[str, tuple[tuple[int, ...], float]]:
        return {"mean": ((), np.nan)}

    def _update(self, slots: IntArray, t: FloatArray, x: FloatArray, ctx: Context) -> Step:
        mean_all = self.arr("mean")
        mean = mean_all[slots]
        mean = np.where(np.isfinite(mean), mean, x)
        mean_all[slots] = mean + 0.05 * (x - mean)
        return Step(score=np.abs(x - mean), expected=mean, scale=np.ones_like(x))


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def synthetic(series: int, points: int, seed: int = 7) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    t = 1_700_000_000.0 + 60.0 * np.arange(points)
    phase = rng.uniform(0, 2 * np.pi, size=(series, 1))
    base = rng.uniform(10, 100, size=(series, 1))
    x = base * (1 + 0.3 * np.sin(2 * np.pi * t[None, :] / 86_400 + phase))
    x += rng.normal(0, 1, size=(series, points)) * base * 0.05
    spikes = rng.random((series, points)) < 1e-4
    x[spikes] *= 3
    return np.asarray(t, dtype=np.float64), np.asarray(x, dtype=np.float64)


def run(detector: str, t: FloatArray, x: FloatArray) -> dict[str, float]:
    series, points = x.shape
    ids = [f"s{i}" for i in range(series)]
    gc.collect()
    rss0 = rss_bytes()
    bank = SeriesDetectorBank(BankConfig(detector=detector, capacity=series))
    start = time.perf_counter()
    alarms = 0
    for k in range(points):
        out = bank.score_arrays(ids, np.full(series, t[k]), x[:, k])
        alarms += int(out.alarm.sum())
    elapsed = time.perf_counter() - start
    gc.collect()
    rss1 = rss_bytes()
    state = bank.save()
    slot_bytes = sum(
        arr[0].nbytes for arr in (bank.detector.arr(k) for k in bank.detector.state_layout())
    )
    return {
        "samples_per_s": series * points / elapsed,
        "seconds": elapsed,
        "alarms": alarms,
        "state_bytes_per_series_raw": slot_bytes,
        "state_bytes_per_series_npz": len(state) / series,
        "rss_growth_per_series": (rss1 - rss0) / series,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000)
    args = parser.parse_args()
    register("running_mean", f"{__name__}:RunningMean")
    t, x = synthetic(args.series, args.points)
    print(f"{args.series} series x {args.points} points = {args.series * args.points} samples")
    runs = (("baseline: running mean", "running_mean"), ("default ensemble", "ensemble"))
    speed: dict[str, float] = {}
    for name, detector in runs:
        r = run(detector, t, x)
        speed[detector] = r["samples_per_s"]
        print(
            f"{name:<24} {r['samples_per_s']:>12,.0f} samples/s  ({r['seconds']:.2f} s, "
            f"{r['alarms']} alarms)  state/series: {r['state_bytes_per_series_raw']:,.0f} B raw, "
            f"{r['state_bytes_per_series_npz']:,.0f} B npz, RSS growth "
            f"{r['rss_growth_per_series']:,.0f} B"
        )
    # The machine's load moves both figures; their ratio, from one run, moves less.
    print(f"ensemble / running mean: {speed['ensemble'] / speed['running_mean']:.2f}")


if __name__ == "__main__":
    main()
