"""The dependency graph as the ranker reads it: who calls whom, and who co-moved.

In a call graph a fault usually travels against the edges: a slow or failing callee
makes its callers slow or failing. So the entities that call a candidate, directly or
transitively, are where its symptoms show; if they are anomalous too, the candidate
explains them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from opscope.analyze.rca.inputs import MetricSeries
from opscope.model.topology import Relation, RelationKind


@dataclass(frozen=True)
class CallGraph:
    """Caller -> callee edges with the reverse index built once.

    A ``consumes`` relation (a service draining a queue) is not a call: a slow consumer
    makes its queue's backlog grow, so the queue is kept as the consumer's direct
    symptom (``backlogs``) rather than as something the consumer depends on.
    """

    callees: Mapping[str, frozenset[str]] = field(default_factory=dict)
    callers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    backlogs: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, edges: Iterable[Relation]) -> CallGraph:
        down: dict[str, set[str]] = defaultdict(set)
        up: dict[str, set[str]] = defaultdict(set)
        drained: dict[str, set[str]] = defaultdict(set)
        for rel in edges:
            if rel.source == rel.target:
                continue
            if rel.kind is RelationKind.CONSUMES:
                drained[rel.source].add(rel.target)
                continue
            down[rel.source].add(rel.target)
            up[rel.target].add(rel.source)
        return cls(
            callees={k: frozenset(v) for k, v in down.items()},
            callers={k: frozenset(v) for k, v in up.items()},
            backlogs={k: frozenset(v) for k, v in drained.items()},
        )

    @property
    def empty(self) -> bool:
        return not self.callees and not self.backlogs

    def dependants(self, entity: str) -> set[str]:
        """Every entity that calls ``entity`` directly or through others, and the queues
        it drains (their backlog is its symptom)."""
        seen: set[str] = set(self.backlogs.get(entity, ())) - {entity}
        stack = [entity]
        while stack:
            node = stack.pop()
            for caller in self.callers.get(node, ()):
                if caller != entity and caller not in seen:
                    seen.add(caller)
                    stack.append(caller)
        return seen


def residents(edges: Iterable[Relation]) -> dict[str, frozenset[str]]:
    """What runs on each host-like entity (the targets of ``runs_on`` relations)."""
    found: dict[str, set[str]] = defaultdict(set)
    for rel in edges:
        if rel.kind is RelationKind.RUNS_ON and rel.source != rel.target:
            found[rel.target].add(rel.source)
    return {k: frozenset(v) for k, v in found.items()}


def co_moving(
    series: Sequence[MetricSeries], since: float, entities: Sequence[str], threshold: float,
) -> dict[str, list[tuple[str, float]]]:
    """Pairs of entities whose series moved together from ``since`` on.

    This is the topology learned from co-movement, used when none is configured: the
    correlation of values over the common timestamps, taking for each entity pair the
    strongest pair of series. It has no direction, so it can say which symptoms belong
    together, not which is the cause.
    """
    wanted = set(entities)
    per_entity: dict[str, list[dict[float, float]]] = defaultdict(list)
    for s in series:
        if s.entity not in wanted:
            continue
        keep = (s.times >= since) & np.isfinite(s.values)
        if int(keep.sum()) >= 3:
            per_entity[s.entity].append(dict(zip(s.times[keep].tolist(),
                                                 s.values[keep].tolist(), strict=True)))
    names = [e for e in entities if e in per_entity]
    found: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            best = 0.0
            for sa in per_entity[a]:
                for sb in per_entity[b]:
                    best = max(best, abs(_correlation(sa, sb)))
            if best >= threshold:
                found[a].append((b, best))
                found[b].append((a, best))
    return dict(found)


def _correlation(a: Mapping[float, float], b: Mapping[float, float]) -> float:
    common = sorted(set(a) & set(b))
    if len(common) < 3:
        return 0.0
    x = np.array([a[t] for t in common])
    y = np.array([b[t] for t in common])
    if float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])
