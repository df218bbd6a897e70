"""One detector state per series, bounded, turning samples into ``Anomaly`` records.

The bank maps series ids to slots of one vectorised detector. A batch is grouped by
series (order within a series kept: the data's sequence is the truth, even when two rows
share a timestamp), and its k-th samples of every series are scored together in one
vectorised step. When more series appear than ``capacity`` allows, the series updated
least recently loses its slot and starts afresh if it comes back.
"""

from __future__ import annotations

import io
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.metrics.alarm import AlarmConfig, AlarmRules, AlarmState, calibrate
from opscope.analyze.metrics.detector import BoolArray, Detector, FloatArray, IntArray
from opscope.analyze.metrics.registry import create
from opscope.errors import ValidationFailed
from opscope.model import Anomaly, MetricSample
from opscope.model.units import quantities

BANK_FORMAT = "opscope.metric-bank-state"
BANK_VERSION = 2


class BankConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str = Field(default="ensemble", description="Registry name of the detector.")
    detector_config: dict[str, object] = Field(
        default_factory=dict, description="Configuration of that detector."
    )
    capacity: int = Field(default=100_000, ge=1, description="Most series kept at once.")
    alarms: AlarmRules = Field(default_factory=AlarmRules, description="Alarm settings.")


@dataclass(frozen=True)
class BankScores:
    """Per input sample: calibrated score in [0, 1) (NaN if rejected), alarm, band, the
    index of the detector's view that drove the score and that view's own score there
    (NaN when it names none)."""

    score: FloatArray
    alarm: BoolArray
    value: FloatArray
    expected: FloatArray
    lower: FloatArray
    upper: FloatArray
    driver: FloatArray
    level: FloatArray


