"""Incidents that keep coming back: greedy clustering of their signal-type signatures.

Incidents are taken in time order; each joins the cluster whose signature it overlaps
most (Jaccard of signal types, at least ``min_similarity``), else it starts a cluster.
Linear in incidents times clusters, which stay few.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from opscope.analyze.patterns.findings import RecurringIncident
from opscope.model.incident import Incident, IncidentMember, IncidentStatus


@dataclass
class _Cluster:
    signature: frozenset[str]
    incidents: list[Incident] = field(default_factory=list)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def recurring_incidents(incidents: Sequence[Incident],
                        members: Mapping[str, Sequence[IncidentMember]],
                        min_similarity: float = 0.6,
                        min_count: int = 2) -> list[RecurringIncident]:
    """Groups of at least ``min_count`` similar incidents. Incidents linked as a
    recurrence by the correlator are put together whatever their overlap."""
    clusters: list[_Cluster] = []
    cluster_of: dict[str, _Cluster] = {}
    for inc in sorted(incidents, key=lambda i: (i.opened_at, i.id)):
        if inc.status in (IncidentStatus.PENDING, IncidentStatus.MERGED):
            continue
        sig = frozenset(m.signal.type_key for m in members.get(inc.id, ()) if not m.muted_by)
        if not sig:
            continue
        best = cluster_of.get(inc.recurrence_of or "")
        if best is None:
            scored = [(_jaccard(sig, c.signature), i) for i, c in enumerate(clusters)]
            top = max(scored, default=(0.0, -1))
            best = clusters[top[1]] if top[0] >= min_similarity else None
        if best is None:
            best = _Cluster(sig)
            clusters.append(best)
        best.incidents.append(inc)
        cluster_of[inc.id] = best
    out = []
    for c in clusters:
        if len(c.incidents) < min_count:
            continue
        times = [i.opened_at for i in c.incidents]
        gaps = [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(times)]
        out.append(RecurringIncident(
            signature=sorted(c.signature), incident_ids=[i.id for i in c.incidents],
            count=len(c.incidents), first=times[0], last=times[-1],
            mean_interval_hours=round(sum(gaps) / len(gaps), 3) if gaps else None))
    return sorted(out, key=lambda r: (-r.count, r.first))
