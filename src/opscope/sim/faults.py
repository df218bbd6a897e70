"""Faults the simulator can inject, a seeded random schedule of them, and their ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from opscope.errors import ValidationFailed
from opscope.model.base import UtcDatetime
from opscope.sim.topology import CACHE, DATABASE, HOST, QUEUE, SERVICE, Topology


class FaultKind(StrEnum):
    CPU_HOG = "cpu_hog"
    MEMORY_LEAK = "memory_leak"
    LATENCY = "latency"
    ERROR_BURST = "error_burst"
    CONNECTION_POOL_EXHAUSTION = "connection_pool_exhaustion"
    BAD_DEPLOY = "bad_deploy"
    NETWORK_LOSS = "network_loss"


# Which kinds of entity each fault can hit; a pool fault on a service needs a pool.
TARGET_KINDS: dict[FaultKind, tuple[str, ...]] = {
    FaultKind.CPU_HOG: (SERVICE, HOST, DATABASE),
    FaultKind.MEMORY_LEAK: (SERVICE, CACHE),
    FaultKind.LATENCY: (SERVICE, DATABASE, CACHE, QUEUE),
    FaultKind.ERROR_BURST: (SERVICE,),
    FaultKind.CONNECTION_POOL_EXHAUSTION: (SERVICE, DATABASE),
    FaultKind.BAD_DEPLOY: (SERVICE,),
    FaultKind.NETWORK_LOSS: (SERVICE, HOST),
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: active on ``[start, end)`` in event time."""

    id: str
    kind: FaultKind
    entity: str
    start: datetime
    end: datetime
    intensity: float = 1.0

    def elapsed(self, t: datetime) -> float:
        return (t - self.start).total_seconds()

    @property
    def duration(self) -> float:
        return (self.end - self.start).total_seconds()


