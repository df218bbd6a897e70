"""Rank candidate root causes of an incident, each with its evidence and a reason.

The score of an entity is a product of independent pieces of evidence:

* **shift** — how far its most-moved series left the normal band (a robust z-score,
  mapped to a bounded anomaly degree in [0, 1));
* **position** — ``(1 + support) ** support_weight`` where support sums the anomaly
  degrees of the entities that call it, directly or transitively, and did not move
  before it: a callee whose problem explains its callers' symptoms outranks them; a
  host's support is scaled by the share of its residents that are anomalous, since a
  host at fault hurts everything on it;
* **changes** — a deploy or configuration change on the entity shortly before onset;
* **logs and anomaly records** — new or surging error templates, detector alarms.

Without a configured topology the position term is 1 for everyone and the order is
the order of shifts; co-movement learned from the data is reported as evidence only,
because correlation has no direction and cannot say which side caused the other.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from opscope.analyze.rca.config import RcaConfig
from opscope.analyze.rca.explain import build_evidence, build_reason
from opscope.analyze.rca.inputs import RcaInputs
from opscope.analyze.rca.shift import Shift, measure_shift
from opscope.analyze.rca.topology import CallGraph, co_moving, residents
from opscope.model.anomaly import Anomaly
from opscope.model.hypothesis import Evidence, Hypothesis
from opscope.model.records import Change

# Keeps entities with no measurable shift (but a change or a log surge) above zero, and
# ordered among themselves, without letting them pass a genuinely shifted entity.
_FLOOR = 1e-3
_CO_MOVEMENT_TOP = 8


@dataclass
class _Candidate:
    entity: str
    shifts: list[Shift]
    degree: float = 0.0
    peak: Shift | None = None
    onset: float | None = None
    support: float = 0.0
    supporters: list[str] | None = None
    change: float = 0.0
    logs: float = 0.0
    alarms: float = 0.0
    score: float = 0.0


def anomaly_degree(z: float, config: RcaConfig) -> float:
    """Map a robust z-score to [0, 1): 0 inside the normal band, towards 1 far outside."""
    if not math.isfinite(z) or z <= config.band:
        return 0.0
    return 1.0 - math.exp(-(z - config.band) / config.saturation)


def rank_root_causes(inputs: RcaInputs, config: RcaConfig | None = None) -> list[Hypothesis]:
    """Rank every entity of ``inputs`` as a possible root cause, most likely first."""
    cfg = config or RcaConfig()
    shifts = _measure_all(inputs, cfg, relative_noise=0.0)
    if cfg.relative_noise > 0 and all(sh.value is None for sh in shifts):
        # No series has enough normal history: fall back to relative change for all.
        # Only for all at once, so guessed sigmas never compete with measured ones.
        shifts = _measure_all(inputs, cfg, relative_noise=cfg.relative_noise)
    by_entity: dict[str, list[Shift]] = defaultdict(list)
    for sh in shifts:
        by_entity[sh.entity].append(sh)
    cands = {e: _Candidate(entity=e, shifts=by_entity.get(e, [])) for e in inputs.entity_names()}
    for c in cands.values():
        _measure(c, cfg)

    step = max((sh.step for sh in shifts), default=0.0)
    graph = CallGraph.of(inputs.edges)
    if not graph.empty:
        _add_support(cands, graph, residents(inputs.edges), cfg.onset_tolerance_steps * step)
    onset = min((c.onset for c in cands.values() if c.onset is not None), default=None)
    reference_time = onset if onset is not None else inputs.fault_time
    _add_changes(cands, inputs.changes, reference_time, cfg)
    _add_records(cands, inputs.anomalies, inputs.fault_time, step)

    for c in cands.values():
        c.score = (
            (c.degree + _FLOOR * _squash(c.peak.score if c.peak else 0.0))
            * (1.0 + c.support) ** cfg.support_weight
            * (1.0 + cfg.change_weight * c.change)
            * (1.0 + cfg.log_weight * c.logs)
            * (1.0 + cfg.anomaly_weight * c.alarms)
        )
    ordered = sorted(cands.values(), key=lambda c: (-c.score, c.entity))

    learned: dict[str, list[tuple[str, float]]] = {}
    if graph.empty:
        top = [c.entity for c in ordered[:_CO_MOVEMENT_TOP] if c.degree > 0]
        # As much time before the fault as after it, so that the transition itself,
        # not only the wobble after it, decides what moved together.
        ends = [s.times[np.isfinite(s.times)] for s in inputs.series]
        end = max((float(t.max()) for t in ends if t.size), default=inputs.fault_time)
        since = inputs.fault_time - max(end - inputs.fault_time, 3.0 * step)
        learned = co_moving(inputs.series, since, top, cfg.co_movement_min)
    target_entity = _target_entity(inputs)
    return [
        _hypothesis(c, i + 1, ordered, learned, target_entity, inputs, cfg, not graph.empty)
        for i, c in enumerate(ordered)
    ]


def _measure_all(inputs: RcaInputs, cfg: RcaConfig, relative_noise: float) -> list[Shift]:
    refs = {r.key: r for r in inputs.reference}
    return [
        measure_shift(
            s, refs.get(s.key), inputs.fault_time, band=cfg.band,
            min_baseline=cfg.min_baseline, min_reference=cfg.min_reference,
            relative_noise=relative_noise,
        )
        for s in inputs.series
    ]


def _squash(z: float) -> float:
    # Tie-breaker among entities below the band: monotone in z, bounded below 1.
    return 1.0 - 1.0 / (1.0 + math.log1p(max(z, 0.0))) if math.isfinite(z) else 1.0


def _measure(c: _Candidate, cfg: RcaConfig) -> None:
    scored = [s for s in c.shifts if s.baseline is not None and s.value is not None]
    if not scored:
        return
    c.peak = max(scored, key=lambda s: s.score)
    c.degree = anomaly_degree(c.peak.score, cfg)
    onsets = [s.onset for s in scored if s.onset is not None]
    c.onset = min(onsets) if onsets else None


def _add_support(
    cands: dict[str, _Candidate], graph: CallGraph, hosted: dict[str, frozenset[str]],
    tolerance_s: float,
) -> None:
    for c in cands.values():
        if c.degree <= 0.0:
            continue
        names: list[str] = []
        total = 0.0
        for dep in graph.dependants(c.entity):
            other = cands.get(dep)
            if other is None or other.degree <= 0.0:
                continue
            # A dependant that went wrong well before this entity cannot be its symptom.
            if (other.onset is not None and c.onset is not None
                    and other.onset < c.onset - tolerance_s):
                continue
            total += other.degree
            names.append(dep)
        c.support = total * _shared_by(c.entity, cands, hosted)
        c.supporters = sorted(names, key=lambda n: -cands[n].degree)


def _shared_by(entity: str, cands: dict[str, _Candidate],
               hosted: dict[str, frozenset[str]]) -> float:
    """The share of a host's residents (among the candidates with data) that are
    anomalous; 1 for entities nothing runs on. A host is a shared resource: short of
    CPU, memory or network it hurts everything on it, so when one resident of several
    moves, the host's own movement (its CPU, its memory, its kernel killing the
    resident) is more likely that resident's doing than the cause of it."""
    known = [cands[r] for r in hosted.get(entity, ()) if r in cands and cands[r].shifts]
    if not known:
        return 1.0
    return sum(1 for r in known if r.degree > 0.0) / len(known)


