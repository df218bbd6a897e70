"""The live incident stage: alerts and anomalies in, incidents with ranked root causes out.

The correlation engine is not thread-safe, and the bus calls each subscriber from its
own thread, so the stage owns one worker thread and a queue: bus batches (events,
anomalies, topology, metric time) and operator commands (ack, resolve, merge, split,
silences) are all submitted to that queue and run in order. A bus handler waits for
its batch to be processed, which keeps the bus queues' back-pressure honest and makes
``bus.drain()`` mean "correlated".

Time is event time. Alerts and anomalies move the engine's clock, and so do metric
samples (``advance``), so that incidents resolve while data flows even when no alert
does. Root-cause ranking runs when an incident opens; while the incident is young
(``rca_young_seconds``) it runs again every ``rca_young_interval_seconds`` of event
time, because right after the onset every new sample shows more of who moved first and
how far; after that it runs at most once per ``rca_debounce_seconds`` while the incident
keeps changing, so a growing storm is not re-ranked per alert. The cost is bounded: a
young incident is ranked at most ``rca_young_seconds / rca_young_interval_seconds``
times, an older one once per debounce period, and no step runs more than
``rca_max_rankings_per_step`` rankings (never-ranked incidents first, then the longest
overdue). Each ranking is stored with the incident.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.correlate.engine import CorrelationEngine, EngineConfig
from opscope.analyze.correlate.port import MemoryCorrelationStore
from opscope.analyze.rca.live import EvidenceSource, LiveRcaConfig, rank_incident
from opscope.config import Correlation
from opscope.errors import NotFound, ValidationFailed
from opscope.model.anomaly import Anomaly
from opscope.model.events import Event
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import (
    ChangeKind,
    Feedback,
    Incident,
    IncidentChange,
    IncidentStatus,
    InhibitRule,
    Matcher,
    MatchOp,
    Silence,
    TimelineKind,
)
from opscope.model.metrics import MetricSample
from opscope.model.topology import Entity, Relation

log = logging.getLogger(__name__)

ENGINE_STATE = "correlation"
T = TypeVar("T")


class IncidentSink(Protocol):
    """Where the stage persists what it finds (the embedded store implements it)."""

    def write_changes(self, changes: Sequence[IncidentChange]) -> None: ...
    def write_feedback(self, feedback: Sequence[Feedback]) -> None: ...
    def record_incident_action(self, action: str, actor: str, incident_ids: Sequence[str],
                               at: datetime, detail: dict[str, Any]) -> None: ...
    def write_hypotheses(self, incident_id: str, ranked_at: datetime,
                         hypotheses: Sequence[Hypothesis]) -> None: ...
    def save_engine_state(self, name: str, data: bytes) -> None: ...
    def load_engine_state(self, name: str) -> bytes | None: ...
    def put_silence(self, silence: Silence) -> None: ...


class _EngineStore:
    """The engine's persistence port over an :class:`IncidentSink`."""

    def __init__(self, sink: IncidentSink) -> None:
        self._sink = sink

    def save_state(self, data: bytes) -> None:
        self._sink.save_engine_state(ENGINE_STATE, data)

    def load_state(self) -> bytes | None:
        return self._sink.load_engine_state(ENGINE_STATE)

    def write_changes(self, changes: Sequence[IncidentChange]) -> None:
        self._sink.write_changes(changes)

    def write_feedback(self, feedback: Sequence[Feedback]) -> None:
        self._sink.write_feedback(feedback)


DOWN_MUTES_REST = InhibitRule(
    id="down-mutes-rest", comment="A service that is down mutes its other alerts.",
    source_matchers=[Matcher(name="alertname", value="ServiceDown")],
    target_matchers=[Matcher(name="alertname", op=MatchOp.NOT_EQUAL, value="ServiceDown")])


class IncidentStageConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    engine: EngineConfig = Field(default_factory=EngineConfig)
    rca: LiveRcaConfig = Field(default_factory=LiveRcaConfig)
    rank: bool = Field(default=True, description="Rank root causes of open incidents.")
    rca_debounce_seconds: float = Field(
        default=60.0, gt=0,
        description="Event time between two rankings of one changing incident.")
    rca_young_seconds: float = Field(
        default=300.0, ge=0,
        description="Event time after opening during which an incident is re-ranked "
                    "every rca_young_interval_seconds, changed or not: the series need "
                    "time after the onset to show who moved first and how far (0: rank "
                    "only on opening and on changes).")
    rca_young_interval_seconds: float = Field(
        default=10.0, gt=0,
        description="Event time between two rankings of a young incident; about one "
                    "scrape interval, since a ranking sees new evidence only as samples "
                    "arrive.")
    rca_max_rankings_per_step: int = Field(
        default=8, ge=1,
        description="Most rankings run after one engine step, so that many young "
                    "incidents at once (a storm) cannot stall correlation; the others "
                    "stay due for the next steps.")
    advance_on_metrics: bool = Field(
        default=True, description="Let metric sample times move the engine's clock.")
    save_interval_seconds: float = Field(
        default=60.0, gt=0, description="Wall time between saves of the engine state.")

    @classmethod
    def from_settings(cls, section: Correlation) -> IncidentStageConfig:
        """Map the ``correlation`` settings section."""
        base = EngineConfig.model_validate(section.engine or {})
        rules = list(base.inhibit_rules)
        if section.down_mutes_rest and not any(r.id == DOWN_MUTES_REST.id for r in rules):
            rules.append(DOWN_MUTES_REST)
        engine = EngineConfig.model_validate({
            **base.model_dump(), "inhibit_rules": [r.model_dump() for r in rules],
            "anomaly_hold_minutes": section.anomaly_hold_minutes,
            "dedup": {**base.dedup.model_dump(), "max_alerts": section.max_alerts},
            "correlation": {
                **base.correlation.model_dump(), "window_minutes": section.window_minutes,
                "min_signals": section.min_signals,
                "resolve_quiet_minutes": section.resolve_quiet_minutes,
                "max_hops": section.max_hops,
                "max_active_incidents": section.max_active_incidents,
                "max_finished_incidents": section.max_finished_incidents}})
        rca = LiveRcaConfig(lookback_minutes=section.rca_lookback_minutes,
                            reference_minutes=section.rca_reference_minutes)
        return cls(engine=engine, rca=rca, rank=section.rank_root_causes,
                   rca_debounce_seconds=section.rca_debounce_seconds,
                   rca_young_seconds=section.rca_young_seconds,
                   rca_young_interval_seconds=section.rca_young_interval_seconds,
                   save_interval_seconds=section.save_interval_seconds)


@dataclass
class StageCounters:
    batches: int = 0
    signals: int = 0
    changes: int = 0
    rankings: int = 0
    failures: int = 0
    commands: int = 0


@dataclass
class _Schedule:
    """When each incident is due for (re-)ranking, in event time."""

    due: dict[str, datetime] = field(default_factory=dict)
    ranked: dict[str, datetime] = field(default_factory=dict)
    young_until: dict[str, datetime] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)
    """The entity the latest ranking put first, per open incident."""


_STOP = object()