class SeriesDetectorBank:
    """Keeps one detector state per series and scores batches of samples."""

    def __init__(self, config: BankConfig | None = None) -> None:
        self.config = config if config is not None else BankConfig()
        self.detector: Detector = create(
            self.config.detector,
            dict(self.config.detector_config),
            capacity=min(16, self.config.capacity),
        )
        self.alarm_state = AlarmState.empty(self.detector.capacity)
        self._slots: OrderedDict[str, int] = OrderedDict()
        self._free: list[int] = []
        self._alarm_of: dict[str, AlarmConfig] = {}
        self._half = np.ones(self.detector.capacity)
        self._threshold = np.full(self.detector.capacity, 0.5)
        self._hold = np.zeros(self.detector.capacity)
        self._hold_s = np.zeros(self.detector.capacity)
        self.evicted = 0
        """Series that lost their slot to a newer one because ``capacity`` was reached."""
        self.verdicts_seen = 0
        """The store's sequence number of the last verdict applied (saved with the state)."""

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, series: object) -> bool:
        """Whether the series holds a detector state here."""
        return series in self._slots

    # -- slots ----------------------------------------------------------------------

    def _slot(self, series: str, metric: str) -> int:
        slot = self._slots.get(series)
        if slot is not None:
            self._slots.move_to_end(series)
            return slot
        if len(self._slots) >= self.config.capacity:
            _old, slot = self._slots.popitem(last=False)
            self.evicted += 1
            self.detector.reset(np.array([slot], dtype=np.intp))
            self.alarm_state.clear(slot)
        elif self._free:
            slot = self._free.pop()
        else:
            slot = len(self._slots)
            if slot >= self.detector.capacity:
                self._grow(min(self.config.capacity, max(16, 2 * self.detector.capacity)))
        self._slots[series] = slot
        rule = self.config.alarms.for_metric(metric)
        self._half[slot], self._threshold[slot] = rule.half, rule.threshold
        self._hold[slot], self._hold_s[slot] = rule.hold_off, rule.hold_off_seconds
        return slot

    def _grow(self, capacity: int) -> None:
        self.detector.resize(capacity)
        self.alarm_state.resize(capacity)
        for name, fill in (("_half", 1.0), ("_threshold", 0.5), ("_hold", 0.0),
                           ("_hold_s", 0.0)):
            old = getattr(self, name)
            new = np.full(capacity, fill)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    # -- scoring --------------------------------------------------------------------

    def score_arrays(
        self,
        series: Sequence[str],
        t: npt.ArrayLike,
        x: npt.ArrayLike,
        metrics: Sequence[str] | None = None,
    ) -> BankScores:
        """Score a batch given as parallel arrays (event time ``t`` in unix seconds)."""
        times = np.asarray(t, dtype=np.float64)
        values = np.asarray(x, dtype=np.float64)
        n = len(series)
        if times.shape != (n,) or values.shape != (n,):
            raise ValidationFailed("series, t and x must have the same length")
        names = metrics if metrics is not None else series
        slot_of: dict[str, int] = {}
        slots = np.empty(n, dtype=np.intp)
        for i, sid in enumerate(series):
            slot = slot_of.get(sid)
            if slot is None:
                slot = slot_of[sid] = self._slot(sid, names[i])
            slots[i] = slot
        return self._score_slots(slots, times, values)

    def _score_slots(self, slots: IntArray, t: FloatArray, x: FloatArray) -> BankScores:
        n = slots.shape[0]
        out = BankScores(
            score=np.full(n, np.nan), alarm=np.zeros(n, dtype=bool), value=np.full(n, np.nan),
            expected=np.full(n, np.nan), lower=np.full(n, np.nan), upper=np.full(n, np.nan),
            driver=np.full(n, np.nan), level=np.full(n, np.nan),
        )
        if n == 0:
            return out
        order = np.argsort(slots, kind="stable")
        sorted_slots = slots[order]
        starts = np.flatnonzero(np.r_[True, sorted_slots[1:] != sorted_slots[:-1]])
        lengths = np.diff(np.r_[starts, n])
        rank = np.arange(n) - np.repeat(starts, lengths)
        # Visit rows step by step: step k holds the k-th sample of every series in the batch.
        by_rank = order[np.argsort(rank, kind="stable")]
        bounds = np.r_[0, np.cumsum(np.bincount(rank))]
        for k in range(bounds.shape[0] - 1):
            rows = by_rank[bounds[k] : bounds[k + 1]]
            s = slots[rows]
            scored = self.detector.step(s, t[rows], x[rows])
            cal = calibrate(scored.score, self._half[s])
            cal = np.where(np.isfinite(scored.score), cal, np.nan)
            out.score[rows] = cal
            out.alarm[rows] = self.alarm_state.step(
                s, t[rows], cal, self._threshold[s], self._hold[s], self._hold_s[s]
            )
            out.value[rows] = scored.value
            out.expected[rows] = scored.expected
            out.lower[rows] = scored.lower
            out.upper[rows] = scored.upper
            out.driver[rows] = scored.driver
            out.level[rows] = scored.level
        return out

    def update(self, samples: Sequence[MetricSample]) -> list[Anomaly]:
        """Score a batch of samples; return one ``Anomaly`` per alarm raised."""
        series = [s.series for s in samples]
        t = np.array([s.ts.timestamp() for s in samples], dtype=np.float64)
        x = np.array([s.value for s in samples], dtype=np.float64)
        scores = self.score_arrays(series, t, x, [s.name for s in samples])
        return [metric_anomaly(samples[i], series[i], scores, i, self.detector)
                for i in np.flatnonzero(scores.alarm).tolist()]

    def tolerate(self, series: str, index: float, level: float,
                 at: float | None = None) -> bool:
        """Teach the series' detector that a surprise of ``level`` from view ``index`` (an
        anomaly's ``evidence.driver_index`` and ``evidence.driver_level``), raised at event
        time ``at``, was a false alarm; False when the series holds no slot or the detector
        cannot take it."""
        slot = self._slots.get(series)
        return slot is not None and self.detector.tolerate(slot, index, level, at)

    # -- persistence ----------------------------------------------------------------

    def save(self) -> bytes:
        """The whole bank as npz: detector state, alarm state and the series index."""
        index = {
            "format": BANK_FORMAT,
            "version": BANK_VERSION,
            "detector": self.detector.header(),
            "slots": dict(self._slots),
            "free": self._free,
            "verdicts_seen": self.verdicts_seen,
        }
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            index=np.frombuffer(json.dumps(index).encode(), dtype=np.uint8),
            detector=np.frombuffer(self.detector.save_npz(), dtype=np.uint8),
            quiet=self.alarm_state.quiet,
            last=self.alarm_state.last,
            calm=self.alarm_state.calm,
            half=self._half,
            threshold=self._threshold,
            hold=self._hold,
            hold_seconds=self._hold_s,
        )
        return buffer.getvalue()

    @classmethod
    def load(cls, data: bytes, config: BankConfig | None = None) -> SeriesDetectorBank:
        bank = cls(config)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            index = json.loads(npz["index"].tobytes().decode())
            if index.get("format") != BANK_FORMAT or index.get("version") != BANK_VERSION:
                raise ValidationFailed("not a metric bank state of a supported version")
            bank.detector.load_npz(npz["detector"].tobytes())
            bank._grow(bank.detector.capacity)
            bank.alarm_state.quiet[...] = npz["quiet"]
            bank.alarm_state.last[...] = npz["last"]
            if "calm" in npz.files:  # saved before episodes lasted while hot
                bank.alarm_state.calm[...] = npz["calm"]
            bank._half[...] = npz["half"]
            bank._threshold[...] = npz["threshold"]
            bank._hold[...] = npz["hold"]
            bank._hold_s[...] = npz["hold_seconds"]
        bank._slots = OrderedDict((str(k), int(v)) for k, v in index["slots"].items())
        bank._free = [int(v) for v in index["free"]]
        bank.verdicts_seen = int(index.get("verdicts_seen", 0))
        return bank


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def metric_anomaly(sample: MetricSample, series: str, scores: BankScores, i: int,
                   detector: Detector) -> Anomaly:
    """The anomaly of the alarm raised on row ``i`` of ``scores`` (the row of ``sample``);
    its summary writes the values in the unit the metric's name declares and, for a
    detector of several views (the ensemble), says which view found it and why."""
    value, expected = float(scores.value[i]), float(scores.expected[i])
    direction = "up" if value > expected else "down" if value < expected else ""
    now, usual = quantities(value, expected, sample.name)
    summary = f"{sample.name} is {direction or 'off'}: {now} where about {usual} was expected"
    evidence: dict[str, Any] = {"metric": sample.name, "labels": dict(sample.labels)}
    view = detector.driver(float(scores.driver[i]))
    if view is not None:
        evidence["driver"], evidence["driver_text"] = view
        evidence["driver_index"] = int(scores.driver[i])
        level = _finite(scores.level[i])
        if level is not None:
            evidence["driver_level"] = level
        summary += f" ({view[1]})"
    return Anomaly(
        kind="metric", detector=detector.name, entity=sample.entity, subject=series,
        ts=sample.ts, score=float(scores.score[i]), value=_finite(value),
        expected=_finite(expected), lower=_finite(scores.lower[i]),
        upper=_finite(scores.upper[i]), direction=direction, summary=summary,
        evidence=evidence,
    )
