"""Root-cause ranking of a live incident: gather its inputs from stored data, then rank.

For an incident, the candidates are its affected entities plus their neighbours in the
topology (a cause often has not alerted: a slow database shows first as slow services).
Each candidate's metric series are read from a little before the incident's first
signal (alerts fire only after a ``for:`` delay, so the fault started earlier) up to the
ranking time, with a reference stretch of normal operation before that; changes and
anomaly records on the candidates come along as evidence. The ranker itself is the
offline one (:func:`opscope.analyze.rca.rank_root_causes`), so the live pipeline and the
benchmark rank the same way.

Reads go through :class:`EvidenceSource`, which the embedded store implements; the
in-memory :class:`MemoryEvidence` serves tests and simulated replays.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.rca.config import RcaConfig
from opscope.analyze.rca.inputs import MetricSeries, RcaInputs
from opscope.analyze.rca.ranker import rank_root_causes
from opscope.model.anomaly import Anomaly
from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import Incident, IncidentMember, SignalKind
from opscope.model.metrics import MetricSample, entity_of
from opscope.model.records import Change
from opscope.model.topology import Relation


class SeriesLike(Protocol):
    """One series' samples in a time span: ``ts`` in unix seconds, NaN for no value."""

    @property
    def series_id(self) -> str: ...
    @property
    def entity(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def ts(self) -> Sequence[float]: ...
    @property
    def values(self) -> Sequence[float]: ...


class EvidenceSource(Protocol):
    def entity_series(self, entities: Sequence[str], start: datetime,
                      end: datetime) -> Sequence[SeriesLike]: ...
    def changes_between(self, entities: Sequence[str], start: datetime,
                        end: datetime) -> Sequence[Change]: ...
    def anomalies_between(self, entities: Sequence[str], start: datetime,
                          end: datetime) -> Sequence[Anomaly]: ...


class LiveRcaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lookback_minutes: float = Field(
        default=3.0, ge=0,
        description="The fault is taken to start this long before the incident's first "
                    "signal (alert rules wait a 'for:' period before firing).")
    reference_minutes: float = Field(
        default=30.0, gt=0,
        description="Normal operation read before the fault start, as each series' band.")
    max_window_minutes: float = Field(
        default=30.0, gt=0,
        description="At most this much time after the fault start is ranked on.")
    neighbour_hops: int = Field(
        default=2, ge=0,
        description="Dependencies this many hops from an affected entity are candidates "
                    "too (callers: one hop); 0 ranks the affected entities only.")
    max_candidates: int = Field(default=60, ge=1, description="Bound on candidate entities.")
    change_horizon_minutes: float = Field(
        default=60.0, gt=0, description="Changes this long before the fault start are read.")
    rca: RcaConfig = Field(
        default_factory=lambda: RcaConfig(anomaly_weight=1.0),
        description="The ranker's settings. The incident's own alerts and anomalies reach "
                    "the ranker as alarm records, so anomaly_weight is what an entity's own "
                    "signal in the incident counts for: 1.0 makes an entity with a signal "
                    "in the incident twice as suspect as a neighbour that only moved "
                    "(neighbours' metrics also move when their callers misbehave, e.g. "
                    "connections held longer by a slow caller).")


def candidates(incident: Incident, members: Sequence[IncidentMember],
               relations: Sequence[Relation], config: LiveRcaConfig) -> list[str]:
    """Affected entities first, then dependencies (up to ``neighbour_hops``) and callers."""
    found: dict[str, None] = {}
    for name in incident.root_candidates + incident.entities:
        found.setdefault(name, None)
    for m in members:
        if m.signal.entity:
            found.setdefault(m.signal.entity, None)
    callees: dict[str, list[str]] = {}
    callers: dict[str, list[str]] = {}
    for rel in relations:
        callees.setdefault(rel.source, []).append(rel.target)
        callers.setdefault(rel.target, []).append(rel.source)
    affected = list(found)
    queue: deque[tuple[str, int]] = deque((name, 0) for name in affected)
    seen = set(affected)
    while queue:
        node, depth = queue.popleft()
        if depth >= config.neighbour_hops:
            continue
        for nxt in sorted(callees.get(node, ())):
            if nxt not in seen:
                seen.add(nxt)
                found.setdefault(nxt, None)
                queue.append((nxt, depth + 1))
    if config.neighbour_hops > 0:
        for name in affected:
            for caller in sorted(callers.get(name, ())):
                found.setdefault(caller, None)
    return list(found)[: config.max_candidates]


def build_inputs(source: EvidenceSource, incident: Incident,
                 members: Sequence[IncidentMember], relations: Sequence[Relation],
                 now: datetime, config: LiveRcaConfig | None = None) -> RcaInputs:
    cfg = config or LiveRcaConfig()
    names = candidates(incident, members, relations, cfg)
    onset = min([incident.opened_at, *(m.signal.starts_at for m in members)])
    fault = onset - timedelta(minutes=cfg.lookback_minutes)
    start = fault - timedelta(minutes=cfg.reference_minutes)
    end = min(max(now, onset), fault + timedelta(minutes=cfg.max_window_minutes))
    # Samples stamped exactly at ``end`` belong to the ranking (end is inclusive here).
    end_exclusive = end + timedelta(microseconds=1)
    series = [
        MetricSeries.of(f"{s.entity}/{s.metric}", s.entity, s.metric, s.ts, s.values)
        for s in source.entity_series(names, start, end_exclusive)
    ]
    chosen = set(names)
    edges = [r for r in relations if r.source in chosen and r.target in chosen]
    changes = source.changes_between(
        names, fault - timedelta(minutes=cfg.change_horizon_minutes), end_exclusive)
    anomalies = list(source.anomalies_between(names, fault, end_exclusive))
    anomalies += member_records(members)
    return RcaInputs(series=series, fault_time=fault.timestamp(), edges=edges,
                     topology_source="the stored topology", changes=list(changes),
                     anomalies=anomalies, entities=tuple(names))


def member_records(members: Sequence[IncidentMember]) -> list[Anomaly]:
    """The incident's own signals as alarm records on their entities.

    An entity whose own signal is in the incident is more suspect than a neighbour that
    only moved, whichever way the signal came: an alert rule that fired, or an anomaly
    (a metric detector, a new error template in its logs). Muted alerts count too
    (muting hides noise from people, not evidence). Anomaly members are also read from
    the store as what they are (log evidence, detector alarms); the record here says
    only that they belong to the incident.
    """
    return [
        Anomaly(kind=m.signal.kind.value, detector=m.signal.source or m.signal.kind.value,
                entity=m.signal.entity, subject=m.signal.id, ts=m.signal.since,
                summary=f"{m.signal.name} {_VERB[m.signal.kind]}: {m.signal.summary}"[:2048])
        for m in members if m.signal.entity
    ]


_VERB = {SignalKind.ALERT: "fired", SignalKind.ANOMALY: "is in the incident"}


def rank_incident(source: EvidenceSource, incident: Incident,
                  members: Sequence[IncidentMember], relations: Sequence[Relation],
                  now: datetime, config: LiveRcaConfig | None = None) -> list[Hypothesis]:
    """Hypotheses for ``incident`` as of event time ``now``, most likely first."""
    cfg = config or LiveRcaConfig()
    inputs = build_inputs(source, incident, members, relations, now, cfg)
    if not inputs.series and not inputs.changes and not inputs.anomalies:
        return []
    return rank_root_causes(inputs, cfg.rca)


@dataclass(frozen=True)
class _Columns:
    series_id: str
    entity: str
    metric: str
    ts: list[float]
    values: list[float]


@dataclass
class MemoryEvidence:
    """An :class:`EvidenceSource` over samples, changes and anomalies held in memory.

    A sample's entity comes from its labels as the store decides it (``entity_of``).
    """

    _points: dict[tuple[str, str], tuple[str, list[float], list[float]]] = field(
        default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)

    def add_samples(self, samples: Iterable[MetricSample]) -> None:
        for s in samples:
            entity = entity_of(s.labels)
            extra = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())
                             if k not in ("service", "host"))
            metric = f"{s.name}{{{extra}}}" if extra else s.name
            _, ts, vs = self._points.setdefault((entity, metric), (entity, [], []))
            ts.append(s.ts.timestamp())
            vs.append(float(s.value))

    def entity_series(self, entities: Sequence[str], start: datetime,
                      end: datetime) -> list[_Columns]:
        lo, hi = start.timestamp(), end.timestamp()
        wanted = set(entities)
        out = []
        for (entity, metric), (_, ts, vs) in sorted(self._points.items()):
            if entity not in wanted:
                continue
            keep = [i for i, t in enumerate(ts) if lo <= t < hi]
            if keep:
                out.append(_Columns(f"{entity}/{metric}", entity, metric,
                                    [ts[i] for i in keep], [vs[i] for i in keep]))
        return out

    def changes_between(self, entities: Sequence[str], start: datetime,
                        end: datetime) -> list[Change]:
        wanted = set(entities)
        return [c for c in self.changes if c.entity in wanted and start <= c.ts < end]

    def anomalies_between(self, entities: Sequence[str], start: datetime,
                          end: datetime) -> list[Anomaly]:
        wanted = set(entities)
        return [a for a in self.anomalies if a.entity in wanted and start <= a.ts < end]