def _add_changes(
    cands: dict[str, _Candidate], changes: Sequence[Change], onset: float, cfg: RcaConfig,
) -> None:
    for ch in changes:
        c = cands.get(ch.entity)
        if c is None:
            continue
        lead = onset - ch.ts.timestamp()
        if 0.0 <= lead <= cfg.change_horizon_s:
            # Closer to onset is more suspicious; linear decay over the horizon.
            c.change = max(c.change, 1.0 - lead / cfg.change_horizon_s)


def _add_records(
    cands: dict[str, _Candidate], records: Sequence[Anomaly], fault_time: float, step: float,
) -> None:
    # Records from a little before the fault (one sampling step, at least a minute, for
    # detectors that fire early) up to the end of the incident are relevant.
    earliest = fault_time - max(step, 60.0)
    for rec in records:
        c = cands.get(rec.entity)
        if c is None or rec.ts.timestamp() < earliest:
            continue
        strength = 1.0 - math.exp(-max(rec.score, 0.0)) if rec.score > 0 else 1.0
        if rec.kind.startswith("log"):
            c.logs = max(c.logs, strength)
        else:
            c.alarms = max(c.alarms, strength)


def _target_entity(inputs: RcaInputs) -> str | None:
    if inputs.target is None:
        return None
    for s in inputs.series:
        if s.key == inputs.target:
            return s.entity
    return inputs.target if inputs.target in inputs.entity_names() else None


def _hypothesis(
    c: _Candidate, rank: int, ordered: list[_Candidate],
    learned: dict[str, list[tuple[str, float]]], target: str | None,
    inputs: RcaInputs, cfg: RcaConfig, has_graph: bool,
) -> Hypothesis:
    evidence: list[Evidence] = build_evidence(
        c.shifts, c.peak, c.onset, c.supporters or [], learned.get(c.entity, []),
        inputs, target, c.entity,
    )[: cfg.max_evidence]
    reason = build_reason(
        rank=rank, degree=c.degree, peak=c.peak, supporters=c.supporters or [],
        change=c.change, logs=c.logs, topology=inputs.topology_source,
        has_graph=has_graph, learned=bool(learned.get(c.entity)),
        next_score=ordered[rank].score if rank < len(ordered) else None, score=c.score,
    )
    return Hypothesis(
        entity=c.entity, signal=c.peak.key if c.peak and c.degree > 0 else "",
        score=float(np.round(c.score, 9)), rank=rank, evidence=evidence, reason=reason,
    )
