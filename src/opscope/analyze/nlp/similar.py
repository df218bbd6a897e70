"""Similar past incidents: TF-IDF over what incidents are made of, with the reasons.

Each incident becomes a bag of weighted tokens taken from its fields: its member signals
(name alone, name on the entity's group, name on the entity), the signals on its origin
(the top-ranked cause and the entities that depend on no other affected one), the
labels of its signals, its affected entities and user-facing impact, its title words,
and its top root-cause hypothesis (entity, metric and evidence kinds). An entity's
*group* is its name without a replica suffix (``db-1`` -> ``db``), so the same fault on
another replica still matches. Tokens are weighted by TF-IDF over the indexed incidents
and compared by cosine; a small structural term adds whether both incidents have the
same root-cause metric on the same kind of entity, in proportion to how rare that root
cause is among the indexed incidents. Everything taken from the ranking (root-cause
tokens, the structural term) is trusted in proportion to the ranking's own margin
between its first and second cause: a near-tie verdict is often wrong, and a wrong root
cause shared by unrelated incidents would pull them together. The tokens both incidents share, by
contribution, are the explanation shown beside the score.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.nlp.record import IncidentRecord, entity_group, metric_of
from opscope.errors import NotFound
from opscope.model.incident import IncidentStatus
from opscope.model.units import duration


class SimilarityConfig(BaseModel):
    """How many incidents are indexed and how the structural term weighs in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_incidents: int = Field(
        default=500, ge=1, le=100_000,
        description="Most recent incidents indexed (by opening time); older ones are left "
                    "out. The first query loads each one (a few ms apiece); later queries "
                    "load only new or changed ones.")
    structural_weight: float = Field(
        default=0.2, ge=0, le=1,
        description="Share of the score given to a shared root-cause metric and entity group; "
                    "the rest is the TF-IDF cosine.")
    min_score: float = Field(default=0.05, ge=0, le=1,
                             description="Results scoring below this are not shown.")
    max_shared: int = Field(default=5, ge=1, le=50,
                            description="Shared features listed per result.")


# Weight of each field's tokens before IDF: what a fault is made of (its signals, and most
# of all those at its origin and its root cause) counts more than where it spread to.
FIELD_WEIGHTS: dict[str, float] = {
    "signal": 1.0, "signal@group": 1.0, "signal@entity": 0.5, "origin": 1.5,
    "label": 0.4, "entity": 0.4, "impact": 0.3, "title": 0.3,
    "root": 1.0, "root@entity": 0.5, "root_metric": 1.5, "root_metric@group": 1.0,
    "evidence": 0.5,
}
# Labels that name one copy, one request or the signal itself rather than what went wrong.
VOLATILE_LABELS = frozenset({
    "alertname", "severity", "instance", "pod", "pod_name", "container", "container_id",
    "ip", "address", "id", "uid", "fingerprint", "le", "quantile",
})
_WORD = re.compile(r"[a-z][a-z0-9_]{2,}")
_TITLE_STOP = frozenset({"and", "more", "the", "for", "with", "from", "other", "others"})

Token = tuple[str, str]
"""``(field, value)``; ``value`` may hold ``name@entity``."""


def incident_tokens(record: IncidentRecord) -> Counter[Token]:
    """The bag of ``(field, value)`` tokens of an incident, with counts."""
    bag: Counter[Token] = Counter()
    inc = record.incident
    top = record.top
    # Both of the system's estimates of where it started: the top-ranked cause, and the
    # affected entities that depend on no other affected one.
    origin = set(inc.root_candidates) | ({top.entity} if top else set())
    for member in record.members:
        if member.muted_by:
            continue
        sig = member.signal
        group = entity_group(sig.entity) if sig.entity else ""
        bag["signal", sig.name] += 1
        if sig.entity:
            bag["signal@group", f"{sig.name}@{group}"] += 1
            bag["signal@entity", f"{sig.name}@{sig.entity}"] += 1
        if sig.entity in origin:
            bag["origin", sig.name] += 1
        for key, value in sig.labels.items():
            if key not in VOLATILE_LABELS and 0 < len(value) <= 64:
                bag["label", f"{key}={entity_group(value)}"] += 1
    for entity in inc.entities:
        bag["entity", entity_group(entity)] += 1
    for service in inc.impact:
        bag["impact", service] += 1
    for word in _WORD.findall(inc.title.lower()):
        if word not in _TITLE_STOP:
            bag["title", word] += 1
    if top is not None:
        bag["root", entity_group(top.entity)] += 1
        bag["root@entity", top.entity] += 1
        if top.signal:
            metric = metric_of(top.signal)
            bag["root_metric", metric] += 1
            bag["root_metric@group", f"{metric}@{entity_group(top.entity)}"] += 1
        for kind in {e.kind for e in top.evidence}:
            bag["evidence", kind] += 1
    return bag


