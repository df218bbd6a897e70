"""Alert types that never lead to action: never part of an acknowledged or ticketed
incident. Candidates for retuning, demotion or removal."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from opscope.analyze.patterns.findings import IdleAlert
from opscope.analyze.patterns.occurrence import KeyOf, occurrences, type_key
from opscope.model.events import Event
from opscope.model.incident import Incident, IncidentMember


def idle_alerts(events: Iterable[Event], incidents: Sequence[Incident],
                members: Mapping[str, Sequence[IncidentMember]], min_count: int = 3,
                key: KeyOf = type_key) -> list[IdleAlert]:
    """Alert types with at least ``min_count`` occurrences, none of which belonged to an
    incident that someone acknowledged or linked a ticket to."""
    acted: set[tuple[str, str]] = set()
    grouped: set[tuple[str, str]] = set()
    for inc in incidents:
        action = bool(inc.acknowledged_by or inc.ticket_ids)
        for m in members.get(inc.id, ()):
            ident = (m.signal.source, m.signal.fingerprint)
            grouped.add(ident)
            if action:
                acted.add(ident)
    per_key = defaultdict(list)
    for occ in occurrences(events, key):
        per_key[occ.key].append(occ)
    out = []
    for k, occs in per_key.items():
        if len(occs) < min_count:
            continue
        if any((o.source, o.fingerprint) in acted for o in occs):
            continue
        out.append(IdleAlert(
            type_key=k, count=len(occs),
            in_incidents=sum(1 for o in occs if (o.source, o.fingerprint) in grouped),
            first=occs[0].start, last=occs[-1].start))
    return sorted(out, key=lambda a: (-a.count, a.type_key))
