"""The incident event stream: changes coalesced per incident between two drains.

Within one batch an incident that gains a hundred members yields one ``updated`` change
carrying those members, not a hundred changes. A change of kind (opened, then resolved)
closes the pending entry first, so subscribers always see ``opened`` before ``resolved``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from opscope.analyze.correlate.incident_state import IncidentState
from opscope.model.incident import ChangeKind, IncidentChange, TimelineEntry


@dataclass
class _Pending:
    kind: ChangeKind
    ts: datetime
    members: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)


class ChangeLog:
    def __init__(self, seq: int = 0) -> None:
        self.seq = seq
        self._pending: dict[str, _Pending] = {}
        self._ready: list[IncidentChange] = []
        self._states: dict[str, IncidentState] = {}

    def note(self, inc: IncidentState, kind: ChangeKind, ts: datetime,
             member: str | None = None, removed: str | None = None,
             timeline: TimelineEntry | None = None) -> None:
        """Record that ``inc`` changed. Only opened/pending-to-open incidents are streamed:
        the caller does not note pending ones."""
        entry = self._pending.get(inc.id)
        if entry is not None and kind is not ChangeKind.UPDATED and entry.kind is not kind:
            self.flush(inc.id)
            entry = None
        if entry is None:
            entry = self._pending[inc.id] = _Pending(kind, ts)
            self._states[inc.id] = inc
        entry.ts = max(entry.ts, ts)
        if member is not None:
            entry.members.append(member)
        if removed is not None:
            entry.removed.append(removed)
        if timeline is not None:
            entry.timeline.append(timeline)

    def flush(self, incident_id: str) -> None:
        """Close the pending change of one incident, snapshotting it as it is now."""
        entry = self._pending.pop(incident_id, None)
        inc = self._states.pop(incident_id, None)
        if entry is None or inc is None:
            return
        seen: set[str] = set()
        members = []
        for signal_id in entry.members:
            if signal_id in seen or signal_id not in inc.members:
                continue
            seen.add(signal_id)
            members.append(inc.members[signal_id].snapshot(inc.id))
        self._ready.append(IncidentChange(
            seq=self.seq, kind=entry.kind, ts=entry.ts, incident=inc.snapshot(),
            members=members, removed_signal_ids=entry.removed, timeline=entry.timeline))
        self.seq += 1

    def drain(self) -> list[IncidentChange]:
        """Every change noted since the last drain, in order, each with a stream position."""
        for incident_id in list(self._pending):
            self.flush(incident_id)
        out, self._ready = self._ready, []
        return out
