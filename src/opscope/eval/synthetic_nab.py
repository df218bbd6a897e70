"""``opscope eval synth-nab``: a synthetic corpus in NAB's format, shaped like NAB's held-out files.

The metric detector is developed on NAB's artificial and CloudWatch files (5-minute,
about 4,000 rows), but NAB's other groups look different: hourly business series with
gaps, 5-minute counts with daily seasonality and heavy-tailed bursts, 30-minute counts
with a weekly cycle, irregularly sampled road sensors with dropouts, drifting machine
sensors that end in failure. This module writes a corpus of such series, generated from
a seed, in exactly the layout ``opscope eval nab --data`` reads, so that a change to the
detector can be checked on series it was not tuned on.

Each file is built in three steps: timestamps (a cadence, jitter, missing rows and
outages), an expected level and a noise scale per row (trend, daily and weekly cycles),
then anomalies of the kinds operations meet (spikes and dips, level shifts, variance
changes, drifts ending in failure, flat-lined signals, a weekday that looks like a
weekend, dropouts to zero), drawn from obvious to subtle. Each anomaly has one label
point, and the scored windows are built from the label points by NAB's own rule (see
:func:`nab_windows`). The ``noAnomaly`` group holds clean series of every family.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
import typer

from opscope.eval.nab import NabFile, parse_ts, probation

FloatArray = npt.NDArray[np.float64]
Noise = Literal["additive", "multiplicative", "poisson"]

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
WINDOW_FRACTION = 0.10
"""NAB's ``windowSize``: a file's windows together span 10% of its rows."""
GENERATOR_VERSION = 1
"""Raised whenever a change makes a seed produce a different corpus."""

PROFILE_WEIGHTS: dict[str, dict[str, float]] = {
    # NAB's public cost matrices (config/profiles.json), written out as NAB ships them.
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}


@dataclass
class Signal:
    """One series before sampling: when rows fall, and what each row is expected to be."""

    variant: str
    t: FloatArray  # epoch seconds, strictly increasing
    level: FloatArray  # expected value: trend, daily and weekly cycles
    quiet: FloatArray  # expected value had the row's day been a holiday
    scale: FloatArray  # noise scale (for multiplicative and poisson noise: of the log)
    noise: Noise
    tail: float  # Student-t degrees of freedom of the noise: smaller is heavier-tailed
    kinds: tuple[str, ...]  # anomaly kinds that make sense for this series
    floor: float = 0.0
    ceiling: float = math.inf
    decimals: int = 3

    @property
    def rows_per_day(self) -> float:
        return DAY / float(np.median(np.diff(self.t)))


@dataclass
class Anomaly:
    row: int  # the label point
    kind: str
    size: float  # in units of the local noise (a factor for "variance"; rows for outages)


@dataclass
class SyntheticFile:
    key: str  # "<group>/<file>.csv"
    t: FloatArray
    values: FloatArray
    decimals: int
    anomalies: list[Anomaly] = field(default_factory=list)
    windows: list[tuple[int, int]] = field(default_factory=list)


# -- timestamps and cycles ------------------------------------------------------------


def timestamps(
    rng: np.random.Generator, n: int, step: float, *, jitter: float = 0.0,
    missing: float = 0.0, outages: int = 0,
) -> FloatArray:
    """``n`` strictly increasing stamps, ``step`` seconds apart on average.

    ``jitter`` (seconds) moves each interval at random, rounded to whole minutes as
    irregular sensors report; ``missing`` is the share of rows skipped (an interval of
    two steps); ``outages`` longer gaps of 6 to 48 steps are added.
    """
    intervals = np.full(n - 1, step)
    if jitter:
        moved = np.round((step + rng.uniform(-jitter, jitter, n - 1)) / MINUTE) * MINUTE
        intervals = np.maximum(moved, MINUTE)
    intervals = intervals + step * (rng.random(n - 1) < missing)
    for at in rng.integers(0, n - 1, size=outages):
        intervals[at] += step * int(rng.integers(6, 49))
    start_day = datetime(2013, 7, 1, tzinfo=UTC).timestamp() + DAY * int(rng.integers(0, 900))
    start = start_day + step * int(rng.integers(0, int(DAY // step)))
    return np.concatenate([[start], start + np.cumsum(intervals)])


def hour_of_day(t: FloatArray) -> FloatArray:
    return (t % DAY) / HOUR


def weekend(t: FloatArray) -> npt.NDArray[np.bool_]:
    # 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays.
    return ((t // DAY).astype(np.int64) + 3) % 7 >= 5


def daily_shape(rng: np.random.Generator, hours: FloatArray, harmonics: int = 3) -> FloatArray:
    """A smooth random daily cycle scaled to [0, 1] (its peak at a random hour)."""
    shape = np.zeros_like(hours)
    for k in range(1, harmonics + 1):
        amplitude, phase = rng.uniform(0.2, 1.0) / k, rng.uniform(0.0, 2 * math.pi)
        shape += amplitude * np.cos(2 * math.pi * k * hours / 24.0 + phase)
    low, high = float(shape.min()), float(shape.max())
    if high <= low:
        return np.zeros_like(hours)
    scaled: FloatArray = (shape - low) / (high - low)
    return scaled


def rush_hours(hours: FloatArray, morning: float, evening: float) -> FloatArray:
    """Two bumps in [0, 1]: the morning and evening rush of road traffic."""
    return np.maximum(np.exp(-0.5 * ((hours - morning) / 1.2) ** 2),
                      np.exp(-0.5 * ((hours - evening) / 1.5) ** 2))


def random_walk(rng: np.random.Generator, n: int, smooth: int, amplitude: float) -> FloatArray:
    """A slow, smooth wander of about ``amplitude`` (standard deviation)."""
    steps: FloatArray = np.cumsum(rng.normal(0.0, 1.0, n + smooth))
    walk: FloatArray = np.convolve(steps, np.ones(smooth) / smooth, mode="valid")[:n]
    walk = walk - walk.mean()
    spread = float(walk.std())
    return amplitude * walk / spread if spread > 0 else walk


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


# -- families of series ---------------------------------------------------------------


def seasonal_counts(rng: np.random.Generator) -> Signal:
    """Event counts: tweets every 5 minutes, or taxi passengers every 30 minutes."""
    if rng.random() < 0.5:
        n, step = int(rng.integers(10_000, 16_001)), 5 * MINUTE
        t = timestamps(rng, n, step, missing=0.001)
        base, depth, weekly = log_uniform(rng, 4.0, 150.0), rng.uniform(0.3, 0.8), 0.9
        scale, tail, variant = rng.uniform(0.15, 0.35), rng.uniform(2.2, 4.0), "tweets_5min"
    else:
        n, step = int(rng.integers(6_000, 10_321)), 30 * MINUTE
        t = timestamps(rng, n, step, missing=0.0005)
        base, depth, weekly = log_uniform(rng, 2_000.0, 20_000.0), rng.uniform(0.7, 0.9), 0.7
        scale, tail, variant = rng.uniform(0.04, 0.1), rng.uniform(4.0, 8.0), "taxi_30min"
    hours = hour_of_day(t)
    workday = daily_shape(rng, hours)
    # Quiet days (weekends, holidays) start later and peak lower.
    rest = daily_shape(rng, (hours - rng.uniform(1.0, 3.0)) % 24.0)
    def level_for(quiet_day: npt.NDArray[np.bool_]) -> FloatArray:
        shape = np.where(quiet_day, weekly * rest, workday)
        return base * (1.0 - depth + depth * shape)
    level = level_for(weekend(t))
    return Signal(
        variant, t, level, level_for(np.ones(n, dtype=bool)), np.full(n, scale), "poisson",
        tail, ("spike", "spike", "level_shift", "seasonal_break", "dropout"), decimals=0,
    )


def traffic_gauges(rng: np.random.Generator) -> Signal:
    """Road sensors: speed, occupancy or travel time, irregular ~5-minute samples."""
    n = int(rng.integers(1_800, 2_801))
    t = timestamps(rng, n, 5 * MINUTE, jitter=2.5 * MINUTE, missing=0.02,
                   outages=int(rng.integers(1, 5)))
    hours = hour_of_day(t)
    rush = rush_hours(hours, rng.uniform(7.0, 9.0), rng.uniform(16.5, 18.5))
    variant = str(rng.choice(["speed", "occupancy", "travel_time"]))
    if variant == "speed":
        free, drop, floor, ceiling = rng.uniform(55.0, 70.0), rng.uniform(0.2, 0.6), 0.0, 90.0
        def level_for(quiet_day: npt.NDArray[np.bool_]) -> FloatArray:
            return free * (1.0 - drop * np.where(quiet_day, 0.2, 1.0) * rush)
        noise: Noise = "additive"
        scale = rng.uniform(2.0, 5.0)
    else:
        base = rng.uniform(2.0, 6.0) if variant == "occupancy" else rng.uniform(100.0, 300.0)
        peak = rng.uniform(1.5, 3.5)
        floor, ceiling = 0.0, 100.0 if variant == "occupancy" else math.inf
        def level_for(quiet_day: npt.NDArray[np.bool_]) -> FloatArray:
            return base * (1.0 + (peak - 1.0) * np.where(quiet_day, 0.2, 1.0) * rush)
        noise, scale = "multiplicative", rng.uniform(0.08, 0.2)
    level = level_for(weekend(t))
    return Signal(
        variant, t, level, level_for(np.ones(n, dtype=bool)), np.full(n, scale),
        noise, rng.uniform(2.5, 5.0),
        ("dropout", "level_shift", "spike", "flatline", "seasonal_break"),
        floor=floor, ceiling=ceiling, decimals=2,
    )


SENSORS: dict[str, tuple[int, int, float, float, float, float, float]] = {
    # variant: (fewest rows, most rows, step, lowest level, highest level, noise sd, ceiling)
    "machine_temperature": (8_000, 16_000, 5 * MINUTE, 70.0, 95.0, 1.5, 150.0),
    "ambient_temperature": (1_200, 7_300, HOUR, 18.0, 25.0, 0.5, 60.0),
    "cpu": (3_000, 6_000, 5 * MINUTE, 15.0, 60.0, 2.0, 100.0),
    "latency": (3_000, 4_300, 5 * MINUTE, 20.0, 60.0, 3.0, math.inf),
}


def drifting_sensors(rng: np.random.Generator) -> Signal:
    """Machine temperature, room temperature, CPU use or request latency: slow drift."""
    variant = str(rng.choice(list(SENSORS)))
    shortest, longest, step, low, high, noise_sd, ceiling = SENSORS[variant]
    n, base = int(rng.integers(shortest, longest + 1)), rng.uniform(low, high)
    noise_sd *= rng.uniform(0.6, 1.4)
    t = timestamps(rng, n, step, missing=0.003, outages=int(rng.integers(0, 3)))
    rows_per_day = DAY / step
    drift = random_walk(rng, n, max(int(rows_per_day), 3), rng.uniform(1.0, 4.0) * noise_sd)
    cycle = rng.uniform(0.0, 3.0) * noise_sd * (daily_shape(rng, hour_of_day(t), 2) - 0.5)
    level = base + drift + cycle
    quiet = base + drift  # a day without the daily cycle (the plant or the service idle)
    return Signal(
        variant, t, level, quiet, np.full(n, noise_sd), "additive", rng.uniform(3.0, 8.0),
        ("drift_failure", "drift_failure", "level_shift", "variance", "spike", "flatline"),
        ceiling=ceiling, decimals=3,
    )


def hourly_business(rng: np.random.Generator) -> Signal:
    """Ad exchange cost per click or per thousand impressions: hourly, noisy, with gaps."""
    n = int(rng.integers(1_200, 1_701))
    t = timestamps(rng, n, HOUR, missing=0.02, outages=int(rng.integers(1, 4)))
    variant = str(rng.choice(["cpc", "cpm"]))
    base = rng.uniform(0.1, 1.0) if variant == "cpc" else rng.uniform(0.5, 5.0)
    depth, weekly = rng.uniform(0.1, 0.5), rng.uniform(0.5, 0.85)
    workday = daily_shape(rng, hour_of_day(t), 2)
    trend = np.exp(random_walk(rng, n, 72, rng.uniform(0.02, 0.15)))
    def level_for(quiet_day: npt.NDArray[np.bool_]) -> FloatArray:
        return base * trend * np.where(quiet_day, weekly, 1.0) * (1.0 - depth + depth * workday)
    level = level_for(weekend(t))
    return Signal(
        variant, t, level, level_for(np.ones(n, dtype=bool)),
        np.full(n, rng.uniform(0.08, 0.3)), "multiplicative", rng.uniform(2.5, 5.0),
        ("spike", "spike", "level_shift", "variance", "seasonal_break", "dropout"), decimals=6,
    )


FAMILIES: dict[str, Callable[[np.random.Generator], Signal]] = {
    "seasonalCounts": seasonal_counts,
    "trafficGauges": traffic_gauges,
    "driftingSensors": drifting_sensors,
    "hourlyBusiness": hourly_business,
}
CLEAN_GROUP = "noAnomaly"
GROUPS = (*FAMILIES, CLEAN_GROUP)


# -- anomalies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """Rows ``[start, stop)`` read zero (a dropout) or repeat the last reading (stuck)."""

    start: int
    stop: int
    stuck: bool

    def __call__(self, values: FloatArray) -> None:
        values[self.start : self.stop] = values[self.start - 1] if self.stuck else 0.0


@dataclass
class Edits:
    """Changes to a signal, applied before (level, scale) or after (values) sampling."""

    level: FloatArray
    scale: FloatArray
    after: list[Callable[[FloatArray], None]] = field(default_factory=list)


def local_noise(signal: Signal, row: int) -> float:
    """The noise's standard deviation, in value units, near ``row``."""
    level, scale = abs(float(signal.level[row])), float(signal.scale[row])
    if signal.noise == "additive":
        return scale
    if signal.noise == "multiplicative":
        return level * scale
    return math.sqrt(level) + level * scale


