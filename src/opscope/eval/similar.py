"""Similar past incidents on a simulated history: is the most similar one the same fault?

``opscope eval similar`` runs one simulated shop for a few hours, injecting faults of
every kind one after another (``per_kind`` of each, each kind twice on one entity and
otherwise on others), through the same log analysis and incident stage the server runs.
Every incident that opened during a fault and shares an entity it moved is labelled with
that fault. Then each labelled incident asks for its most similar incidents among all the
others except those of its own fault (unlabelled incidents stay in as distractors), and
we count whether the top one has the same fault kind (precision@1) and where the first
such one ranks (MRR); the same for "same kind on the same root entity". Baselines in the
same run: random order, and the Jaccard overlap of affected entities. Ties are scored by
their expectation under a random order, so no method gains from an arbitrary tie break.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import typer

from opscope.analyze.nlp.record import IncidentRecord, OperatorAction
from opscope.analyze.nlp.similar import SimilarityConfig, SimilarityIndex
from opscope.eval.correlation import BASE, DRAIN_SECONDS
from opscope.eval.live_faults import replay_through_stage

WARMUP = timedelta(minutes=65)
"""Longer than log analysis' warm-up (an hour of event time before new templates alarm)."""
FAULT = timedelta(minutes=5)
SPACING = timedelta(minutes=20)
"""Between fault starts: long enough for the previous incidents to resolve."""


@dataclass(frozen=True, slots=True)
class Labelled:
    record: IncidentRecord
    fault_id: str | None
    kind: str | None
    root: str | None


def simulate_history(seed: int, per_kind: int) -> list[Labelled]:
    """Incidents of one simulated shop with faults injected one after another."""
    import numpy as np

    from opscope.analyze.correlate.stage import (
        IncidentStage,
        IncidentStageConfig,
        MemoryIncidentSink,
    )
    from opscope.analyze.rca.live import MemoryEvidence
    from opscope.config import Correlation
    from opscope.sim import FaultKind, Simulation, SimulationConfig

    rng = np.random.default_rng([seed, 31])
    sim = Simulation(seed=seed, start=BASE, step_seconds=10.0, config=SimulationConfig())
    plan: list[tuple[FaultKind, str]] = []
    for kind in sorted(FaultKind):
        targets = sim.faults.candidates(kind)
        picked = [str(t) for t in rng.permutation(targets)[:2]]
        plan += [(kind, picked[i % 2] if len(picked) > 1 else picked[0])
                 for i in range(per_kind)]
    order = rng.permutation(len(plan))
    for slot, i in enumerate(order):
        kind, entity = plan[int(i)]
        sim.inject(kind, entity, BASE + WARMUP + slot * SPACING, FAULT)

    evidence, sink = MemoryEvidence(), MemoryIncidentSink()
    topo = sim.topology()
    stage = IncidentStage(sink, evidence, IncidentStageConfig.from_settings(Correlation()),
                          topo.entities, topo.relations)
    replay_through_stage(sim, WARMUP + len(plan) * SPACING, stage, evidence)
    return _label(_records(sink), sim.ground_truth())


def _records(sink: Any) -> list[IncidentRecord]:
    members: dict[str, dict[str, Any]] = {}
    timeline: dict[str, list[Any]] = {}
    for change in sink.correlation.changes:
        mine = members.setdefault(change.incident.id, {})
        for member in change.members:
            mine[member.signal.id] = member
        for gone in change.removed_signal_ids:
            mine.pop(gone, None)
        timeline.setdefault(change.incident.id, []).extend(change.timeline)
    actions: dict[str, list[OperatorAction]] = {}
    for action, actor, ids, at, _ in sink.actions:
        for inc_id in ids:
            actions.setdefault(inc_id, []).append(OperatorAction(at, action, actor))
    return [IncidentRecord.of(inc, members.get(inc.id, {}).values(), timeline.get(inc.id, ()),
                              sink.hypotheses.get(inc.id, (None, []))[1],
                              actions.get(inc.id, ()))
            for inc in sink.correlation.incidents.values()]


def _label(records: Sequence[IncidentRecord], truths: Sequence[Any]) -> list[Labelled]:
    out = []
    for record in records:
        inc = record.incident
        best, overlap = None, 0
        for truth in truths:
            moved = set(truth.affected_entities) | {truth.root_entity}
            shared = len(moved & set(inc.entities))
            if (truth.start - timedelta(minutes=1) <= inc.opened_at
                    <= truth.end + timedelta(seconds=DRAIN_SECONDS) and shared > overlap):
                best, overlap = truth, shared
        out.append(Labelled(record, best.fault_id if best else None,
                            best.kind.value if best else None,
                            best.root_entity if best else None))
    return out