ROOT_FIELDS = frozenset({"root", "root@entity", "root_metric", "root_metric@group",
                         "evidence"})


def ranking_confidence(record: IncidentRecord) -> float:
    """How clearly the ranking put its first cause ahead: 1 - second score / first score
    (0 for a tie, 1 when nothing competes). The root-cause tokens and the structural term
    are trusted in this proportion, so that a near-tie verdict weighs little."""
    ranked = sorted(record.hypotheses, key=lambda h: h.rank)
    if not ranked:
        return 0.0
    first = ranked[0].score
    if first <= 0:
        return 0.0
    if len(ranked) == 1:
        return 1.0
    return min(1.0, max(0.0, 1.0 - ranked[1].score / first))


def describe_token(token: Token) -> str:
    """A token in words, as shown in a result's explanation."""
    field, value = token
    name, _, where = value.partition("@")
    return {
        "signal": f"{value} signals",
        "signal@group": f"{name} on {where}",
        "signal@entity": f"{name} on {where}",
        "origin": f"{value} at the origin",
        "label": f"label {value}",
        "entity": f"affects {value}",
        "impact": f"user-facing impact on {value}",
        "title": f"'{value}' in the title",
        "root": f"root cause {value}",
        "root@entity": f"root cause {value}",
        "root_metric": f"root-cause signal {value}",
        "root_metric@group": f"root cause {where} {name}",
        "evidence": f"root-cause evidence of kind {value}",
    }.get(field, f"{field} {value}")


@dataclass(frozen=True, slots=True)
class SharedFeature:
    field: str
    value: str
    text: str
    contribution: float
    """Share of the cosine this token accounts for (0..1)."""


@dataclass(frozen=True, slots=True)
class PastOutcome:
    """How an incident ended, from its record only."""

    status: str
    opened_at: datetime
    resolved_at: datetime | None
    duration_s: float | None
    resolved_by: str | None
    """The operator who resolved it; None when it resolved itself (every signal quiet)."""
    acknowledged_by: str | None
    ticket_ids: tuple[str, ...]
    merged_into: str | None

    @classmethod
    def of(cls, record: IncidentRecord) -> PastOutcome:
        inc = record.incident
        resolvers = [a.actor for a in record.actions if a.action == "resolve"]
        duration = (inc.resolved_at - inc.opened_at).total_seconds() \
            if inc.resolved_at else None
        return cls(inc.status.value, inc.opened_at, inc.resolved_at, duration,
                   resolvers[-1] if resolvers else None, inc.acknowledged_by,
                   tuple(inc.ticket_ids), inc.merged_into)

    def sentence(self) -> str:
        if self.status == IncidentStatus.MERGED.value:
            return f"merged into {self.merged_into}"
        if self.resolved_at is None:
            return f"still {self.status}"
        by = f"by {self.resolved_by}" if self.resolved_by else "on its own (signals quiet)"
        text = f"resolved {by} after {duration(self.duration_s or 0.0)}"
        if self.acknowledged_by:
            text += f", acknowledged by {self.acknowledged_by}"
        if self.ticket_ids:
            text += f", tickets {', '.join(self.ticket_ids)}"
        return text




@dataclass(frozen=True, slots=True)
class SimilarIncident:
    incident_id: str
    title: str
    severity: str
    score: float
    """0..1: (1 - structural weight) x cosine + structural weight x shared root cause."""
    cosine: float
    structural: float
    shared: tuple[SharedFeature, ...]
    explanation: str
    outcome: PastOutcome
    entities: tuple[str, ...]
    root_cause: str | None

    def to_json(self) -> dict[str, Any]:
        outcome = self.outcome
        return {
            "incident_id": self.incident_id, "title": self.title, "severity": self.severity,
            "score": round(self.score, 4), "cosine": round(self.cosine, 4),
            "structural": round(self.structural, 4), "explanation": self.explanation,
            "shared": [{"field": s.field, "value": s.value, "text": s.text,
                        "contribution": round(s.contribution, 4)} for s in self.shared],
            "entities": list(self.entities), "root_cause": self.root_cause,
            "outcome": {
                "status": outcome.status, "opened_at": outcome.opened_at.isoformat(),
                "resolved_at": outcome.resolved_at.isoformat() if outcome.resolved_at else None,
                "duration_s": outcome.duration_s, "resolved_by": outcome.resolved_by,
                "acknowledged_by": outcome.acknowledged_by,
                "ticket_ids": list(outcome.ticket_ids), "merged_into": outcome.merged_into,
                "text": outcome.sentence(),
            },
        }


