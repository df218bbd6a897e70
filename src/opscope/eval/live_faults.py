"""Single faults replayed through the live incident stage: is the right cause first, soon?

``opscope eval correlation --live-faults N`` replays N single faults, one kind after
another, each on a fresh simulated shop, batch by batch through the same incident stage
the server runs (with an in-memory store). As in the server, the shop's logs go through
log analysis first and its anomalies reach the incident stage beside the alerts; the
raw metric series are the ranker's evidence. It counts the faults that became one
incident whose root cause ranked first within 60 s of event time after the fault start.

With ``metric_history_hours`` the metric detectors run too, warmed as ``opscope demo``
warms them: on that many hours of the same shop's metrics at a sample a minute; their
anomalies join the incident stage beside the log anomalies.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opscope.eval.correlation import BASE, DRAIN_SECONDS

# Longer than the log analysis warm-up (an hour of event time before new templates alarm).
LIVE_WARMUP = timedelta(minutes=65)
LIVE_AFTER = timedelta(minutes=10)
LIVE_FAULT = timedelta(minutes=5)


@dataclass
class LiveOutcome:
    kind: str
    root: str
    incidents: int
    """Incidents opened during the fault that hold an entity it moved."""
    first_right_s: float | None
    """Event seconds from the fault start to the first ranking with the root on top."""
    opened_s: float | None
    final_top: str | None


class _NoStore:
    """Where the metric stage's bands and anomalies go in a replay: nowhere (the
    anomalies are handed to the incident stage directly)."""

    def append_bands(self, bands: object) -> None:
        return None

    def append_anomalies(self, anomalies: object) -> None:
        return None


def replay_through_stage(sim: Any, span: timedelta, stage: Any, evidence: Any,
                         metrics: Any = None) -> None:
    """Feed ``sim`` batch by batch through the incident stage as the server does: logs go
    through log analysis first (and samples through the metric detectors, when given),
    their anomalies reach the stage beside the alerts and serve the ranker as evidence.
    The stage is closed at the end."""
    from opscope.analyze.logs import LogAnalyzer
    from opscope.sim import run_fast

    logs = LogAnalyzer()
    try:
        for batch in run_fast(sim, span):
            evidence.add_samples(batch.metrics)
            evidence.changes.extend(batch.changes)
            _, anomalies = logs.process(batch.logs)
            if metrics is not None:
                anomalies = [*anomalies, *metrics.process(batch.metrics)]
            if anomalies:  # stored anomalies are evidence for the ranker, as in the server
                evidence.anomalies.extend(anomalies)
                stage.handle_anomalies(anomalies)
            stage.handle_events(batch.events)
            stage.handle_metrics(batch.metrics)
    finally:
        stage.close()


def replay_live(seed: int, index: int, metric_history_hours: float = 0.0) -> LiveOutcome:
    """One fault on a fresh simulated shop, replayed batch by batch through the live
    incident stage (the same code the server runs) with an in-memory store. As in the
    server, the shop's logs go through log analysis first and its anomalies (new and
    surging error templates) reach the incident stage beside the alerts."""
    import numpy as np

    from opscope.analyze.correlate.stage import (
        IncidentStage,
        IncidentStageConfig,
        MemoryIncidentSink,
    )
    from opscope.analyze.metrics.stage import MetricAnalysisStage
    from opscope.analyze.rca.live import MemoryEvidence
    from opscope.config import Correlation
    from opscope.sim import (
        FaultKind,
        Simulation,
        SimulationConfig,
        metric_history,
    )

    rng = np.random.default_rng([seed, index, 1])
    start = BASE + timedelta(days=index)
    sim = Simulation(seed=seed * 7_919 + index, start=start, step_seconds=10.0,
                     config=SimulationConfig())
    kind = sorted(FaultKind)[index % len(FaultKind)]
    targets = sim.faults.candidates(kind)
    entity = targets[int(rng.integers(len(targets)))]
    fault = sim.inject(kind, entity, start + LIVE_WARMUP, LIVE_FAULT)
    evidence = MemoryEvidence()
    ranked: list[tuple[datetime, str, str | None]] = []
    topo = sim.topology()
    stage = IncidentStage(MemoryIncidentSink(), evidence,
                          IncidentStageConfig.from_settings(Correlation()),
                          topo.entities, topo.relations,
                          on_ranked=lambda inc, hyps, at: ranked.append(
                              (at, inc.id, hyps[0].entity if hyps else None)))
    metrics = None
    if metric_history_hours:
        metrics = MetricAnalysisStage(_NoStore())
        for samples in metric_history(seed * 7_919 + index, start, metric_history_hours,
                                      config=SimulationConfig()):
            metrics.process(samples)
    replay_through_stage(sim, LIVE_WARMUP + LIVE_AFTER, stage, evidence, metrics)
    truth = next(t for t in sim.ground_truth() if t.fault_id == fault.id)
    moved = set(truth.affected_entities) | {truth.root_entity}
    window_end = truth.end + timedelta(seconds=DRAIN_SECONDS)
    mine = [inc for inc in stage.engine.incidents()
            if truth.start - timedelta(minutes=1) <= inc.opened_at <= window_end
            and moved & set(inc.entities)]
    ids = {inc.id for inc in mine}
    right = [at for at, inc_id, top in ranked if inc_id in ids and top == truth.root_entity]
    final = [top for _, inc_id, top in ranked if inc_id in ids]
    return LiveOutcome(
        kind=kind.value, root=truth.root_entity, incidents=len(mine),
        first_right_s=(min(right) - truth.start).total_seconds() if right else None,
        opened_s=(min(i.opened_at for i in mine) - truth.start).total_seconds()
        if mine else None,
        final_top=final[-1] if final else None)


def evaluate_live(seed: int = 7, faults: int = 10, within_s: float = 60.0,
                  metric_history_hours: float = 0.0) -> dict[str, Any]:
    started = time.perf_counter()
    outcomes = [replay_live(seed, i, metric_history_hours) for i in range(faults)]
    one = [o for o in outcomes if o.incidents == 1]

    def hits(limit: float | None) -> int:
        return sum(1 for o in one if o.first_right_s is not None
                   and (limit is None or o.first_right_s <= limit))

    return {
        "seed": seed, "faults": faults, "metric_history_hours": metric_history_hours,
        "one_incident": len(one),
        f"one_incident_right_cause_first_within_{within_s:g}s": hits(within_s),
        f"one_incident_right_cause_first_within_{within_s:g}s_of_opening": sum(
            1 for o in one if o.first_right_s is not None and o.opened_s is not None
            and o.first_right_s - o.opened_s <= within_s),
        "one_incident_right_cause_first_within_180s": hits(180.0),
        "one_incident_right_cause_first_ever": hits(None),
        "final_ranking_right": sum(1 for o in one if o.final_top == o.root),
        "faults_detail": [o.__dict__ for o in outcomes],
        "seconds": round(time.perf_counter() - started, 1),
    }


def render_live(report: dict[str, Any]) -> str:
    lines = [f"{'kind':28}{'root':18}{'incid.':>7}{'opened s':>9}{'right s':>9}  final top"]
    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}"

    for o in report["faults_detail"]:
        lines.append(f"{o['kind']:28}{o['root']:18}{o['incidents']:>7}"
                     f"{secs(o['opened_s']):>9}{secs(o['first_right_s']):>9}"
                     f"  {o['final_top']}")
    lines += [f"{k}: {v}" for k, v in report.items() if k != "faults_detail"]
    return "\n".join(lines)
