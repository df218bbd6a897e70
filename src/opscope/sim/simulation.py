"""The simulated shop as one object: each ``tick()`` advances event time by one step."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from opscope.model import Change, Event, LogRecord, MetricSample, Ticket
from opscope.sim.alerts import AlertEvaluator, NoiseAlerts, default_rules
from opscope.sim.changes import ReleaseTrain
from opscope.sim.config import SimulationConfig
from opscope.sim.faults import Fault, FaultInjector, FaultKind, GroundTruth
from opscope.sim.logs import LogWriter
from opscope.sim.metrics import metric_samples
from opscope.sim.shop import EntityState, ShopModel
from opscope.sim.tickets import TicketDesk, ticket_history
from opscope.sim.topology import Topology, default_shop


@dataclass
class Batch:
    """Everything the shop emitted during one step (or several, once extended)."""

    events: list[Event] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    metrics: list[MetricSample] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None

    def __len__(self) -> int:
        return (len(self.events) + len(self.logs) + len(self.metrics) + len(self.changes)
                + len(self.tickets))

    def extend(self, other: Batch) -> None:
        """Append ``other``'s records; the time span grows to cover both."""
        for name in ("events", "logs", "metrics", "changes", "tickets"):
            getattr(self, name).extend(getattr(other, name))
        starts = [t for t in (self.start, other.start) if t is not None]
        ends = [t for t in (self.end, other.end) if t is not None]
        self.start = min(starts) if starts else None
        self.end = max(ends) if ends else None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready data, in the shape the ingest endpoints take."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                out[f.name] = [item.model_dump(mode="json") for item in value]
            else:
                out[f.name] = value.isoformat() if value is not None else None
        return out


class Simulation:
    """A small online shop with faults, driven in event time.

    The same ``seed`` (and the same calls) give byte-identical output. Each part draws from
    its own random stream, so injecting a fault does not change unrelated noise.
    """

    def __init__(self, seed: int, start: datetime, step_seconds: float = 10.0,
                 config: SimulationConfig | None = None,
                 topology: Topology | None = None) -> None:
        if step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        self.seed = seed
        self.config = config or SimulationConfig()
        self._topology = topology or default_shop()
        self._step = timedelta(seconds=step_seconds)
        self._now = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)]
        shape, faults, logs, noise, deploys, tickets, _spare = streams
        self.faults = FaultInjector(self._topology, faults, self._now)
        self._shop = ShopModel(self._topology, shape, step_seconds, self.config)
        slo = {e: float(v) for e, v in zip(self._topology.ids, self._shop.slo_p95, strict=True)}
        self._alerts = AlertEvaluator(default_rules(slo))
        self._noise = NoiseAlerts(self._topology, noise, self.config.noise_alerts_per_hour)
        self._release = ReleaseTrain(self._topology, deploys, self.config.deploys_per_day)
        self._logs = LogWriter(self._topology, logs, self.config, self._release.version_of)
        self._desk = TicketDesk(self._topology, tickets, self.config.ticket_probability)
        self._last_states: list[EntityState] = []

    # -- read-only views -----------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Event time at the end of the last step."""
        return self._now

    @property
    def step(self) -> timedelta:
        return self._step

    def topology(self) -> Topology:
        return self._topology

    def states(self) -> list[EntityState]:
        """Each entity's state at the end of the last step (empty before the first)."""
        return list(self._last_states)

    def latency_slo(self, entity: str) -> float:
        """The p95 latency (seconds) above which ``entity`` gets a latency alert."""
        return float(self._shop.slo_p95[self._topology.index(entity)])

    def ground_truth(self) -> list[GroundTruth]:
        return self.faults.ground_truth()

    def ticket_history(self, days: int = 30) -> list[Ticket]:
        """Resolved tickets about past problems, for a backfill before the run starts."""
        return ticket_history(self._topology, self.seed, self._now, days)

    # -- driving -----------------------------------------------------------------------

    def inject(self, kind: FaultKind | str, entity: str, at: datetime | None = None,
               duration: timedelta | float = 300.0, intensity: float = 1.0) -> Fault:
        """Shortcut for ``self.faults.inject``."""
        return self.faults.inject(kind, entity, at, duration, intensity)

    def tick(self) -> Batch:
        t0, t1 = self._now, self._now + self._step
        self.faults.advance(t1)
        changes = self._release.routine(t0, t1)
        for fault in self.faults.starting(t0, t1):
            if fault.kind is FaultKind.BAD_DEPLOY:
                change = self._release.deploy(fault.entity, fault.start)
                self.faults.link_change(fault.id, change.id)
                changes.append(change)
        for fault in self.faults.ending(t0, t1):
            if fault.kind is FaultKind.BAD_DEPLOY:
                changes.append(self._release.rollback(fault.entity, fault.end))
        changes.sort(key=lambda c: (c.ts, c.id))

        active = self.faults.active(t1, self._shop.drain_seconds())
        states, affected = self._shop.step(t1, active)
        for fault_id, entities in affected.items():
            self.faults.mark_affected(fault_id, entities)
        self._last_states = states

        events = self._alerts.evaluate(t1, states)
        events += self._noise.step(t1, self._step.total_seconds())
        truths = self.faults.ground_truth(only={f.id for f in active})
        batch = Batch(
            events=events,
            logs=self._logs.step(t0, t1, states, changes),
            metrics=metric_samples(states, self._topology, t1),
            changes=changes,
            tickets=self._desk.step(t1, truths),
            start=t0, end=t1,
        )
        self._now = t1
        return batch