class GroundTruth(BaseModel):
    """What really happened, for scoring incidents and root causes against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fault_id: str
    kind: FaultKind
    root_entity: str = Field(description="Where the fault was injected.")
    start: UtcDatetime
    end: UtcDatetime
    affected_entities: list[str] = Field(
        default_factory=list,
        description="Entities whose signals the fault visibly moved so far, root included, "
                    "sorted.",
    )
    intensity: float = 1.0
    change_id: str | None = Field(
        default=None, description="The deploy that caused it, for bad_deploy faults.")


class FaultScheduleConfig(BaseModel):
    """A seeded random fault every few minutes, for the demo and for evaluations."""

    model_config = ConfigDict(extra="forbid")

    every_minutes: float = Field(default=10.0, gt=0, description="Mean gap between fault starts.")
    jitter_fraction: float = Field(default=0.2, ge=0, lt=1,
                                   description="Each gap varies by up to this fraction.")
    first_after_minutes: float = Field(default=1.0, ge=0,
                                       description="Delay before the first fault.")
    min_duration_minutes: float = Field(default=3.0, gt=0)
    max_duration_minutes: float = Field(default=8.0, gt=0)
    min_intensity: float = Field(default=0.6, gt=0, le=1)
    max_intensity: float = Field(default=1.0, gt=0, le=1)
    quiet_gap_minutes: float = Field(
        default=2.0, ge=0,
        description="Minimum quiet time after one fault ends before the next starts, so that "
                    "each fault's ground truth stays separable.")
    kinds: list[FaultKind] = Field(default_factory=lambda: list(FaultKind),
                                   description="Kinds to draw from, uniformly.")


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FaultInjector:
    """Holds injected faults, draws scheduled ones, and keeps their ground truth."""

    def __init__(self, topology: Topology, rng: np.random.Generator, now: datetime) -> None:
        self._topology = topology
        self._rng = rng
        self._now = now
        self._faults: list[Fault] = []
        self._affected: dict[str, set[str]] = {}
        self._change_ids: dict[str, str] = {}
        self._schedule: FaultScheduleConfig | None = None
        self._next_at: datetime | None = None

    # -- injection ---------------------------------------------------------------------

    def candidates(self, kind: FaultKind) -> list[str]:
        """Entities this kind of fault can be injected into."""
        out = self._topology.of_kind(*TARGET_KINDS[kind])
        if kind is FaultKind.CONNECTION_POOL_EXHAUSTION:
            out = [e for e in out if self._topology.specs[e].pool_size > 0]
        return out

    def inject(self, kind: FaultKind | str, entity: str, at: datetime | None = None,
               duration: timedelta | float = 300.0, intensity: float = 1.0) -> Fault:
        """Schedule a fault on ``entity`` from ``at`` (default: now) for ``duration`` seconds."""
        try:
            fault_kind = FaultKind(kind)
        except ValueError:
            allowed = ", ".join(k.value for k in FaultKind)
            raise ValidationFailed(f"unknown fault kind {kind!r}; use one of {allowed}") from None
        if entity not in self._topology.specs:
            raise ValidationFailed(f"unknown entity {entity!r}")
        if entity not in self.candidates(fault_kind):
            raise ValidationFailed(
                f"{fault_kind.value} cannot be injected into {entity!r} "
                f"({self._topology.kind(entity)}); candidates: {self.candidates(fault_kind)}")
        seconds = _seconds(duration)
        if seconds <= 0:
            raise ValidationFailed("duration must be positive")
        if not 0 < intensity <= 1:
            raise ValidationFailed("intensity must be in (0, 1]")
        start = self._now if at is None else at
        if start.tzinfo is None:  # naive times are UTC, as everywhere in opscope
            start = start.replace(tzinfo=UTC)
        if start < self._now:
            raise ValidationFailed(f"fault start {start.isoformat()} is before the simulation's "
                                   f"current time {self._now.isoformat()}")
        fault = Fault(id=f"fault-{len(self._faults) + 1:04d}", kind=fault_kind, entity=entity,
                      start=start, end=start + timedelta(seconds=seconds), intensity=intensity)
        self._faults.append(fault)
        self._affected[fault.id] = set()
        return fault

    def schedule_random(self, config: FaultScheduleConfig | None = None) -> None:
        """Inject a random fault every ``config.every_minutes`` from now on (seeded)."""
        self._schedule = config or FaultScheduleConfig()
        if self._schedule.max_duration_minutes < self._schedule.min_duration_minutes:
            raise ValidationFailed("max_duration_minutes is below min_duration_minutes")
        if not self._schedule.kinds:
            raise ValidationFailed("the schedule needs at least one fault kind")
        self._next_at = self._now + timedelta(minutes=self._schedule.first_after_minutes)

    # -- advancing time ----------------------------------------------------------------

    def advance(self, until: datetime) -> None:
        """Move the clock to ``until``, drawing every scheduled fault that starts by then."""
        while self._schedule is not None and self._next_at is not None \
                and self._next_at <= until:
            self._draw(self._schedule, self._next_at)
        self._now = until

    def _draw(self, cfg: FaultScheduleConfig, at: datetime) -> None:
        rng = self._rng
        kinds = sorted(cfg.kinds)
        kind = kinds[int(rng.integers(len(kinds)))]
        targets = self.candidates(kind)
        entity = targets[int(rng.integers(len(targets)))]
        minutes = float(rng.uniform(cfg.min_duration_minutes, cfg.max_duration_minutes))
        intensity = float(rng.uniform(min(cfg.min_intensity, cfg.max_intensity),
                                      max(cfg.min_intensity, cfg.max_intensity)))
        fault = self.inject(kind, entity, at, timedelta(minutes=round(minutes * 6) / 6),
                            intensity=round(intensity, 2))
        gap = cfg.every_minutes * (1.0 + cfg.jitter_fraction * float(rng.uniform(-1, 1)))
        self._next_at = max(at + timedelta(minutes=gap),
                            fault.end + timedelta(minutes=cfg.quiet_gap_minutes))

    def active(self, t: datetime, drain_seconds: float = 0.0) -> list[Fault]:
        """Faults in effect at ``t``, or still draining through the call graph."""
        tail = timedelta(seconds=drain_seconds)
        return [f for f in self._faults if f.start <= t < f.end + tail]

    def starting(self, after: datetime, until: datetime) -> list[Fault]:
        return [f for f in self._faults if after < f.start <= until]

    def ending(self, after: datetime, until: datetime) -> list[Fault]:
        return [f for f in self._faults if after < f.end <= until]

    # -- ground truth ------------------------------------------------------------------

    def mark_affected(self, fault_id: str, entities: list[str]) -> None:
        self._affected[fault_id].update(entities)

    def link_change(self, fault_id: str, change_id: str) -> None:
        self._change_ids[fault_id] = change_id

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def ground_truth(self, only: set[str] | None = None) -> list[GroundTruth]:
        """One record per fault injected so far (or per id in ``only``), in start order."""
        out = []
        for f in sorted(self._faults, key=lambda f: (f.start, f.id)):
            if only is not None and f.id not in only:
                continue
            affected = self._affected[f.id] | {f.entity}
            out.append(GroundTruth(
                fault_id=f.id, kind=f.kind, root_entity=f.entity, start=f.start, end=f.end,
                affected_entities=sorted(affected), intensity=f.intensity,
                change_id=self._change_ids.get(f.id)))
        return out
