"""Re-grouping after the fact: which members a newly joined signal explains better.

Signals arrive in no fixed order, and each one is placed as it arrives. Alerts that cross
their thresholds in the same rule evaluation reach the engine in any order: a service's
latency can join an incident of errors on the same service a moment before the slow
dependency that causes it alerts; a host's own alert can arrive just after its residents'
symptoms joined other incidents. So when a signal of a new kind joins an incident, the
members on the signal's entity and its dependents (where its trouble shows) that joined
other incidents less than ``regroup_seconds`` before are weighed again. A group of
members of one kind on one entity (the replicas of one alert rule) moves when the
incident that took the signal links it more strongly than its own incident does without
it. Both links are weighed as fresh (no fading for the time since the last join), so
that a group does not move only because its incident has been quiet for a while.

A member placed earlier stays. A signal that comes minutes after a symptom is no proof
that it caused the symptom: the topology often offers several explanations of one
symptom (a service calls many others), and the one the symptom joined when it fired was
chosen with the evidence of that moment, while the later one may be a second problem
that only shares the symptom's callers. The correlator applies the moves and records
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from opscope.analyze.correlate.config import CorrelationConfig
from opscope.analyze.correlate.incident_state import IncidentState, MemberState
from opscope.analyze.correlate.linker import Link, Linker
from opscope.analyze.correlate.topology import TopologyIndex
from opscope.model.incident import IncidentStatus, Signal


@dataclass(frozen=True, slots=True)
class Move:
    """Members of one kind on one entity that another incident now explains better."""

    source: IncidentState
    signal_ids: tuple[str, ...]
    name: str
    entity: str
    link: Link
    """The group's link to the incident it moves to."""
    stay: Link | None
    """The group's link to its own incident without it (None: no link at all)."""

    @property
    def gain(self) -> float:
        return self.link.score - (self.stay.score if self.stay is not None else 0.0)


class Regrouper:
    def __init__(self, config: CorrelationConfig, topology: TopologyIndex, linker: Linker,
                 derive: Callable[[IncidentState], None]) -> None:
        self.config = config
        self.topology = topology
        self.linker = linker
        self.derive = derive
        """Recomputes what depends on an incident's entity set (roots, impact)."""

    def moves(self, target: IncidentState, entity: str, incidents: Iterable[IncidentState],
              at: datetime) -> list[Move]:
        """Groups on ``entity`` or its dependents, placed in other incidents less than
        ``regroup_seconds`` before ``at``, that ``target`` (which a signal on ``entity``
        just joined) links more strongly than their own incident does without them; the
        largest gain first."""
        if target.status is not IncidentStatus.OPEN:
            return []  # a group that has not opened yet claims nothing
        since = at - timedelta(seconds=self.config.regroup_seconds)
        reach = self.topology.dependents(entity) if entity else {}
        out: list[Move] = []
        for inc in incidents:
            if inc is target or inc.pinned or not inc.active \
                    or inc.partition != target.partition \
                    or (inc.last_activity or inc.opened_at) <= since:
                continue  # (no member joined it since: nothing of it may move)
            hits = {e for e in inc.entities if e in reach and self._movable(inc, e)}
            for group in _groups(inc, hits, target, since) if hits else []:
                move = self._weigh(inc, group, target, at)
                if move is not None:
                    out.append(move)
        out.sort(key=lambda m: (-m.gain, m.source.id, m.signal_ids))
        return out

    def _movable(self, inc: IncidentState, entity: str) -> bool:
        """Whether members on ``entity`` may leave ``inc``. An incident's roots (the
        entities that depend on nothing else in it) are its core: they stay, and a common
        cause of several incidents merges them instead. So do the residents of a host in
        trouble in it: a resident shares every resource of its host, so its host's
        trouble explains any symptom of it, not only one of the same name."""
        return entity not in inc.roots and not self.topology.hosts(entity) & inc.entities.keys()

    def _weigh(self, inc: IncidentState, group: list[MemberState], target: IncidentState,
               at: datetime) -> Move | None:
        first = group[0].signal
        # Both links leave out the entity's own members: its other symptoms were placed by
        # the same evidence and may move too, so they vouch for neither side. The group's
        # own incident is weighed at its latest join, so unfaded like the target.
        link = self._link_without(target, first, at)
        if link is None or link.score < self.config.join_threshold:
            return None
        stay = self._link_without(inc, first, inc.last_activity or inc.opened_at)
        if stay is not None and stay.score >= link.score:
            return None
        return Move(inc, tuple(m.signal.id for m in group), first.name, first.entity,
                    link, stay)

    def _link_without(self, inc: IncidentState, signal: Signal, at: datetime) -> Link | None:
        """The link of ``signal`` to ``inc`` with the incident's members on the signal's
        entity left out (and restored after), weighed at ``at``."""
        out = [m for m in inc.members.values() if m.signal.entity == signal.entity]
        for member in out:
            inc.count_out(member)
        if out:
            self.derive(inc)
        try:
            return self.linker.link(signal, inc, at)
        finally:
            for member in out:
                inc.count_in(member, self.config.max_profile_types)
            if out:
                self.derive(inc)


def _groups(inc: IncidentState, entities: set[str], target: IncidentState,
            since: datetime) -> list[list[MemberState]]:
    """The incident's members on ``entities`` by kind, in a stable order. A kind that
    ``target`` already holds is left alone (its members were placed knowing of it), and
    so is a kind with a member that joined at or before ``since``, a muted member or one that
    moved before (a member moves once)."""
    by_type: dict[str, list[MemberState]] = {}
    for member in inc.members.values():
        if member.signal.entity in entities:
            by_type.setdefault(member.signal.type_key, []).append(member)
    out = []
    for key in sorted(by_type):
        group = by_type[key]
        if key in target.types or any(
                not m.counted or m.moves or m.joined_at <= since for m in group):
            continue
        out.append(sorted(group, key=lambda m: (m.joined_at, m.signal.id)))
    return out
