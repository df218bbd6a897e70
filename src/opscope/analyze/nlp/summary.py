"""A plain-English summary of an incident, built only from its record.

Each sentence names the fields it was made from, and a sentence whose fields are empty
is left out: nothing is inferred that the record does not hold. Times are event times,
written in UTC.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opscope.analyze.nlp.record import IncidentRecord
from opscope.model.incident import IncidentStatus
from opscope.model.records import Change
from opscope.model.units import duration

_RANK_PREFIX = re.compile(r"^\s*rank\s*\d+\s*:\s*", re.IGNORECASE)
CHANGE_LOOKBACK = timedelta(hours=1)
"""Changes on affected entities this long before the incident opened are listed."""
MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class SummarySentence:
    text: str
    sources: tuple[str, ...]
    """The record fields the sentence states, e.g. ``incident.impact``."""


@dataclass(frozen=True, slots=True)
class IncidentSummary:
    incident_id: str
    sentences: tuple[SummarySentence, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    def to_json(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "text": self.text,
                "sentences": [{"text": s.text, "sources": list(s.sources)}
                              for s in self.sentences]}


def when(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d %H:%M UTC")


def listing(items: Sequence[str], most: int = MAX_LISTED) -> str:
    """``a``, ``a and b``, ``a, b and c``, ``a, b, c and 4 more``."""
    items = list(items)
    if len(items) > most:
        return ", ".join(items[:most]) + f" and {len(items) - most} more"
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]




def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") else f"{n} {word}s"


def summarize(record: IncidentRecord, changes: Sequence[Change] = ()) -> IncidentSummary:
    """Sentences about what is affected, since when, of what it is made, the most likely
    cause and why, suspect changes and the incident's state. ``changes`` are change
    records on its entities (the caller reads them); those in the hour before it opened
    or during it are listed."""
    parts = [_affected(record), _state(record), _signals(record), *_cause(record),
             _changes(record, changes), _follow_up(record)]
    return IncidentSummary(record.id, tuple(p for p in parts if p is not None))


def _affected(record: IncidentRecord) -> SummarySentence | None:
    inc = record.incident
    if not inc.entities:
        return None
    article = "An" if inc.severity.value[0] in "aeiou" else "A"
    text = f"{article} {inc.severity.value} incident on {listing(inc.entities)}"
    sources = ["incident.severity", "incident.entities"]
    if inc.impact:
        text += f", affecting the user-facing {listing(inc.impact)}"
        sources.append("incident.impact")
    return SummarySentence(text + ".", tuple(sources))


def _state(record: IncidentRecord) -> SummarySentence:
    inc = record.incident
    opened = when(inc.opened_at)
    if inc.status is IncidentStatus.MERGED:
        return SummarySentence(f"It opened at {opened} and was merged into {inc.merged_into}.",
                               ("incident.opened_at", "incident.merged_into"))
    if inc.resolved_at is not None:
        resolvers = [a.actor for a in record.actions if a.action == "resolve"]
        by = f" by {resolvers[-1]}" if resolvers else ""
        lasted = duration((inc.resolved_at - inc.opened_at).total_seconds(), words=True)
        how = "" if resolvers else ", on its own once every signal was quiet"
        return SummarySentence(
            f"It opened at {opened} and was resolved{by} at {when(inc.resolved_at)}, "
            f"{lasted} later{how}.",
            ("incident.opened_at", "incident.resolved_at", "actions"))
    word = "pending (not yet past the opening gate)" if inc.status is IncidentStatus.PENDING \
        else "open"
    text = f"It has been {word} since {opened}, last updated {when(inc.updated_at)}"
    sources = ["incident.status", "incident.opened_at", "incident.updated_at"]
    if inc.acknowledged_by:
        text += f", and was acknowledged by {inc.acknowledged_by}"
        sources.append("incident.acknowledged_by")
    return SummarySentence(text + ".", tuple(sources))


def _signals(record: IncidentRecord) -> SummarySentence | None:
    counted = [m for m in record.members if not m.muted_by]
    muted = len(record.members) - len(counted)
    if not record.members:
        return None
    groups = []
    for kind in ("alert", "anomaly"):
        names = Counter(m.signal.name for m in counted if m.signal.kind.value == kind)
        if names:
            listed = [f"{name} x{n}" if n > 1 else name for name, n in names.most_common()]
            groups.append(f"{_plural(sum(names.values()), kind)} ({listing(listed, 4)})")
    text = f"It is made of {listing(groups)}" if groups else "All its signals are muted"
    firing = record.incident.firing_count
    if groups and record.incident.status is not IncidentStatus.RESOLVED:
        text += f", {firing} still firing"
    if muted:
        text += f"; {muted} more muted (kept, not counted)"
    return SummarySentence(text + ".", ("members", "incident.firing_count"))


def _cause(record: IncidentRecord) -> list[SummarySentence]:
    top = record.top
    if top is None:
        return []
    what = f"{top.entity} ({top.signal})" if top.signal else top.entity
    text = f"The most likely cause is {what}"
    # The ranker's sentence, without the rank it may start with (said here already).
    reason = _RANK_PREFIX.sub("", top.reason).rstrip(".")
    text += f": {reason}." if reason else "."
    out = [SummarySentence(text, ("hypotheses[0].entity", "hypotheses[0].signal",
                                  "hypotheses[0].reason"))]
    evidence = [e.summary.rstrip(".") for e in top.evidence[:3] if e.summary]
    if evidence:
        out.append(SummarySentence("Evidence: " + "; ".join(evidence) + ".",
                                   ("hypotheses[0].evidence",)))
    others = [h.entity for h in record.hypotheses if h.rank > top.rank][:3]
    if others:
        out.append(SummarySentence(f"Next candidates: {listing(others)}.",
                                   ("hypotheses[1:].entity",)))
    return out


def _changes(record: IncidentRecord, changes: Sequence[Change]) -> SummarySentence | None:
    inc = record.incident
    end = inc.resolved_at or inc.updated_at
    suspects = sorted((c for c in changes
                       if c.entity in inc.entities
                       and inc.opened_at - CHANGE_LOOKBACK <= c.ts <= end),
                      key=lambda c: c.ts)
    phrases = []
    for c in suspects[:MAX_LISTED]:
        what = f"{c.kind} of {c.entity}" + (f" {c.version}" if c.version else "")
        who = f" by {c.author}" if c.author else ""
        gap = (inc.opened_at - c.ts).total_seconds()
        rel = f"{duration(gap, words=True)} before it opened" if gap > 0 else "after it opened"
        phrases.append(f"{what}{who} at {when(c.ts)} ({rel})")
    # Changes the ranking itself weighed, when the caller did not pass change records.
    cited = [e.summary.rstrip(".") for h in record.hypotheses for e in h.evidence
             if e.kind == "change" and e.summary]
    if not phrases and cited:
        phrases = list(dict.fromkeys(cited))[:MAX_LISTED]
    if not phrases:
        return None
    extra = f" (and {len(suspects) - MAX_LISTED} more)" if len(suspects) > MAX_LISTED else ""
    return SummarySentence("Recent changes that are suspects: " + "; ".join(phrases)
                           + extra + ".", ("changes", "hypotheses[].evidence"))


def _follow_up(record: IncidentRecord) -> SummarySentence | None:
    inc = record.incident
    bits, sources = [], []
    if inc.ticket_ids:
        bits.append(f"tickets {listing(inc.ticket_ids)}")
        sources.append("incident.ticket_ids")
    if inc.recurrence_of:
        bits.append(f"it repeats the resolved incident {inc.recurrence_of}")
        sources.append("incident.recurrence_of")
    if inc.acknowledged_by and inc.resolved_at is not None:
        bits.append(f"acknowledged by {inc.acknowledged_by}")
        sources.append("incident.acknowledged_by")
    if not bits:
        return None
    text = "; ".join(bits)
    return SummarySentence(text[0].upper() + text[1:] + ".", tuple(sources))
