"""The correlation engine: dedup -> suppression -> correlation, in event time.

``CorrelationEngine.process(events, anomalies, now)`` folds a batch in and returns the
incident changes it caused (also written to the persistence port and handed to every
subscriber). Time moves only with the data (or an explicit ``advance``): replaying the
same notifications gives the same incidents, ids included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.correlate.config import CorrelationConfig, DedupConfig
from opscope.analyze.correlate.correlator import IncidentCorrelator
from opscope.analyze.correlate.dedup import AlertTracker, AlertUpdate, UpdateKind
from opscope.analyze.correlate.learned import CoOccurrenceModel
from opscope.analyze.correlate.linker import Linker
from opscope.analyze.correlate.port import CorrelationStore
from opscope.analyze.correlate.suppression import (
    Inhibitor,
    MaintenanceWindows,
    Suppression,
    Suppressor,
)
from opscope.analyze.correlate.topology import TopologyIndex
from opscope.model.anomaly import Anomaly
from opscope.model.events import Event, Severity, Status
from opscope.model.incident import (
    Incident,
    IncidentChange,
    IncidentMember,
    InhibitRule,
    MaintenanceWindow,
    Mute,
    Signal,
    Silence,
)
from opscope.model.topology import Entity, Relation

STATE_VERSION = 1
Subscriber = Callable[[IncidentChange], None]
LinkerFactory = Callable[[CorrelationConfig, TopologyIndex, CoOccurrenceModel], Linker]


class EngineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dedup: DedupConfig = Field(default_factory=DedupConfig)
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    anomaly_severity: Severity = Field(
        default=Severity.WARNING, description="Severity given to anomalies as signals.")
    anomaly_hold_minutes: float = Field(
        default=10.0, gt=0,
        description="An anomaly counts as firing this long after its last report.")
    inhibit_rules: list[InhibitRule] = Field(
        default_factory=list, description="Static inhibition rules.")
    maintenance_windows: list[MaintenanceWindow] = Field(
        default_factory=list, description="Static recurring maintenance windows.")


class CorrelationEngine:
    def __init__(self, config: EngineConfig | None = None, entities: Iterable[Entity] = (),
                 relations: Iterable[Relation] = (), store: CorrelationStore | None = None,
                 linker: LinkerFactory | None = None,
                 extra_suppressions: Sequence[Suppression] = ()) -> None:
        self.config = config or EngineConfig()
        cc = self.config.correlation
        self.tracker = AlertTracker(self.config.dedup, self.config.anomaly_severity,
                                    self.config.anomaly_hold_minutes)
        self.suppressor = Suppressor(windows=MaintenanceWindows(self.config.maintenance_windows),
                                     inhibitor=Inhibitor(self.config.inhibit_rules),
                                     extra=extra_suppressions)
        self._linker_factory = linker
        self.correlator = self._new_correlator(TopologyIndex(
            entities, relations, cc.max_hops, cc.impact_label, cc.impact_kinds))
        self.store = store
        self._subscribers: list[Subscriber] = []
        self._mutes: dict[str, tuple[Signal, list[Mute]]] = {}
        self._feedback_written = 0
        self.clock: datetime | None = None

    def _new_correlator(self, topology: TopologyIndex,
                        learned: CoOccurrenceModel | None = None) -> IncidentCorrelator:
        cc = self.config.correlation
        learned = learned or CoOccurrenceModel(cc.learned_min_count,
                                               max_known=cc.learned_max_types,
                                               min_alone_count=cc.solitude_min_count)
        linker = self._linker_factory(cc, topology, learned) if self._linker_factory else None
        return IncidentCorrelator(cc, topology, learned, linker)

    def set_topology(self, entities: Iterable[Entity], relations: Iterable[Relation]) -> None:
        """Use a new topology from now on (incidents keep their members)."""
        cc = self.config.correlation
        topology = TopologyIndex(entities, relations, cc.max_hops, cc.impact_label,
                                 cc.impact_kinds)
        old = self.correlator
        self.correlator = self._new_correlator(topology, old.learned)
        self.correlator.load_json(old.to_json())
        self.correlator.evicted, self.correlator.finished_dropped = \
            old.evicted, old.finished_dropped

    # -- the stream --------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback`` with every incident change, in stream order."""
        self._subscribers.append(callback)

    def _tick(self, at: datetime) -> datetime:
        self.clock = at if self.clock is None else max(self.clock, at)
        for update in [*self.tracker.take_evicted(), *self.tracker.advance(self.clock)]:
            self._route(update)
        return self.clock

    def process(self, events: Sequence[Event] = (), anomalies: Sequence[Anomaly] = (),
                now: datetime | None = None) -> list[IncidentChange]:
        """Fold in a batch. ``now`` is the batch's event time (e.g. when it was received);
        a notification's own time is ``received_at``, else ``now``, else the start or
        resolve time it carries."""
        items: list[tuple[datetime, int, Event | Anomaly]] = []
        for i, ev in enumerate(events):
            resolving = ev.status is Status.RESOLVED and ev.ends_at is not None
            when = ev.received_at or now or (ev.ends_at if resolving and ev.ends_at
                                             else ev.starts_at)
            items.append((when, i, ev))
        for j, an in enumerate(anomalies):
            items.append((an.ts, len(events) + j, an))
        # Sort by event time; ties keep arrival order, so the result is deterministic.
        items.sort(key=lambda item: (item[0], item[1]))
        for when, _, item in items:
            at = self._tick(when)
            if isinstance(item, Event):
                update = self.tracker.observe(item, at)
            else:
                update = self.tracker.observe_anomaly(item)
            for evicted in self.tracker.take_evicted():  # room was made for this one
                self._route(evicted)
            if update is not None:
                self._route(update)
        end = now if now is not None else (items[-1][0] if items else self.clock)
        return self.advance(end) if end is not None else self._publish()

    def advance(self, now: datetime) -> list[IncidentChange]:
        """Move event time to ``now``: quiet resolves, incident resolution, publication."""
        at = self._tick(now)
        for signal, _ in list(self._mutes.values()):
            # Silences end and inhibiting alerts resolve: re-check who is still muted.
            if self.suppressor.mutes(signal, at):
                continue
            del self._mutes[signal.id]
            latest = self.tracker.get(signal.source, signal.fingerprint)
            if latest is not None and latest.id == signal.id and latest.firing:
                self.correlator.observe(latest, at, (), new=True)
        self.correlator.advance(at)
        return self._publish()

    def _route(self, update: AlertUpdate) -> None:
        signal, at = update.signal, update.at
        self.suppressor.inhibitor.observe(signal)
        mutes = self.suppressor.mutes(signal, at) if signal.firing else \
            self._mutes.get(signal.id, (signal, []))[1]
        if mutes and signal.firing:
            self._mutes[signal.id] = (signal, mutes)
        else:
            self._mutes.pop(signal.id, None)
        new = update.kind in (UpdateKind.NEW, UpdateKind.REOPENED)
        self.correlator.observe(signal, at, mutes, new=new)

    def _publish(self) -> list[IncidentChange]:
        changes = self.correlator.drain()
        feedback = self.correlator.feedback[self._feedback_written:]
        self._feedback_written = len(self.correlator.feedback)
        if self.store is not None:
            if changes:
                self.store.write_changes(changes)
            if feedback:
                self.store.write_feedback(feedback)
        for change in changes:
            for callback in self._subscribers:
                callback(change)
        return changes

    def learn_from(self, groups: Iterable[Iterable[str]], weight: float = 1.0) -> None:
        """Backfill learned co-occurrence from stored incidents: each group is the signal
        types (``name@entity``) of one past incident."""
        for types in groups:
            self.correlator.learned.learn(types, weight)

    # -- suppression administration ----------------------------------------------------

    def add_silence(self, silence: Silence) -> None:
        self.suppressor.silences.put(silence)

    def expire_silence(self, silence_id: str, at: datetime) -> Silence | None:
        return self.suppressor.silences.expire(silence_id, at)

    def add_maintenance_window(self, window: MaintenanceWindow) -> None:
        self.suppressor.windows.put(window)

    def add_inhibit_rule(self, rule: InhibitRule) -> None:
        self.suppressor.inhibitor.put(rule)
        for signal in self.tracker.firing():
            self.suppressor.inhibitor.observe(signal)

    def muted(self) -> list[tuple[Signal, list[Mute]]]:
        """Firing signals that are suppressed, each with every reason."""
        return sorted(self._mutes.values(), key=lambda item: item[0].id)

    # -- operator actions (each publishes its changes) ---------------------------------

    def merge(self, target_id: str, source_ids: Sequence[str], at: datetime,
              actor: str = "") -> Incident:
        incident = self.correlator.merge(target_id, source_ids, at, actor)
        self._publish()
        return incident

    def split(self, incident_id: str, signal_ids: Sequence[str], at: datetime,
              actor: str = "") -> Incident:
        incident = self.correlator.split(incident_id, signal_ids, at, actor)
        self._publish()
        return incident

    def acknowledge(self, incident_id: str, at: datetime, actor: str) -> Incident:
        incident = self.correlator.acknowledge(incident_id, at, actor)
        self._publish()
        return incident

    def link_ticket(self, incident_id: str, ticket_id: str, at: datetime) -> Incident:
        incident = self.correlator.link_ticket(incident_id, ticket_id, at)
        self._publish()
        return incident

    def note_cause(self, incident_id: str, at: datetime, summary: str,
                   data: dict[str, Any]) -> None:
        """Put on record (and publish) that the ranking now puts another cause first."""
        self.correlator.note_cause(incident_id, at, summary, data)
        self._publish()

    # -- views -------------------------------------------------------------------------

    def bounded_state(self) -> dict[str, tuple[int, int]]:
        """Per capped kind of state (alerts, active and finished incidents): how many are
        held now and how many were evicted since start."""
        return {"alerts": (len(self.tracker), self.tracker.evicted),
                **self.correlator.bounded_state()}

    def incidents(self, include_pending: bool = False) -> list[Incident]:
        return self.correlator.incidents(include_pending)

    def get(self, incident_id: str) -> Incident | None:
        return self.correlator.get(incident_id)

    def members(self, incident_id: str) -> list[IncidentMember]:
        return self.correlator.members(incident_id)

    def incident_of(self, signal_id: str) -> str | None:
        return self.correlator.incident_of(signal_id)

    # -- state -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "clock": self.clock.isoformat() if self.clock else None,
            "dedup": self.tracker.to_json(),
            "suppression": self.suppressor.to_json(),
            "correlation": self.correlator.to_json(),
            "muted": [[s.model_dump(mode="json"), [m.model_dump(mode="json") for m in ms]]
                      for s, ms in self._mutes.values()],
            "feedback_written": self._feedback_written,
        }

    def load_json(self, doc: dict[str, Any]) -> None:
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported engine state version {doc.get('version')!r}")
        self.clock = datetime.fromisoformat(doc["clock"]) if doc["clock"] else None
        self.tracker.load_json(doc["dedup"])
        extra = self.suppressor.extra
        self.suppressor = Suppressor.from_json(doc["suppression"])
        self.suppressor.extra = extra
        for signal in self.tracker.firing():
            self.suppressor.inhibitor.observe(signal)
        self.correlator.load_json(doc["correlation"])
        self._mutes = {}
        for raw_signal, raw_mutes in doc["muted"]:
            signal = Signal.model_validate(raw_signal)
            self._mutes[signal.id] = (signal, [Mute.model_validate(m) for m in raw_mutes])
        self._feedback_written = int(doc["feedback_written"])

    def save(self) -> bytes:
        data = orjson.dumps(self.to_json())
        if self.store is not None:
            self.store.save_state(data)
        return data

    def restore(self, data: bytes | None = None) -> bool:
        """Load state from ``data`` or, if None, from the store. False if there is none."""
        if data is None and self.store is not None:
            data = self.store.load_state()
        if data is None:
            return False
        self.load_json(orjson.loads(data))
        return True


class CorrelationStage:
    """The engine as a pipeline stage: alerts and anomalies in, incident changes out."""

    name = "correlate"

    def __init__(self, engine: CorrelationEngine) -> None:
        self.engine = engine

    def process(self, batch: Sequence[Any]) -> Sequence[Any]:
        events = [item for item in batch if isinstance(item, Event)]
        anomalies = [item for item in batch if isinstance(item, Anomaly)]
        return self.engine.process(events, anomalies)