def inject(
    rng: np.random.Generator, signal: Signal, edits: Edits, kind: str, row: int, *,
    room: int, lead: int,
) -> Anomaly:
    """Put one anomaly of ``kind`` at ``row``. Its effect stays within ``room`` rows after
    the label point and, for a drift that precedes a failure, ``lead`` rows before it."""
    day = signal.rows_per_day
    sd = local_noise(signal, row)
    sign = 1.0 if rng.random() < 0.5 else -1.0

    def span(low_days: float, high_days: float, least: int) -> int:
        low = max(least, int(low_days * day))
        high = max(low + 1, min(room, int(high_days * day)))
        return int(rng.integers(low, high + 1)) if low < room else max(1, min(room, least))

    if kind == "spike":
        size = log_uniform(rng, 3.0, 20.0)
        width = int(rng.integers(1, 4))
        if signal.noise == "poisson":
            sign = 1.0 if rng.random() < 0.8 else -1.0  # counts burst more than they sag
        bump = sign * size * sd * np.exp(-np.arange(width) / 2.0)
        edits.level[row : row + width] += bump[: len(edits.level[row : row + width])]
        return Anomaly(row, "spike" if sign > 0 else "dip", size)
    if kind == "level_shift":
        size = log_uniform(rng, 1.5, 8.0)
        edits.level[row : row + span(0.125, 3.0, 6)] += sign * size * sd
        return Anomaly(row, "level_shift", size)
    if kind == "variance":
        size = log_uniform(rng, 2.0, 6.0)
        if signal.noise != "additive":
            # The noise acts on the log: keep its spread below about 0.75 (a factor of two).
            size = min(size, max(1.5, 0.75 / float(signal.scale[row])))
        edits.scale[row : row + span(0.25, 2.0, 6)] *= size
        return Anomaly(row, "variance", size)
    if kind == "drift_failure":
        size = log_uniform(rng, 2.0, 10.0)
        ramp = max(3, min(lead, int(rng.uniform(0.25, 1.5) * day)))
        start = max(0, row - ramp)
        grow = np.linspace(0.0, 1.0, row - start) ** 2
        edits.level[start:row] += sign * size * sd * grow
        failed = row + span(1 / 24, 0.25, 2)
        # The failure: the reading collapses (a machine stops, a host dies) by a share of
        # its level, and at least well out of its noise.
        above_floor = float(signal.level[row]) - signal.floor
        edits.level[row:failed] -= max(6.0 * sd, rng.uniform(0.3, 0.9) * above_floor)
        return Anomaly(row, "drift_failure", size)
    if kind in ("flatline", "dropout"):
        length = span(1 / 12, 0.5, 3) if kind == "flatline" else span(1 / 24, 0.3, 2)
        edits.after.append(Outage(row, row + length, stuck=kind == "flatline"))
        return Anomaly(row, kind, float(length))
    if kind == "seasonal_break":
        # The whole day follows the quiet-day cycle, as on an unannounced holiday.
        stop = min(row + int(day), len(edits.level))
        edits.level[row:stop] = signal.quiet[row:stop] + (edits.level - signal.level)[row:stop]
        return Anomaly(row, "seasonal_break", 1.0)
    raise ValueError(f"unknown anomaly kind {kind!r}")


