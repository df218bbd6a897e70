"""One incident as the language features read it: the stored record, typed.

The store answers ``get_incident`` with the incident document plus its members,
timeline, latest ranking and operator actions; :meth:`IncidentRecord.from_row` types that
answer, and :meth:`IncidentRecord.of` builds the same thing from live models (replays,
tests). Every feature in this package reads only these fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from opscope.model.hypothesis import Hypothesis
from opscope.model.incident import Incident, IncidentMember, Signal, TimelineEntry


@dataclass(frozen=True, slots=True)
class OperatorAction:
    """An operator action recorded on an incident (ack, resolve, merge, split)."""

    ts: datetime
    action: str
    actor: str


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    incident: Incident
    members: Sequence[IncidentMember] = ()
    timeline: Sequence[TimelineEntry] = ()
    hypotheses: Sequence[Hypothesis] = ()
    actions: Sequence[OperatorAction] = ()
    ranked_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.incident.id

    @property
    def top(self) -> Hypothesis | None:
        return min(self.hypotheses, key=lambda h: h.rank) if self.hypotheses else None

    @classmethod
    def of(cls, incident: Incident, members: Iterable[IncidentMember] = (),
           timeline: Iterable[TimelineEntry] = (), hypotheses: Iterable[Hypothesis] = (),
           actions: Iterable[OperatorAction] = ()) -> IncidentRecord:
        return cls(incident, tuple(members), tuple(timeline),
                   tuple(sorted(hypotheses, key=lambda h: h.rank)), tuple(actions))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> IncidentRecord:
        """Type a stored incident (the answer of ``get_incident``; list rows work too,
        with their ``top_hypothesis`` as the only hypothesis)."""
        incident = Incident.model_validate(_known(Incident, row))
        members = [IncidentMember.model_validate(
            {**_known(IncidentMember, m), "signal": _known(Signal, m["signal"])})
            for m in row.get("members") or ()]
        timeline = [TimelineEntry.model_validate(
            {"incident_id": incident.id, **_known(TimelineEntry, t)})
            for t in row.get("timeline") or ()]
        ranked = row.get("hypotheses")
        if ranked is None and row.get("top_hypothesis"):
            ranked = [row["top_hypothesis"]]
        hypotheses = [Hypothesis.model_validate(_known(Hypothesis, h)) for h in ranked or ()]
        actions = [OperatorAction(datetime.fromisoformat(str(a["ts"])), str(a["action"]),
                                  str(a.get("actor") or "")) for a in row.get("actions") or ()]
        ranked_at = row.get("ranked_at")
        return cls.of(incident, members, timeline, hypotheses, actions).with_ranked_at(
            datetime.fromisoformat(ranked_at) if isinstance(ranked_at, str) else None)

    def with_ranked_at(self, at: datetime | None) -> IncidentRecord:
        return IncidentRecord(self.incident, self.members, self.timeline, self.hypotheses,
                              self.actions, at, self.extra)


def _known(model: type[BaseModel], row: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``row`` the model has: stores add their own (row order, ranks)."""
    return {k: v for k, v in row.items() if k in model.model_fields}


# Replica and instance suffixes that name one copy of a thing: a statefulset ordinal
# ("db-1"), a Kubernetes pod ("checkout-7d9f8b6c5-x2k4q", "worker-x2k4q"), a port
# ("api:8080"). Only these are stripped: a name such as "s3" or "v2-api" stays whole.
_SUFFIXES = (
    re.compile(r"^(?P<base>.+?)-[a-f0-9]{8,10}-[a-z0-9]{5}$"),
    re.compile(r"^(?P<base>.+?)-(?=[a-z0-9]*\d)[a-z0-9]{5}$"),
    re.compile(r"^(?P<base>.+?)[-_.]\d{1,4}$"),
    re.compile(r"^(?P<base>[^:]+):\d{1,5}$"),
)


def entity_group(entity: str) -> str:
    """The entity without its replica or instance suffix: what the same fault on another
    copy has in common with this one. Returns ``entity`` itself when nothing is stripped."""
    name = entity.strip().lower()
    for pattern in _SUFFIXES:
        match = pattern.match(name)
        if match and any(c.isalpha() for c in match.group("base")):
            return match.group("base")
    return name


_SERIES = re.compile(r"^(?:(?P<entity>[^/{]+)/)?(?P<metric>[^{]+)(?:\{.*\})?$")


def metric_of(series: str) -> str:
    """The metric of a ranking's series: ``db-1/cpu_usage{mode=user}`` -> ``cpu_usage``."""
    match = _SERIES.match(series.strip())
    return match.group("metric") if match else series