class IncidentStage:
    """Drives one :class:`CorrelationEngine` from one thread; see the module docstring."""

    name = "incidents"

    def __init__(self, sink: IncidentSink, evidence: EvidenceSource,
                 config: IncidentStageConfig | None = None, entities: Sequence[Entity] = (),
                 relations: Sequence[Relation] = (),
                 on_ranked: Callable[[Incident, list[Hypothesis], datetime], None] | None = None,
                 publish: Callable[[Sequence[IncidentChange]], None] | None = None,
                 ) -> None:
        self.config = config or IncidentStageConfig()
        self.sink = sink
        self.evidence = evidence
        self._entities = {e.id: e for e in entities}
        self._relations = {(r.source, r.target, r.kind): r for r in relations}
        self.engine = CorrelationEngine(self.config.engine, entities, relations,
                                        store=_EngineStore(sink))
        self.engine.restore()
        self.engine.subscribe(self._collect)
        self.counters = StageCounters()
        self.on_ranked = on_ranked
        self.publish = publish
        """Hands each step's stored changes on (the bus topic ``incidents``)."""
        self._changed: list[IncidentChange] = []
        self._schedule = _Schedule()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._saved_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="incident-stage", daemon=True)
        self._closed = False
        self._thread.start()

    # -- submission (any thread) -------------------------------------------------------

    def submit(self, fn: Callable[[CorrelationEngine], T]) -> Future[T]:
        """Run ``fn`` on the stage's thread, after everything submitted before it."""
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the incident stage is closed"))
            return future
        self._queue.put((fn, future))
        return future

    def call(self, fn: Callable[[CorrelationEngine], T], timeout: float | None = 30.0) -> T:
        return self.submit(fn).result(timeout)

    def handle_events(self, batch: Sequence[Any]) -> None:
        events = [e for e in batch if isinstance(e, Event)]
        self.call(lambda _: self._process(events, ()), timeout=None)

    def handle_anomalies(self, batch: Sequence[Any]) -> None:
        anomalies = [a for a in batch if isinstance(a, Anomaly)]
        self.call(lambda _: self._process((), anomalies), timeout=None)

    def handle_metrics(self, batch: Sequence[Any]) -> None:
        if not self.config.advance_on_metrics:
            return
        times = [s.ts for s in batch if isinstance(s, MetricSample)]
        if times:
            latest = max(times)
            self.call(lambda _: self._advance(latest), timeout=None)

    def handle_topology(self, batch: Sequence[Any]) -> None:
        self.call(lambda _: self._topology(batch), timeout=None)

    # -- operator actions (any thread; run on the stage's thread) ----------------------

    def acknowledge(self, incident_id: str, actor: str) -> Incident:
        def run(engine: CorrelationEngine) -> Incident:
            at = self._now()
            incident = engine.acknowledge(incident_id, at, actor)
            self.sink.record_incident_action("ack", actor, [incident_id], at, {})
            self._after()
            return incident
        return self.call(run)

    def resolve(self, incident_id: str, actor: str) -> Incident:
        return self.call(lambda engine: self._resolve(engine, incident_id, actor))

    def merge(self, target_id: str, source_ids: Sequence[str], actor: str) -> Incident:
        def run(engine: CorrelationEngine) -> Incident:
            incident = engine.merge(target_id, source_ids, self._now(), actor)
            self._after()
            return incident
        return self.call(run)

    def split(self, incident_id: str, signal_ids: Sequence[str], actor: str) -> Incident:
        def run(engine: CorrelationEngine) -> Incident:
            incident = engine.split(incident_id, signal_ids, self._now(), actor)
            self._after()
            return incident
        return self.call(run)

    def add_silence(self, silence: Silence) -> Silence:
        def run(engine: CorrelationEngine) -> Silence:
            engine.add_silence(silence)
            self.sink.put_silence(silence)
            return silence
        return self.call(run)

    def expire_silence(self, silence_id: str) -> Silence:
        def run(engine: CorrelationEngine) -> Silence:
            expired = engine.expire_silence(silence_id, self._now())
            if expired is None:
                raise NotFound(f"no silence {silence_id!r}")
            self.sink.put_silence(expired)
            self._after()
            return expired
        return self.call(run)

    def now(self) -> datetime:
        """The engine's event time (wall time before any data)."""
        return self.call(lambda _: self._now())

    # -- lifecycle ---------------------------------------------------------------------

    def close(self, timeout: float = 10.0) -> None:
        """Finish queued work, save the engine state, stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    # -- the stage's thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._save()
                return
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(self.engine))
            except BaseException as exc:  # handed to the caller, who decides what it means
                if not isinstance(exc, NotFound | ValidationFailed):
                    self.counters.failures += 1
                    log.exception("incident stage failed")
                future.set_exception(exc)
            if time.monotonic() - self._saved_at >= self.config.save_interval_seconds:
                self._save()

    def _save(self) -> None:
        try:
            self.engine.save()
        except Exception:  # the next interval retries; the log says why
            log.exception("saving the correlation state failed")
        self._saved_at = time.monotonic()

    def _now(self) -> datetime:
        return self.engine.clock or datetime.now(UTC)

    def _collect(self, change: IncidentChange) -> None:
        self._changed.append(change)

    def _process(self, events: Sequence[Event], anomalies: Sequence[Anomaly]) -> None:
        if not events and not anomalies:
            return
        self.counters.batches += 1
        self.counters.signals += len(events) + len(anomalies)
        self.engine.process(events, anomalies)
        self._after()

    def _advance(self, at: datetime) -> None:
        if self.engine.clock is not None and at <= self.engine.clock:
            return
        self.engine.advance(at)
        self._after()

    def _topology(self, batch: Sequence[Any]) -> None:
        for entities, relations in batch:
            self._entities.update((e.id, e) for e in entities)
            self._relations.update(((r.source, r.target, r.kind), r) for r in relations)
        self.engine.set_topology(self._entities.values(), self._relations.values())

    def _resolve(self, engine: CorrelationEngine, incident_id: str, actor: str) -> Incident:
        # The engine resolves incidents itself once every member has been quiet; an
        # operator's resolve closes one now. The correlator's resolve step is reused so
        # that the incident leaves the active set exactly as a quiet one does.
        correlator = engine.correlator
        state = correlator._get(incident_id)
        if not state.active:
            raise ValidationFailed(f"incident {incident_id} is {state.status.value}", [
                {"index": None, "field": "id", "message": "only open incidents resolve"}])
        at = self._now()
        correlator._resolve(state, at)
        changes = [_by_operator(c, actor) for c in correlator.drain()]
        if engine.store is not None:
            engine.store.write_changes(changes)
        self._changed.extend(changes)
        self.sink.record_incident_action("resolve", actor, [incident_id], at, {})
        self._after()
        return state.snapshot()

    def _after(self) -> None:
        """Schedule and run rankings for what changed; called after every engine step."""
        changes, self._changed = self._changed, []
        self.counters.changes += len(changes)
        now = self._now()
        sched = self._schedule
        debounce = timedelta(seconds=self.config.rca_debounce_seconds)
        for change in changes:
            inc_id = change.incident.id
            if change.kind is ChangeKind.OPENED:
                sched.due[inc_id] = now
                sched.young_until[inc_id] = now + timedelta(
                    seconds=self.config.rca_young_seconds)
            elif change.incident.status in (IncidentStatus.RESOLVED, IncidentStatus.MERGED):
                sched.due.pop(inc_id, None)
                sched.young_until.pop(inc_id, None)
                sched.ranked.pop(inc_id, None)
                sched.first.pop(inc_id, None)
            elif _grows(change) and inc_id not in sched.due:
                last = sched.ranked.get(inc_id)
                sched.due[inc_id] = now if last is None else max(now, last + debounce)
        if self.config.rank:
            # Never-ranked incidents first, then the longest overdue; past the per-step
            # budget the rest stay due and go first on the next steps.
            ready = sorted((kv for kv in sched.due.items() if kv[1] <= now),
                           key=lambda kv: (kv[0] in sched.ranked, kv[1], kv[0]))
            for inc_id, _ in ready[: self.config.rca_max_rankings_per_step]:
                self._rank(inc_id, now)
            # A ranking that put another cause first is news of its own (see ``_rank``).
            noted, self._changed = self._changed, []
            changes += noted
        if changes and self.publish is not None:
            self.publish(changes)  # after ranking, so subscribers read the fresh root cause

    def _rank(self, incident_id: str, now: datetime) -> None:
        sched = self._schedule
        del sched.due[incident_id]
        incident = self.engine.get(incident_id)
        if incident is None or incident.status is not IncidentStatus.OPEN:
            sched.young_until.pop(incident_id, None)
            return
        members = self.engine.members(incident_id)
        hypotheses = rank_incident(self.evidence, incident, members,
                                   list(self._relations.values()), now, self.config.rca)
        self.sink.write_hypotheses(incident_id, now, hypotheses)
        self.counters.rankings += 1
        self._note_first(incident_id, hypotheses, now)
        sched.ranked[incident_id] = now
        young_until = sched.young_until.get(incident_id)
        if young_until is not None:
            following = now + timedelta(seconds=self.config.rca_young_interval_seconds)
            if following <= young_until:
                sched.due[incident_id] = following
            else:
                del sched.young_until[incident_id]
        if self.on_ranked is not None:
            self.on_ranked(incident, hypotheses, now)

    def _note_first(self, incident_id: str, hypotheses: Sequence[Hypothesis],
                    now: datetime) -> None:
        """When a new ranking puts another entity first, say so on the incident's timeline
        and stream: the people and rules that acted on the first cause must hear of it."""
        if not hypotheses:
            return
        top = hypotheses[0]
        before = self._schedule.first.get(incident_id)
        self._schedule.first[incident_id] = top.entity
        if before is None or before == top.entity:
            return
        self.engine.note_cause(
            incident_id, now, f"most likely cause is now {_cause_text(top)}, was {before}",
            {"entity": top.entity, "signal": top.signal, "previous": before})


def _cause_text(h: Hypothesis) -> str:
    return f"{h.entity} ({h.signal})" if h.signal else h.entity


def _grows(change: IncidentChange) -> bool:
    """Whether a change can move the ranking: new members or removed ones."""
    return bool(change.members or change.removed_signal_ids) or any(
        t.kind in (TimelineKind.SIGNAL_ADDED, TimelineKind.MERGED, TimelineKind.SPLIT)
        for t in change.timeline)


def _by_operator(change: IncidentChange, actor: str) -> IncidentChange:
    """Say in the timeline that an operator resolved the incident, not the quiet period."""
    if change.kind is not ChangeKind.RESOLVED:
        return change
    timeline = [t.model_copy(update={"summary": f"resolved by {actor or 'an operator'}",
                                     "data": {**t.data, "actor": actor}})
                if t.kind is TimelineKind.RESOLVED else t for t in change.timeline]
    return change.model_copy(update={"timeline": timeline})


class MemoryIncidentSink:
    """An :class:`IncidentSink` in memory, for tests and simulated replays."""

    def __init__(self) -> None:
        self.correlation = MemoryCorrelationStore()
        self.hypotheses: dict[str, tuple[datetime, list[Hypothesis]]] = {}
        self.actions: list[tuple[str, str, list[str], datetime, dict[str, Any]]] = []
        self.silences: dict[str, Silence] = {}
        self.states: dict[str, bytes] = {}

    def write_changes(self, changes: Sequence[IncidentChange]) -> None:
        self.correlation.write_changes(changes)

    def write_feedback(self, feedback: Sequence[Feedback]) -> None:
        self.correlation.write_feedback(feedback)

    def record_incident_action(self, action: str, actor: str, incident_ids: Sequence[str],
                               at: datetime, detail: dict[str, Any]) -> None:
        self.actions.append((action, actor, list(incident_ids), at, dict(detail)))

    def write_hypotheses(self, incident_id: str, ranked_at: datetime,
                         hypotheses: Sequence[Hypothesis]) -> None:
        self.hypotheses[incident_id] = (ranked_at, list(hypotheses))

    def save_engine_state(self, name: str, data: bytes) -> None:
        self.states[name] = bytes(data)

    def load_engine_state(self, name: str) -> bytes | None:
        return self.states.get(name)

    def put_silence(self, silence: Silence) -> None:
        self.silences[silence.id] = silence