@dataclass(frozen=True, slots=True)
class _Profile:
    record: IncidentRecord
    bag: Mapping[Token, float]
    """Field-weighted, sublinear term frequencies (before IDF)."""
    root: tuple[str, str] | None
    """(metric, entity group) of the top hypothesis."""
    confidence: float
    """:func:`ranking_confidence` of the incident's ranking."""


def _profile(record: IncidentRecord) -> _Profile:
    counts = incident_tokens(record)
    confidence = ranking_confidence(record)
    bag = {tok: FIELD_WEIGHTS.get(tok[0], 1.0) * (1.0 + math.log(n))
           * (confidence if tok[0] in ROOT_FIELDS else 1.0)
           for tok, n in counts.items()}
    top = record.top
    root = (metric_of(top.signal) if top.signal else "", entity_group(top.entity)) \
        if top else None
    return _Profile(record, {tok: w for tok, w in bag.items() if w > 0}, root, confidence)


def _root_tokens(root: tuple[str, str] | None) -> list[tuple[Token, float]]:
    """The root-cause tokens two incidents may share, finest first, with the share of the
    structural term each is worth."""
    if root is None:
        return []
    metric, group = root
    found: list[tuple[Token, float]] = []
    if metric:
        found += [(("root_metric@group", f"{metric}@{group}"), 1.0),
                  (("root_metric", metric), 0.6)]
    return [*found, (("root", group), 0.3)]