def day_starts(t: FloatArray, low: int, high: int) -> list[int]:
    """Rows in ``[low, high)`` that open a weekday (the first row on that date)."""
    days = (t // DAY).astype(np.int64)
    rows = [i for i in range(max(low, 1), high) if days[i] != days[i - 1]]
    return [i for i in rows if not weekend(t[i : i + 1])[0]]


def place_anomalies(
    rng: np.random.Generator, signal: Signal, count: int
) -> tuple[Edits, list[Anomaly]]:
    """``count`` anomalies after the probationary period, one in each equal slot.

    Label points sit at least half a window after the probationary period, so that NAB's
    rule (which deletes windows overlapping it) keeps every window.
    """
    n = len(signal.t)
    half = int(WINDOW_FRACTION * n / count) // 2
    first, last = probation(n) + half + 1, n - half - 1
    bounds = np.linspace(first, last, count + 1).astype(int)
    edits = Edits(signal.level.copy(), signal.scale.copy())
    anomalies: list[Anomaly] = []
    for k in range(count):
        low, high = int(bounds[k]), int(bounds[k + 1])
        kind = str(rng.choice(signal.kinds))
        row = -1
        if kind == "seasonal_break":
            starts = day_starts(signal.t, low, low + (high - low) // 2)
            row = int(rng.choice(starts)) if starts else -1
            kind = kind if starts else "level_shift"
        if row < 0:
            row = int(rng.integers(low, low + max(1, (high - low) // 2)))
        room = max(2, (high - row) - (high - low) // 8)
        lead = row - (low if k else probation(n))
        anomalies.append(inject(rng, signal, edits, kind, row, room=room, lead=lead))
    return edits, anomalies


def sample(rng: np.random.Generator, signal: Signal, edits: Edits) -> FloatArray:
    n = len(signal.t)
    draw = np.clip(rng.standard_t(signal.tail, n), -12.0, 12.0)
    level = np.maximum(edits.level, signal.floor)
    if signal.noise == "additive":
        values = level + edits.scale * draw
    elif signal.noise == "multiplicative":
        values = level * np.exp(edits.scale * np.clip(draw, -4.0, 4.0))
    else:
        values = rng.poisson(level * np.exp(edits.scale * np.clip(draw, -4.0, 6.0))).astype(float)
    for change in edits.after:
        change(values)
    return np.clip(values, signal.floor, signal.ceiling)


# -- NAB's windows --------------------------------------------------------------------


def nab_windows(n: int, labels: list[int]) -> list[tuple[int, int]]:
    """NAB's labeller: a window of ``int(0.1 * n / len(labels))`` rows centred on each label
    point (clipped to the file), windows that start inside the probationary period
    deleted, and windows that overlap or touch merged.

    NAB's merge loop can leave a third overlapping window unmerged; here overlaps always
    merge, since the harness scores each row against a single window.
    """
    if not labels:
        return []
    half = int(WINDOW_FRACTION * n / len(labels)) // 2
    spans = sorted((max(a - half, 0), min(a + half, n - 1)) for a in labels)
    spans = [(s, e) for s, e in spans if s >= probation(n)]
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


# -- the corpus -----------------------------------------------------------------------


def generate_file(seed: int, group: str, index: int) -> SyntheticFile:
    """One file; its own generator, so a file does not change with the corpus size."""
    rng = np.random.default_rng([seed, GROUPS.index(group), index])
    family = group
    if group == CLEAN_GROUP:
        family = str(rng.choice(list(FAMILIES)))
    signal = FAMILIES[family](rng)
    if group == CLEAN_GROUP:
        edits, anomalies = Edits(signal.level.copy(), signal.scale.copy()), list[Anomaly]()
        name = f"clean_{family}_{signal.variant}_{index + 1}.csv"
    else:
        edits, anomalies = place_anomalies(rng, signal, int(rng.integers(1, 4)))
        name = f"{signal.variant}_{index + 1}.csv"
    values = np.round(sample(rng, signal, edits), signal.decimals)
    rows = sorted(a.row for a in anomalies)
    return SyntheticFile(
        key=f"{group}/{name}", t=signal.t, values=values, decimals=signal.decimals,
        anomalies=sorted(anomalies, key=lambda a: a.row), windows=nab_windows(len(signal.t), rows),
    )


def generate_corpus(seed: int, files_per_group: int) -> list[SyntheticFile]:
    return [generate_file(seed, group, i) for group in GROUPS for i in range(files_per_group)]


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def value_cells(f: SyntheticFile) -> list[str]:
    """The values as the CSV file holds them (rounded to the file's decimals)."""
    return [str(int(v)) if f.decimals == 0 else f"{v:.{f.decimals}f}" for v in f.values]


def as_nab_files(files: list[SyntheticFile]) -> list[NabFile]:
    """The corpus as ``opscope eval nab`` reads it back from disk: values as written,
    times to the second, windows as row ranges."""
    nab_files = []
    for f in files:
        stamps = [stamp(t) for t in f.t.tolist()]
        nab_files.append(NabFile(
            key=f.key, timestamps=stamps,
            t=np.array([parse_ts(s) for s in stamps], dtype=np.float64),
            values=np.array([float(cell) for cell in value_cells(f)], dtype=np.float64),
            windows=list(f.windows),
        ))
    return nab_files


def write_corpus(files: list[SyntheticFile], out: Path, seed: int) -> None:
    """Write ``data/``, ``labels/`` and ``config/`` as NAB lays them out, and a README.txt."""
    windows: dict[str, list[list[str]]] = {}
    points: dict[str, list[str]] = {}
    details: dict[str, list[dict[str, object]]] = {}
    for f in files:
        target = out / "data" / f.key
        target.parent.mkdir(parents=True, exist_ok=True)
        cells = value_cells(f)
        lines = [f"{stamp(t)},{cell}" for t, cell in zip(f.t.tolist(), cells, strict=True)]
        target.write_text("timestamp,value\n" + "\n".join(lines) + "\n")
        windows[f.key] = [
            [f"{stamp(f.t[s])}.000000", f"{stamp(f.t[e])}.000000"] for s, e in f.windows
        ]
        points[f.key] = [stamp(f.t[a.row]) for a in f.anomalies]
        details[f.key] = [
            {"timestamp": stamp(f.t[a.row]), "kind": a.kind, "size": round(a.size, 2)}
            for a in f.anomalies
        ]
    (out / "labels").mkdir(parents=True, exist_ok=True)
    (out / "config").mkdir(parents=True, exist_ok=True)
    (out / "labels" / "windows.json").write_text(json.dumps(windows, indent=2) + "\n")
    (out / "labels" / "points.json").write_text(json.dumps(points, indent=2) + "\n")
    (out / "labels" / "anomalies.json").write_text(json.dumps(details, indent=2) + "\n")
    profiles = {name: {"CostMatrix": weights} for name, weights in PROFILE_WEIGHTS.items()}
    (out / "config" / "profiles.json").write_text(json.dumps(profiles, indent=2) + "\n")
    (out / "README.txt").write_text(describe(files, seed))


def describe(files: list[SyntheticFile], seed: int) -> str:
    rows = sum(len(f.t) for f in files)
    lines = [
        "Synthetic corpus in NAB's layout, written by `opscope eval synth-nab`.",
        f"seed {seed}, generator version {GENERATOR_VERSION}, {len(files)} files, {rows} rows, "
        f"{sum(len(f.windows) for f in files)} windows, {sum(len(f.anomalies) for f in files)} "
        "label points.",
        "Windows follow NAB's rule: 10% of a file's rows divided by its label points, centred",
        "on each point, after the probationary period, overlaps merged.",
        "labels/anomalies.json gives each label point's kind and size (in noise units).",
        "",
    ]
    for f in files:
        kinds = ", ".join(f"{a.kind} {a.size:.1f}" for a in f.anomalies) or "none"
        lines.append(f"{f.key}: {len(f.t)} rows, anomalies: {kinds}")
    return "\n".join(lines) + "\n"


def synth_nab_command(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (must be empty or new).")],
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 1,
    files_per_group: Annotated[
        int, typer.Option("--files-per-group", min=1, help="Files in each group.")
    ] = 5,
) -> None:
    """Write a synthetic corpus shaped like NAB's held-out series, in NAB's format."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise typer.BadParameter(f"{out} exists and is not an empty folder")
    files = generate_corpus(seed, files_per_group)
    write_corpus(files, out, seed)
    typer.echo(f"wrote {len(files)} files to {out} (seed {seed})")
    for group in GROUPS:
        mine = [f for f in files if f.key.startswith(f"{group}/")]
        typer.echo(
            f"  {group:<16} files {len(mine)}  rows {sum(len(f.t) for f in mine):>6}  "
            f"windows {sum(len(f.windows) for f in mine):>2}"
        )


def parse_seeds(text: str) -> list[int]:
    """``1-20`` or ``1,4,9`` (or both: ``1-5,9``) as a list of distinct seeds, in order."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            first, last = int(low), int(high) if dash else int(low)
            if first > last:
                raise ValueError(part)
            seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a seed range (1-20) or list (1,4,9)", param_hint="--seeds"
        ) from None
    if not seeds or len(seeds) > 1000:
        raise typer.BadParameter("give between 1 and 1000 seeds", param_hint="--seeds")
    return seeds


def score_seed(seed: int, files_per_group: int,
               verdicts: bool = False) -> dict[str, dict[str, float | int]]:
    """The default ensemble and the trailing z-score on one generated corpus: the score
    under each profile, and the windows found and false alarms under the standard one;
    with ``verdicts``, also the ensemble replayed with every false alarm dismissed as it
    is raised (``run_with_verdicts``)."""
    from opscope.eval.nab import (
        PROFILES,
        baseline_config,
        default_config,
        run_bank,
        run_with_verdicts,
        score_corpus,
    )

    files = as_nab_files(generate_corpus(seed, files_per_group))
    result: dict[str, dict[str, float | int]] = {}
    runs = [("ensemble", default_config(), run_bank), ("zscore", baseline_config(), run_bank)]
    if verdicts:
        runs.append(("verdicts", default_config(), run_with_verdicts))
    for name, config, runner in runs:
        run = runner(files, name, config)
        entry: dict[str, float | int] = {}
        for profile in PROFILES:
            corpus = score_corpus(files, run.alarms, profile)
            entry[profile] = round(corpus.score, 2)
            if profile == "standard":
                entry["windows"] = corpus.windows
                entry["found"] = sum(f.tp for f in corpus.files.values())
                entry["false_alarms"] = sum(f.fp for f in corpus.files.values())
        result[name] = entry
    return result


def mean_and_error(values: list[float]) -> tuple[float, float]:
    """Mean, and its standard error (0 for a single value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def synth_nab_score_command(
    seeds: Annotated[
        str, typer.Option("--seeds", help="Seeds to generate and score: 1-20, or 1,4,9.")
    ] = "1-20",
    files_per_group: Annotated[
        int, typer.Option("--files-per-group", min=1, help="Files in each group.")
    ] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    verdicts: Annotated[
        bool,
        typer.Option("--verdicts", help="Also replay the ensemble with an operator who calls "
                     "every false alarm one as it is raised: how far verdicts quiet it."),
    ] = False,
) -> None:
    """Generate the synthetic corpora of several seeds and score each, with the mean.

    One corpus moves by a few points when a single window is found or lost, so a change
    to the detector is judged by the mean over many seeds and its standard error, here
    beside the trailing z-score scored in the same run. The corpora are those
    ``opscope eval synth-nab`` writes, scored as ``opscope eval nab`` would score them;
    nothing is written to disk. About fifteen seconds a seed on one core.
    """
    chosen = parse_seeds(seeds)
    per_seed = {seed: score_seed(seed, files_per_group, verdicts) for seed in chosen}
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("ensemble", "zscore", *(("verdicts",) if verdicts else ())):
        summary[name] = {}
        for key in (*PROFILE_WEIGHTS, "found", "false_alarms", "windows"):
            mean, error = mean_and_error([float(per_seed[s][name][key]) for s in chosen])
            summary[name][key] = {"mean": round(mean, 2), "standard_error": round(error, 2)}
    if as_json:
        typer.echo(json.dumps({"seeds": per_seed, "mean": summary}, indent=2))
        return
    typer.echo("seed  ensemble standard / low FP / low FN   found / windows  false alarms"
               "   z-score standard")
    for seed in chosen:
        e, z = per_seed[seed]["ensemble"], per_seed[seed]["zscore"]
        typer.echo(
            f"{seed:>4}  {e['standard']:>8.2f} / {e['reward_low_FP_rate']:6.2f} / "
            f"{e['reward_low_FN_rate']:6.2f}   {e['found']:>5} / {e['windows']:<7}"
            f"  {e['false_alarms']:>12}   {z['standard']:>16.2f}"
        )
    es, zs = summary["ensemble"], summary["zscore"]
    typer.echo(
        f"mean  {es['standard']['mean']:>8.2f} / {es['reward_low_FP_rate']['mean']:6.2f} / "
        f"{es['reward_low_FN_rate']['mean']:6.2f}   {es['found']['mean']:>5.1f} / "
        f"{es['windows']['mean']:<7.1f}  {es['false_alarms']['mean']:>12.1f}"
        f"   {zs['standard']['mean']:>16.2f}"
    )
    typer.echo(
        f"standard error of the mean standard score: ensemble "
        f"{es['standard']['standard_error']:.2f}, z-score {zs['standard']['standard_error']:.2f} "
        f"({len(chosen)} seeds)"
    )
    if verdicts:
        v = summary["verdicts"]
        typer.echo(
            f"with every false alarm dismissed as raised: standard {v['standard']['mean']:.2f}"
            f" / low FP {v['reward_low_FP_rate']['mean']:.2f} / low FN "
            f"{v['reward_low_FN_rate']['mean']:.2f}, found {v['found']['mean']:.1f}, false "
            f"alarms {v['false_alarms']['mean']:.1f} (against {es['false_alarms']['mean']:.1f})"
        )