def expected_rank_metrics(scores: Sequence[float], relevant: Sequence[bool]
                          ) -> tuple[float, float]:
    """Precision@1 and reciprocal rank of the first relevant item, in expectation over a
    random order of tied scores."""
    levels = sorted(set(scores), reverse=True)
    before = 0
    for level in levels:
        block = [rel for s, rel in zip(scores, relevant, strict=True) if s == level]
        hits = sum(block)
        if hits:
            size = len(block)
            p_at_1 = hits / size if before == 0 else 0.0
            # P(first relevant at position k of the block) for a random order of the block.
            rr, none_yet = 0.0, 1.0
            for k in range(1, size - hits + 2):
                first_here = none_yet * hits / (size - k + 1)
                rr += first_here / (before + k)
                none_yet *= (size - k + 1 - hits) / (size - k + 1)
            return p_at_1, rr
        before += len(block)
    return 0.0, 0.0


def _jaccard(a: IncidentRecord, b: IncidentRecord) -> float:
    x, y = set(a.incident.entities), set(b.incident.entities)
    return len(x & y) / len(x | y) if x | y else 0.0


Scorer = Callable[[Labelled, Sequence[Labelled]], list[float]]


def _index_scorer(history: Sequence[Labelled], config: SimilarityConfig) -> Scorer:
    index = SimilarityIndex(config)
    for item in history:
        index.add(item.record)

    def score(query: Labelled, candidates: Sequence[Labelled]) -> list[float]:
        found = {r.incident_id: r.score
                 for r in index.similar(query.record, limit=len(history))}
        return [found.get(c.record.id, 0.0) for c in candidates]

    return score


def evaluate_similar(seed: int = 7, per_kind: int = 3) -> dict[str, Any]:
    started = time.perf_counter()
    history = [h for h in simulate_history(seed, per_kind) if h.record.members]
    simulated_s = time.perf_counter() - started
    return {"seed": seed, "faults": per_kind * 7, **score_history(history),
            "simulated_seconds": round(simulated_s, 1),
            "seconds": round(time.perf_counter() - started, 1)}


def score_history(history: Sequence[Labelled],
                  config: SimilarityConfig | None = None) -> dict[str, Any]:
    """Each labelled incident queries all the others but its own fault's; the methods'
    precision@1 and MRR for the same kind, and for the same kind on the same root."""
    full = (config or SimilarityConfig()).model_copy(update={"min_score": 0.0})
    scorers: dict[str, Scorer] = {
        "tfidf": _index_scorer(history, full),
        "tfidf_without_structure": _index_scorer(
            history, full.model_copy(update={"structural_weight": 0.0})),
        "entity_jaccard": lambda q, cs: [_jaccard(q.record, c.record) for c in cs],
        "random": lambda q, cs: [0.0] * len(cs),
    }
    sums = {name: [0.0, 0.0, 0.0, 0.0] for name in scorers}
    kind_queries = entity_queries = 0
    for query in history:
        if query.kind is None:
            continue
        candidates = [c for c in history if c.fault_id != query.fault_id]
        same_kind = [c.kind == query.kind for c in candidates]
        same_place = [c.kind == query.kind and c.root == query.root for c in candidates]
        if not any(same_kind):
            continue
        kind_queries += 1
        entity_queries += any(same_place)
        for name, scorer in scorers.items():
            scores = scorer(query, candidates)
            total = sums[name]
            p1, rr = expected_rank_metrics(scores, same_kind)
            total[0] += p1
            total[1] += rr
            if any(same_place):
                p1, rr = expected_rank_metrics(scores, same_place)
                total[2] += p1
                total[3] += rr
    methods = {name: {
        "same_kind_precision_at_1": _ratio(t[0], kind_queries),
        "same_kind_mrr": _ratio(t[1], kind_queries),
        "same_kind_same_entity_precision_at_1": _ratio(t[2], entity_queries),
        "same_kind_same_entity_mrr": _ratio(t[3], entity_queries),
    } for name, t in sums.items()}
    return {
        "incidents": len(history), "labelled_incidents": sum(1 for h in history if h.kind),
        "queries_same_kind": kind_queries, "queries_same_kind_same_entity": entity_queries,
        "methods": methods,
    }


def _ratio(total: float, count: int) -> float:
    return round(total / count, 3) if count else 0.0


def render_similar(report: Mapping[str, Any]) -> str:
    header = (f"{'method':26}{'kind P@1':>10}{'kind MRR':>10}"
              f"{'kind+entity P@1':>17}{'kind+entity MRR':>17}")
    lines = [header]
    for name, m in report["methods"].items():
        lines.append(f"{name:26}{m['same_kind_precision_at_1']:>10.3f}"
                     f"{m['same_kind_mrr']:>10.3f}"
                     f"{m['same_kind_same_entity_precision_at_1']:>17.3f}"
                     f"{m['same_kind_same_entity_mrr']:>17.3f}")
    lines += [f"{k}: {v}" for k, v in report.items() if k != "methods"]
    return "\n".join(lines)


def similar_command(
    seed: int = typer.Option(7, help="Simulation seed."),
    per_kind: int = typer.Option(3, min=2, max=10, help="Faults of each kind injected."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Similar past incidents on simulated faults: is the most similar the same kind?

    Precision@1 and MRR of "the most similar incident is the same fault kind" (and the
    same kind on the same entity), against random and entity-overlap baselines computed
    in the same run."""
    report = evaluate_similar(seed, per_kind)
    if json_out:
        import json

        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(render_similar(report))
