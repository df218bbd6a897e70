"""The live, mutable state of one incident, kept small enough to link a signal in O(1).

Per incident the correlator keeps counters (entities, types, tokens) rather than scanning
members, so that an incident with thousands of alerts costs no more per new signal than
one with three.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opscope.model.events import Severity
from opscope.model.incident import (
    Incident,
    IncidentMember,
    IncidentStatus,
    Mute,
    Signal,
)

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+")
_STOP = frozenset({"the", "is", "in", "of", "a", "an", "and", "to", "its", "on", "for",
                   "than", "threshold", "last", "has", "not", "s", "ms"})
MAX_TOKENS = 512


def tokens(signal: Signal) -> set[str]:
    """Lower-case words of the name (CamelCase split) and summary; numbers dropped."""
    words = _WORD.findall(signal.name) + _WORD.findall(signal.summary[:512])
    return {w.lower() for w in words if len(w) > 1 and w.lower() not in _STOP}


@dataclass
class MemberState:
    signal: Signal
    joined_at: datetime
    score: float
    reason: str
    muted_by: list[Mute] = field(default_factory=list)
    moves: int = 0
    """How often it moved automatically to an incident that explains it better."""

    @property
    def counted(self) -> bool:
        return not self.muted_by

    def snapshot(self, incident_id: str) -> IncidentMember:
        return IncidentMember(incident_id=incident_id, signal=self.signal,
                              joined_at=self.joined_at, score=round(self.score, 4),
                              reason=self.reason, muted_by=list(self.muted_by))

    def to_json(self) -> dict[str, Any]:
        return {"signal": self.signal.model_dump(mode="json"),
                "joined_at": self.joined_at.isoformat(), "score": self.score,
                "reason": self.reason, "muted_by": [m.model_dump(mode="json")
                                                    for m in self.muted_by],
                "moves": self.moves}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MemberState:
        return cls(signal=Signal.model_validate(doc["signal"]),
                   joined_at=datetime.fromisoformat(doc["joined_at"]), score=doc["score"],
                   reason=doc["reason"],
                   muted_by=[Mute.model_validate(m) for m in doc["muted_by"]],
                   moves=int(doc.get("moves", 0)))


@dataclass
class IncidentState:
    id: str
    opened_at: datetime
    updated_at: datetime
    status: IncidentStatus = IncidentStatus.PENDING
    resolved_at: datetime | None = None
    members: dict[str, MemberState] = field(default_factory=dict)
    entities: Counter[str] = field(default_factory=Counter)
    names: dict[str, Counter[str]] = field(default_factory=dict)
    """Alert names per entity: which symptom shows where."""
    critical: Counter[str] = field(default_factory=Counter)
    """Critical signals per entity (e.g. it is down: every caller suffers, in any way)."""
    types: dict[str, int] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)
    group: dict[str, str] = field(default_factory=dict)
    partition: tuple[str, ...] = ()
    last_activity: datetime | None = None
    last_resolved: datetime | None = None
    firing: int = 0
    counted: int = 0
    severity_counts: Counter[str] = field(default_factory=Counter)
    roots: list[str] = field(default_factory=list)
    sibling_deps: set[str] = field(default_factory=set)
    impact: list[str] = field(default_factory=list)
    recurrence_of: str | None = None
    merged_into: str | None = None
    acknowledged_by: str | None = None
    ticket_ids: list[str] = field(default_factory=list)
    opened_seen: bool = False
    pinned: bool = False
    """An operator merged or split it: its members never move automatically."""

    # -- derived -----------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status in (IncidentStatus.PENDING, IncidentStatus.OPEN)

    @property
    def severity(self) -> Severity:
        best = Severity.INFO
        for name, count in self.severity_counts.items():
            if count > 0 and Severity(name).rank > best.rank:
                best = Severity(name)
        return best

    def title(self) -> str:
        if not self.members:
            return ""
        top = max((m for m in self.members.values() if m.counted),
                  key=lambda m: (m.signal.severity.rank, -m.signal.starts_at.timestamp()),
                  default=next(iter(self.members.values())))
        where = ", ".join(self.roots[:3]) or top.signal.entity
        more = f" and {len(self.entities) - 1} more" if len(self.entities) > 1 else ""
        return f"{top.signal.name} on {top.signal.entity or where}{more}"[:1024]

    def touch(self, at: datetime) -> None:
        self.last_activity = at if self.last_activity is None else max(self.last_activity, at)
        self.updated_at = max(self.updated_at, at)

    # -- membership counters -----------------------------------------------------------

    def count_in(self, member: MemberState, max_types: int) -> None:
        sig = member.signal
        if not member.counted:
            return
        self.counted += 1
        self.severity_counts[sig.severity.value] += 1
        if sig.entity:
            self.entities[sig.entity] += 1
            self.names.setdefault(sig.entity, Counter())[sig.name] += 1
            if sig.severity is Severity.CRITICAL:
                self.critical[sig.entity] += 1
        if sig.firing:
            self.firing += 1
        elif sig.resolved_at is not None:
            self.last_resolved = max(self.last_resolved or sig.resolved_at, sig.resolved_at)
        if sig.type_key in self.types:
            self.types[sig.type_key] += 1
        elif len(self.types) < max_types:
            self.types[sig.type_key] = 1
        if len(self.words) < MAX_TOKENS:
            self.words |= tokens(sig)

    def count_out(self, member: MemberState) -> None:
        sig = member.signal
        if not member.counted:
            return
        self.counted -= 1
        self.severity_counts[sig.severity.value] -= 1
        if sig.entity:
            self.entities[sig.entity] -= 1
            if self.entities[sig.entity] <= 0:
                del self.entities[sig.entity]
            if sig.severity is Severity.CRITICAL:
                self.critical[sig.entity] -= 1
                if self.critical[sig.entity] <= 0:
                    del self.critical[sig.entity]
            names = self.names.get(sig.entity)
            if names is not None:
                names[sig.name] -= 1
                if names[sig.name] <= 0:
                    del names[sig.name]
                if not names:
                    del self.names[sig.entity]
        if sig.firing:
            self.firing -= 1
        if sig.type_key in self.types:
            self.types[sig.type_key] -= 1
            if self.types[sig.type_key] <= 0:
                del self.types[sig.type_key]

    def muted_count(self) -> int:
        return len(self.members) - self.counted

    # -- snapshots ---------------------------------------------------------------------

    def snapshot(self) -> Incident:
        return Incident(
            id=self.id, status=self.status, title=self.title(), severity=self.severity,
            opened_at=self.opened_at, updated_at=self.updated_at, resolved_at=self.resolved_at,
            entities=sorted(self.entities), impact=list(self.impact),
            root_candidates=list(self.roots), signal_count=self.counted,
            muted_count=self.muted_count(), firing_count=self.firing, group=dict(self.group),
            recurrence_of=self.recurrence_of, merged_into=self.merged_into,
            acknowledged_by=self.acknowledged_by, ticket_ids=list(self.ticket_ids))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status.value,
            "opened_at": self.opened_at.isoformat(), "updated_at": self.updated_at.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "members": [m.to_json() for m in self.members.values()],
            "group": self.group, "partition": list(self.partition),
            "last_activity": self.last_activity.isoformat() if self.last_activity else None,
            "recurrence_of": self.recurrence_of, "merged_into": self.merged_into,
            "acknowledged_by": self.acknowledged_by, "ticket_ids": self.ticket_ids,
            "opened_seen": self.opened_seen, "pinned": self.pinned,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], max_types: int) -> IncidentState:
        def ts(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        inc = cls(id=doc["id"], opened_at=datetime.fromisoformat(doc["opened_at"]),
                  updated_at=datetime.fromisoformat(doc["updated_at"]),
                  status=IncidentStatus(doc["status"]), resolved_at=ts(doc["resolved_at"]),
                  group=dict(doc["group"]), partition=tuple(doc["partition"]),
                  last_activity=ts(doc["last_activity"]), recurrence_of=doc["recurrence_of"],
                  merged_into=doc["merged_into"], acknowledged_by=doc["acknowledged_by"],
                  ticket_ids=list(doc["ticket_ids"]), opened_seen=doc["opened_seen"],
                  pinned=bool(doc.get("pinned", False)))
        for item in doc["members"]:
            member = MemberState.from_json(item)
            inc.members[member.signal.id] = member
            inc.count_in(member, max_types)
        return inc
