"""Rate detectors: template surges and disappearances per entity, error and warning surges.

Records are counted per key in event-time buckets. A bucket is scored once event time has
moved ``lateness_buckets`` past it. The baseline of a key is a seasonal profile (one slot
per hour of the day by default) blended with an overall exponentially weighted mean and
variance, so that a nightly batch or a morning peak is expected rather than flagged:

* surge: the count is ``threshold`` standard deviations above the expected count (with a
  Poisson floor on the variance) and at least ``min_count``;
* disappearance: the bucket is empty where at least ``min_expected`` lines were expected,
  which a Poisson process produces with probability below ``exp(-min_expected)``.

The baseline learns from each scored bucket, clipped at the alarm bound so that an
incident does not teach it that incidents are normal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.logs.detector import (
    TemplateText,
    anomaly_id,
    bounded_examples,
    check_version,
    entity_of,
    ts_of,
)
from opscope.model import Anomaly, Level, LogRecord

_VERSION = 1


class RateConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket_seconds: int = Field(default=300, ge=1, description="Width of a count bucket.")
    season_seconds: int = Field(
        default=86_400, ge=1, description="Length of the seasonal cycle (a day by default).",
    )
    season_slots: int = Field(
        default=24, ge=1, description="Slots of the seasonal profile (hours of the day).",
    )
    alpha: float = Field(
        default=0.1, gt=0.0, le=1.0,
        description="Weight of the newest bucket in the moving mean and variance.",
    )
    slot_alpha: float = Field(
        default=0.3, gt=0.0, le=1.0, description="Weight of the newest bucket in its slot.",
    )
    min_history: int = Field(
        default=12, ge=1, description="Buckets a key needs before it is scored.",
    )
    threshold: float = Field(default=4.0, gt=0.0, description="Surge bound in std devs.")
    min_count: int = Field(default=10, ge=1, description="Smallest count that is a surge.")
    min_expected: float = Field(
        default=5.0, gt=0.0, description="Expected count above which an empty bucket alarms.",
    )
    detect_drops: bool = Field(default=True, description="Report disappearances too.")
    lateness_buckets: int = Field(
        default=1, ge=0, description="Buckets to wait for late records before scoring.",
    )
    max_keys: int = Field(default=20_000, ge=1, description="Keys tracked; oldest evicted.")
    max_gap_buckets: int = Field(
        default=288, ge=1,
        description="Empty buckets filled in after a silence; longer gaps restart scoring.",
    )
    examples: int = Field(default=3, ge=0, description="Example lines kept per bucket.")


@dataclass
class _Series:
    mean: float = 0.0
    var: float = 0.0
    n: int = 0
    # Per seasonal slot: [mean, variance, buckets seen].
    slots: list[list[float]] = field(default_factory=list)
    last_closed: int | None = None
    open: dict[int, int] = field(default_factory=dict)
    examples: dict[int, list[str]] = field(default_factory=dict)
    # Direction of the alarm raised on the previous bucket: one alarm per episode.
    alarm: str = ""

    def expected(self, slot: int) -> tuple[float, float]:
        """Expected count and its variance: the slot's own once it has history."""
        mean, var, seen = self.slots[slot]
        if seen >= 2:
            return mean, var
        return self.mean, self.var