class SimilarityIndex:
    """Incidents indexed by their tokens; ``add`` replaces, ``remove`` forgets, both
    incremental (document frequencies are kept as counts)."""

    def __init__(self, config: SimilarityConfig | None = None) -> None:
        self.config = config or SimilarityConfig()
        self._profiles: dict[str, _Profile] = {}
        self._df: Counter[Token] = Counter()
        self._postings: dict[Token, set[str]] = {}

    def __len__(self) -> int:
        return len(self._profiles)

    def __contains__(self, incident_id: object) -> bool:
        return incident_id in self._profiles

    def ids(self) -> list[str]:
        return list(self._profiles)

    def add(self, record: IncidentRecord) -> None:
        self.remove(record.id)
        profile = _profile(record)
        self._profiles[record.id] = profile
        for tok in profile.bag:
            self._df[tok] += 1
            self._postings.setdefault(tok, set()).add(record.id)

    def remove(self, incident_id: str) -> None:
        old = self._profiles.pop(incident_id, None)
        if old is None:
            return
        for tok in old.bag:
            self._df[tok] -= 1
            if self._df[tok] <= 0:
                del self._df[tok]
            ids = self._postings.get(tok)
            if ids is not None:
                ids.discard(incident_id)
                if not ids:
                    del self._postings[tok]

    def _idf(self, tok: Token) -> float:
        n = len(self._profiles)
        return math.log((n + 1) / (self._df.get(tok, 0) + 1)) + 1.0

    def _structural(self, a: tuple[str, str] | None, b: tuple[str, str] | None) -> float:
        """Whether both have the same root cause: 1 share for the same metric on the same
        entity group, 0.6 for the same metric, 0.3 for the same group; scaled by how rare
        that root cause is (0 when every indexed incident has it), so that a root cause
        the ranker names for everything says nothing."""
        theirs = dict(_root_tokens(b))
        for tok, share in _root_tokens(a):
            if tok in theirs:
                n = len(self._profiles)
                rarity = math.log((n + 1) / (self._df.get(tok, 0) + 1)) / math.log(n + 1) \
                    if n > 0 else 0.0
                return share * max(0.0, rarity)
        return 0.0

    def _vector(self, profile: _Profile) -> dict[Token, float]:
        vec = {tok: tf * self._idf(tok) for tok, tf in profile.bag.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {tok: v / norm for tok, v in vec.items()}

    def similar(self, record: IncidentRecord, limit: int = 5,
                exclude: Iterable[str] = ()) -> list[SimilarIncident]:
        """Indexed incidents most like ``record``, best first; never ``record`` itself nor
        incidents merged into it."""
        query = _profile(record)
        qvec = self._vector(query)
        skip = {record.id, *exclude}
        candidates: set[str] = set()
        for tok in qvec:
            candidates |= self._postings.get(tok, set())
        weight = self.config.structural_weight
        found: list[SimilarIncident] = []
        for cid in candidates - skip:
            other = self._profiles[cid]
            if other.record.incident.merged_into == record.id:
                continue
            ovec = self._vector(other)
            parts = {tok: qvec[tok] * ovec[tok] for tok in qvec.keys() & ovec.keys()}
            cosine = min(1.0, sum(parts.values()))
            structural = min(query.confidence, other.confidence) \
                * self._structural(query.root, other.root)
            score = (1.0 - weight) * cosine + weight * structural
            if score < self.config.min_score:
                continue
            found.append(self._result(other, score, cosine, structural, parts))
        found.sort(key=lambda r: (-r.score, r.incident_id))
        return found[:limit]

    def _result(self, other: _Profile, score: float, cosine: float, structural: float,
                parts: Mapping[Token, float]) -> SimilarIncident:
        shared = _shared(parts, cosine, self.config.max_shared)
        inc = other.record.incident
        top = other.record.top
        return SimilarIncident(
            inc.id, inc.title, inc.severity.value, score, cosine, structural, shared,
            "both: " + "; ".join(s.text for s in shared) if shared else "",
            PastOutcome.of(other.record), tuple(inc.entities), top.entity if top else None)


def _coarser(tok: Token) -> Token | None:
    """The token a finer one makes redundant in an explanation: "HighCPU on db" says
    what "HighCPU signals" says, and more."""
    field, value = tok
    name, _, where = value.partition("@")
    if field == "signal@entity":
        return "signal@group", f"{name}@{entity_group(where)}"
    if field == "signal@group":
        return "signal", name
    if field == "root@entity":
        return "root", entity_group(value)
    if field == "root_metric@group":
        return "root_metric", name
    return None


def _shared(parts: Mapping[Token, float], cosine: float, most: int) -> tuple[SharedFeature, ...]:
    ranked = sorted(parts.items(), key=lambda kv: (-kv[1], kv[0]))
    covered = {c for c in map(_coarser, parts) if c is not None}
    shown: list[SharedFeature] = []
    texts: set[str] = set()
    for tok, value in ranked:
        text = describe_token(tok)
        if tok in covered or text in texts:
            continue
        texts.add(text)
        shown.append(SharedFeature(tok[0], tok[1], text, value / cosine if cosine else 0.0))
        if len(shown) >= most:
            break
    return tuple(shown)


def _version(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """What changes when a stored incident's tokens may: its update time and ranking."""
    top = row.get("top_hypothesis") or {}
    return (row.get("updated_at"), row.get("status"), top.get("entity"), top.get("signal"),
            top.get("score"))


class IncidentLibrary:
    """A :class:`SimilarityIndex` kept up to date from a store's read paths.

    ``list_recent(n)`` returns up to ``n`` incident list rows, newest first (with
    ``updated_at`` and ``top_hypothesis``); ``load(ids)`` returns the full incidents it
    knows of those ids, by id. A refresh reads the list and loads, a few hundred at a
    time, only incidents that are new or changed, so repeated queries cost one list read.
    Safe to call from several threads.
    """

    LOAD_BATCH = 200

    def __init__(self, list_recent: Callable[[int], Sequence[Mapping[str, Any]]],
                 load: Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]],
                 config: SimilarityConfig | None = None) -> None:
        self.index = SimilarityIndex(config)
        self._list = list_recent
        self._load = load
        self._versions: dict[str, tuple[Any, ...]] = {}
        self._lock = threading.Lock()

    def refresh(self) -> int:
        """Bring the index up to date; returns how many incidents were (re)loaded."""
        with self._lock:
            rows = self._list(self.index.config.max_incidents)
            seen = {str(row["id"]) for row in rows}
            for gone in set(self._versions) - seen:
                self.index.remove(gone)
                del self._versions[gone]
            stale = {str(row["id"]): _version(row) for row in rows
                     if self._versions.get(str(row["id"])) != _version(row)}
            ids = list(stale)
            loaded = 0
            for at in range(0, len(ids), self.LOAD_BATCH):
                found = self._load(ids[at:at + self.LOAD_BATCH])
                for inc_id in ids[at:at + self.LOAD_BATCH]:
                    full = found.get(inc_id)
                    if full is None:
                        continue
                    self.index.add(IncidentRecord.from_row(full))
                    self._versions[inc_id] = stale[inc_id]
                    loaded += 1
            return loaded

    def similar(self, incident_id: str, limit: int = 5) -> list[SimilarIncident]:
        """Refresh, then rank the indexed incidents against ``incident_id``."""
        self.refresh()
        full = self._load([incident_id]).get(incident_id)
        if full is None:
            raise NotFound(f"no incident {incident_id}")
        with self._lock:
            return self.index.similar(IncidentRecord.from_row(full), limit)
