"""How strongly a signal belongs to an incident: one interface, two strategies.

``EvidenceLinker`` weighs topology, shared labels, text and learned co-occurrence and says
why; ``TimeWindowLinker`` is the classic baseline that groups whatever fires close in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from opscope.analyze.correlate.config import CorrelationConfig
from opscope.analyze.correlate.incident_state import IncidentState, tokens
from opscope.analyze.correlate.learned import CoOccurrenceModel
from opscope.analyze.correlate.topology import TopologyIndex
from opscope.model.incident import IncidentStatus, Signal


@dataclass(frozen=True, slots=True)
class Link:
    score: float
    reason: str
    cause: bool = False
    """The signal may be the cause of the incident (it sits below its deepest entities)."""


class Linker(Protocol):
    def link(self, signal: Signal, incident: IncidentState, at: datetime) -> Link | None:
        """The link of ``signal`` to ``incident`` at event time ``at``; None if there is
        none. Only incidents with recent activity (the correlation window) are asked."""
        ...


class TimeWindowLinker:
    """Baseline: any incident active within the window takes the signal."""

    def __init__(self, config: CorrelationConfig) -> None:
        self.window = timedelta(minutes=config.window_minutes)

    def link(self, signal: Signal, incident: IncidentState, at: datetime) -> Link | None:
        last = incident.last_activity or incident.opened_at
        gap = (at - last).total_seconds()
        score = max(0.0, 1.0 - gap / self.window.total_seconds())
        return Link(score, f"within {gap:.0f}s of the incident's last activity")


class EvidenceLinker:
    """Weighted evidence; each part in [0, 1], the sum capped at 1."""

    def __init__(self, config: CorrelationConfig, topology: TopologyIndex,
                 learned: CoOccurrenceModel) -> None:
        self.config = config
        self.topology = topology
        self.learned = learned
        self.grace = timedelta(minutes=config.downstream_grace_minutes)
        self.window = config.window_minutes * 60.0
        self._last_words: tuple[str, set[str]] = ("", set())

    def _proximity(self, signal: Signal, inc: IncidentState,
                   at: datetime) -> tuple[float, str, bool]:
        """Topology evidence in [0, 1], why, and whether the signal looks like a cause."""
        entity = signal.entity
        if not entity or not inc.entities:
            return 0.0, "", False
        if signal.type_key in inc.types:
            return 1.0, f"{signal.name} on {entity} already in the incident", False
        span = self.config.max_hops + 1
        other_name = self.config.other_symptom_factor
        best, why, cause = 0.0, "", False
        # Symptom: the entity depends on (or is) one of the incident's entities. A symptom
        # of the same name travelling along the dependency counts fully; another kind of
        # symptom (latency where the incident shows errors) counts less.
        deps = self.topology.dependencies(entity)
        hits = deps.keys() & inc.entities.keys() if len(deps) < len(inc.entities) else \
            [e for e in inc.entities if e in deps]
        # A resident shares every resource of its host: the trouble of an open incident's
        # host counts as the resident's own trouble (of another kind, unless the names
        # agree), not as a dependency's one hop away. A pending group (one signal below
        # the gate, often a lone host warning) is not yet evidence enough for that.
        hosts = self.topology.hosts(entity) if inc.status is IncidentStatus.OPEN else set()
        for other in hits:
            named = signal.name in inc.names.get(other, ())
            # A critical trouble (an entity down) shows in its dependents in every way.
            same = named or other in inc.critical
            hops = 0 if other in hosts else deps[other]
            p = (1.0 - hops / span) * (1.0 if same else other_name) \
                * self._standing(inc, other)
            if p > best:
                what = "same symptom" if named else \
                    f"{other} has critical trouble" if same else "other symptom"
                where = "same entity" if other == entity else \
                    f"{entity} runs on {other}" if other in hosts else \
                    f"{entity} depends on {other} ({deps[other]} hops)"
                best, why = p, f"{where}, {what}"
        # Cause: a dependency of the incident's deepest entities, early in the incident.
        if at - inc.opened_at <= self.grace:
            below = self.topology.dependents(entity)
            for root in inc.roots:
                if root in below and root != entity:
                    p = self.config.cause_factor * (1.0 - below[root] / span) \
                        * self._standing(inc, root)
                    if p > best:
                        best, cause = p, True
                        why = f"possible cause: {root} depends on {entity} ({below[root]} hops)"
        # Common cause, early in the incident: both call the same service or store.
        if self.config.sibling_links and best < 0.5 and at - inc.opened_at <= self.grace \
                and self.topology.direct_service_deps(entity) & inc.sibling_deps:
            shared = sorted(self.topology.direct_service_deps(entity) & inc.sibling_deps)[0]
            best, why = 0.5, f"{entity} shares dependency {shared} with the incident"
        return best, why, cause

    def _standing(self, inc: IncidentState, entity: str) -> float:
        """How much the incident's signals on ``entity`` count as topology evidence: less
        when their own history says they mostly fire alone (background noise)."""
        names = inc.names.get(entity)
        if not names:
            return 1.0
        return max(1.0 - self.learned.solitude(f"{name}@{entity}") for name in names)

    def _words(self, signal: Signal) -> set[str]:
        # A newcomer is compared with every recent incident: tokenise it once.
        if self._last_words[0] != signal.id:
            self._last_words = (signal.id, tokens(signal))
        return self._last_words[1]

    def _labels(self, signal: Signal, inc: IncidentState) -> bool:
        keys = self.config.group_by
        return bool(keys) and bool(inc.group) and all(
            signal.labels.get(k) is not None and signal.labels.get(k) == inc.group.get(k)
            for k in keys)

    def link(self, signal: Signal, incident: IncidentState, at: datetime) -> Link | None:
        w = self.config.weights
        learned = self.learned.best(signal.type_key, incident.types.keys())
        if learned < 0:
            return None  # operators split these apart before
        score, reasons = 0.0, []
        proximity, why, cause = self._proximity(signal, incident, at)
        if signal.type_key not in incident.types:
            # A newcomer that mostly fires alone is weak evidence of anything but itself.
            proximity *= 1.0 - self.learned.solitude(signal.type_key)
        if proximity > 0:
            score += w.topology * proximity
            reasons.append(why)
        if self._labels(signal, incident):
            score += w.labels
            reasons.append("same " + ", ".join(
                f"{k}={incident.group[k]}" for k in self.config.group_by))
        if learned > 0:
            score += w.learned * learned
            reasons.append(f"co-occurred before (confidence {learned:.2f})")
        words = self._words(signal)
        if words and incident.words:
            overlap = len(words & incident.words) / len(words)
            if overlap > 0:
                score += w.text * overlap
                reasons.append(f"{overlap:.0%} of its words already in the incident")
        if not reasons:
            return None
        # Evidence fades with the time since the incident's last join.
        last = incident.last_activity or incident.opened_at
        fade = max(0.0, 1.0 - max(0.0, (at - last).total_seconds()) / self.window)
        return Link(min(1.0, score) * fade, "; ".join(reasons), cause)