class CountBaseline:
    """Per-key seasonal count baselines over event-time buckets (the shared engine)."""

    def __init__(self, config: RateConfig) -> None:
        self.config = config
        self._series: dict[str, _Series] = {}
        self._watermark: int | None = None
        self.evicted = 0

    def add(self, key: str, ts: float, message: str) -> None:
        config = self.config
        bucket = int(ts // config.bucket_seconds)
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= self.config.max_keys:
                del self._series[next(iter(self._series))]
                self.evicted += 1
            series = _Series(slots=[[0.0, 0.0, 0.0] for _ in range(self.config.season_slots)])
            self._series[key] = series
        if series.last_closed is not None and bucket <= series.last_closed:
            return  # later than the lateness allowance: the bucket is already scored
        series.open[bucket] = series.open.get(bucket, 0) + 1
        examples = series.examples.get(bucket)
        if examples is None:
            examples = series.examples[bucket] = []
        if len(examples) < config.examples:
            bounded_examples(examples, message, config.examples)
        if self._watermark is None or bucket > self._watermark:
            self._watermark = bucket

    def close(self) -> list[tuple[str, _Series, int, int, float, float, list[str]]]:
        """Score every due bucket: (key, series, bucket, count, expected, sd, examples)."""
        if self._watermark is None:
            return []
        due = self._watermark - self.config.lateness_buckets
        out: list[tuple[str, _Series, int, int, float, float, list[str]]] = []
        for key, series in self._series.items():
            start = series.last_closed + 1 if series.last_closed is not None else (
                min(series.open) if series.open else due + 1)
            if due - start >= self.config.max_gap_buckets:
                # A long silence: skip it rather than score hundreds of empty buckets.
                start = max(start, min((b for b in series.open if b <= due), default=due))
            for bucket in range(start, due + 1):
                count = series.open.pop(bucket, 0)
                examples = series.examples.pop(bucket, [])
                result = self._score_and_learn(series, bucket, count)
                if result is not None:
                    out.append((key, series, bucket, count, result[0], result[1], examples))
                series.last_closed = bucket
        return out

    def _score_and_learn(self, series: _Series, bucket: int,
                         count: int) -> tuple[float, float] | None:
        cfg = self.config
        slot = int((bucket * cfg.bucket_seconds % cfg.season_seconds)
                   * cfg.season_slots // cfg.season_seconds)
        expected, var = series.expected(slot)
        sd = math.sqrt(max(var, expected) + 1.0)
        scored = series.n >= cfg.min_history
        upper = expected + cfg.threshold * sd
        learn = min(float(count), upper) if scored else float(count)
        diff = learn - series.mean
        if series.n == 0:
            series.mean = learn
        else:
            series.mean += cfg.alpha * diff
            series.var = (1 - cfg.alpha) * (series.var + cfg.alpha * diff * diff)
        cell = series.slots[slot]
        if cell[2] == 0:
            cell[0] = learn
        else:
            slot_diff = learn - cell[0]
            cell[0] += cfg.slot_alpha * slot_diff
            cell[1] = (1 - cfg.slot_alpha) * (cell[1] + cfg.slot_alpha * slot_diff * slot_diff)
        cell[2] += 1
        series.n += 1
        return (expected, sd) if scored else None

    def to_json(self) -> dict[str, Any]:
        return {
            "watermark": self._watermark, "evicted": self.evicted,
            "series": {
                k: {"mean": s.mean, "var": s.var, "n": s.n, "slots": s.slots,
                    "last_closed": s.last_closed, "alarm": s.alarm,
                    "open": [[b, c] for b, c in s.open.items()],
                    "examples": [[b, e] for b, e in s.examples.items()]}
                for k, s in self._series.items()
            },
        }

    def load(self, state: dict[str, Any]) -> None:
        self._watermark = state["watermark"]
        self.evicted = int(state["evicted"])
        for key, s in state["series"].items():
            self._series[key] = _Series(
                mean=float(s["mean"]), var=float(s["var"]), n=int(s["n"]),
                slots=[[float(x) for x in cell] for cell in s["slots"]],
                last_closed=s["last_closed"], open={int(b): int(c) for b, c in s["open"]},
                examples={int(b): list(e) for b, e in s["examples"]}, alarm=str(s["alarm"]),
            )


KeyOf = Callable[[LogRecord], str | None]


class _RateDetectorBase:
    kind = ""
    anomaly_kind = ""
    surges_only = False

    def __init__(self, config: RateConfig | None = None,
                 template_text: TemplateText | None = None) -> None:
        self.config = config or RateConfig()
        self.template_text = template_text
        self._baseline = CountBaseline(self.config)

    def key_of(self, record: LogRecord) -> str | None:
        raise NotImplementedError

    def observe(self, records: Sequence[LogRecord]) -> list[Anomaly]:
        key_of, add = self.key_of, self._baseline.add
        for record in records:
            key = key_of(record)
            if key is not None:
                add(key, record.ts.timestamp(), record.message)
        found: list[Anomaly] = []
        cfg = self.config
        for key, series, bucket, count, expected, sd, examples in self._baseline.close():
            z = (count - expected) / sd
            surge = z >= cfg.threshold and count >= cfg.min_count
            drop = (not self.surges_only and cfg.detect_drops and count == 0
                    and expected >= cfg.min_expected)
            direction = "up" if surge else "down" if drop else ""
            if direction and direction != series.alarm:
                found.append(self._anomaly(key, bucket, count, expected, sd, z, examples,
                                           direction))
            series.alarm = direction
        return found

    def _describe(self, key: str) -> tuple[str, str, dict[str, Any]]:
        entity, _, subject = key.partition("\0")
        return entity, subject, {}

    def _anomaly(self, key: str, bucket: int, count: int, expected: float, sd: float,
                 z: float, examples: list[str], direction: str) -> Anomaly:
        cfg = self.config
        entity, subject, extra = self._describe(key)
        start = ts_of(bucket * cfg.bucket_seconds)
        lower = max(0.0, expected - cfg.threshold * sd)
        upper = expected + cfg.threshold * sd
        what = "surge" if direction == "up" else "disappearance"
        # A disappearance scores as the log-improbability of an empty bucket (Poisson).
        score = z if direction == "up" else expected / math.log(10)
        return Anomaly(
            id=anomaly_id(self.kind, key, bucket), kind=self.anomaly_kind, detector=self.kind,
            entity=entity, subject=subject, ts=start, score=round(score, 4),
            value=float(count), expected=round(expected, 4), lower=round(lower, 4),
            upper=round(upper, 4), direction=direction,
            summary=f"{what} of {subject} on {entity or 'unknown entity'}: {count} lines in "
                    f"{cfg.bucket_seconds}s, expected about {expected:.1f}",
            evidence={
                **extra, "count": count, "expected": round(expected, 4),
                "expected_range": [round(lower, 4), round(upper, 4)],
                "bucket_start": start.isoformat(), "bucket_seconds": cfg.bucket_seconds,
                "examples": examples,
            },
        )

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": _VERSION, "config": self.config.model_dump(),
                "baseline": self._baseline.to_json()}

    def _load(self, state: dict[str, Any]) -> None:
        check_version(state, self.kind, _VERSION)
        self._baseline.load(state["baseline"])


class TemplateRateDetector(_RateDetectorBase):
    """Surges and disappearances of each template's rate, per entity."""

    kind = "template_rate"
    anomaly_kind = "log_rate"

    def key_of(self, record: LogRecord) -> str | None:
        tid = record.template_id
        if not tid:
            return None
        return f"{record.entity or record.source}\0{tid}"  # entity_of, inlined: every line

    def _describe(self, key: str) -> tuple[str, str, dict[str, Any]]:
        entity, _, tid = key.partition("\0")
        text = self.template_text(tid) if self.template_text is not None else None
        return entity, tid, {"template_id": tid, "template": text}

    @classmethod
    def from_json(cls, state: dict[str, Any],
                  template_text: TemplateText | None = None) -> TemplateRateDetector:
        detector = cls(RateConfig(**state["config"]), template_text)
        detector._load(state)
        return detector


_SURGE_LEVELS = {Level.FATAL: "error", Level.ERROR: "error", Level.WARNING: "warning"}


class LevelSurgeDetector(_RateDetectorBase):
    """Surges of error and warning lines per entity (fatal counts as error)."""

    kind = "level_surge"
    anomaly_kind = "log_level_surge"
    surges_only = True

    def key_of(self, record: LogRecord) -> str | None:
        level = _SURGE_LEVELS.get(record.level)
        return None if level is None else f"{entity_of(record)}\0{level}"

    def _describe(self, key: str) -> tuple[str, str, dict[str, Any]]:
        entity, _, level = key.partition("\0")
        return entity, f"{level} lines", {"level": level}

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> LevelSurgeDetector:
        detector = cls(RateConfig(**state["config"]))
        detector._load(state)
        return detector
