"""Session anomalies: lines that share a session key (request, block or trace id).

:class:`SessionModel` learns what normal sessions look like from their event sequences
(template ids) and explains what is wrong with an abnormal one:

* an event never seen in a normal session, or a transition (``a`` then ``b``, including
  session start and end) never seen — wrong or unexpected order;
* a required event missing: one present in nearly every normal session;
* a broken count invariant: pairs of events whose counts keep a fixed ratio in nearly
  every normal session (every "open" has its "close"), in the spirit of invariant mining
  (Lou et al., USENIX ATC 2010), restricted to small integer ratios between two events.

A session of one line has no order, counts or companions to judge: a new template there
is news about the template, which the new-template detector reports with its own rate
rules, so a lone line is abnormal only when normal sessions require events it lacks.
(Access logs that give every line a fresh request id make every session a lone line.)

"Nearly every" is ``support`` (0.995 by default): a rule that a few training sessions
break is still learnt, which keeps rare noise in the training data from hiding it.

:class:`SessionDetector` groups streaming :class:`~opscope.model.LogRecord` by session
key, closes a session after ``idle_seconds`` of event time without a line (or at
``max_events``), trains on the first ``train_sessions`` sessions and scores the rest.
Sessions of one entity that break the same way within ``repeat_seconds`` of the last
reported one are counted, not reported again: during an outage thousands of requests
fail alike, and the next report carries how many did (``evidence.similar_sessions``).

A way of breaking that keeps coming back in normal operation (reported in
``recurring_reports`` windows over at least ``recurring_seconds``: a retry path, a
client that sometimes gives up) is part of the service's normal life. From then on it is
reported only when its rate (sessions per second since its last window) exceeds
``surge_factor`` times its usual rate, kept as a moving average per pattern; otherwise
it is counted in ``known_patterns`` and stays quiet. A new way of breaking is reported
at once, as before.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from opscope.analyze.logs.detector import (
    TemplateText,
    anomaly_id,
    bounded_examples,
    check_version,
    entity_of,
    ts_of,
)
from opscope.model import Anomaly, LogRecord

_START, _END = "^", "$"
_RATIOS = (1.0, 2.0, 3.0, 0.5, 1.0 / 3.0)
_MODEL_KIND = "session_model"
_DETECTOR_KIND = "session"
_VERSION = 1


class SessionModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    support: float = Field(
        default=0.995, gt=0.5, le=1.0,
        description="Share of normal sessions a required event or invariant must hold in.",
    )
    min_activity: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="Share of sessions in which an invariant's events must occur at all.",
    )
    max_events: int = Field(default=500, ge=2, description="Distinct events modelled.")
    max_transitions: int = Field(default=20_000, ge=1, description="Transitions kept.")


@dataclass
class SessionVerdict:
    """Whether a session is abnormal, and why.

    ``reasons`` name events by template id: they are stable, so sessions that broke the
    same way share them (see :func:`abnormality_of`). :meth:`describe` says the same in
    the templates' own words, for people.
    """

    abnormal: bool
    score: float
    reasons: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    bad_order: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    broken: list[tuple[str, str, float]] = field(default_factory=list)

    def describe(self, text: TemplateText | None = None) -> list[str]:
        """The reasons with each event named by its template text where ``text`` knows it."""

        def name(event: str) -> str:
            if event == _START:
                return "session start"
            if event == _END:
                return "session end"
            found = text(event) if text is not None else None
            if not found:
                return event
            if len(found) > 80:
                found = found[:79] + "\u2026"
            return f"\u201c{found}\u201d"

        def listed(events: Sequence[str]) -> str:
            return ", ".join(name(e) for e in events)

        said: list[str] = []
        if self.unknown:
            noun = "line" if len(self.unknown) == 1 else "lines"
            said.append(f"unexpected log {noun} {listed(self.unknown[:5])}")
        for a, b in self.bad_order[:3]:
            said.append(f"{name(b)} after {name(a)}, never seen in that order")
        if self.missing:
            said.append(f"missing {listed(self.missing[:5])}")
        for a, b, r in self.broken[:3]:
            said.append(f"count of {name(a)} is not {r:g} \u00d7 that of {name(b)} as usual")
        return said


class SessionModel:
    """A model of normal sessions; see the module doc for the rules it learns."""

    def __init__(self, config: SessionModelConfig | None = None) -> None:
        self.config = config or SessionModelConfig()
        self.events: set[str] = set()
        self.transitions: set[tuple[str, str]] = set()
        self.required: list[str] = []
        self.invariants: list[tuple[str, str, float]] = []
        self.trained_on = 0

    def fit(self, sessions: Iterable[Sequence[str]]) -> SessionModel:
        cfg = self.config
        counts: Counter[tuple[tuple[str, int], ...]] = Counter()
        events: Counter[str] = Counter()
        total = 0
        for session in sessions:
            total += 1
            seq = list(session)
            for pair in zip([_START, *seq], [*seq, _END], strict=True):
                if len(self.transitions) < cfg.max_transitions:
                    self.transitions.add(pair)
            vector = Counter(seq)
            events.update(vector.keys())
            # Identical count vectors are common: keep each once with its multiplicity.
            counts[tuple(sorted(vector.items()))] += 1
        self.trained_on = total
        if total == 0:
            return self
        self.events = {e for e, _ in events.most_common(cfg.max_events)}
        need = cfg.support * total
        self.required = sorted(e for e in self.events if events[e] >= need)
        vectors = [(dict(v), n) for v, n in counts.items()]
        self.invariants = []
        for a, b in combinations(sorted(self.events), 2):
            active = sum(n for v, n in vectors if a in v or b in v)
            if active < cfg.min_activity * total:
                continue
            for ratio in _RATIOS:
                holds = sum(n for v, n in vectors if v.get(a, 0) == ratio * v.get(b, 0))
                if holds >= need:
                    self.invariants.append((a, b, ratio))
                    break
        return self

    def score(self, session: Sequence[str]) -> SessionVerdict:
        reasons: list[str] = []
        seq = list(session)
        unknown = sorted({e for e in seq if e not in self.events})
        # A lone line has no order, count or companions: a new template there is the
        # template's news (the new-template detector's), not the session's.
        lone = len(seq) == 1
        if unknown and not lone:
            reasons.append(f"unexpected events {unknown[:5]}")
        bad = [p for p in zip([_START, *seq], [*seq, _END], strict=True)
               if p not in self.transitions and p[0] not in unknown and p[1] not in unknown]
        if bad:
            reasons.append(f"unexpected order {bad[:3]}")
        counts = Counter(seq)
        missing = [e for e in self.required if counts[e] == 0]
        if missing:
            reasons.append(f"missing events {missing[:5]}")
        broken = [(a, b, r) for a, b, r in self.invariants if counts[a] != r * counts[b]]
        for a, b, r in broken[:3]:
            reasons.append(f"count of {a} ({counts[a]}) is not {r:g} x count of {b} "
                           f"({counts[b]})")
        if lone:
            unknown = []
        score = float(len(unknown) + len(bad) + len(missing) + len(broken))
        return SessionVerdict(bool(reasons), score, reasons, unknown, bad, missing, broken)

    def remapped(self, resolve: Callable[[str], str]) -> SessionModel:
        """The same model with every event id passed through ``resolve``: template ids
        that were merged into another template since training now read as that one."""
        def r(event: str) -> str:
            return event if event in (_START, _END) else resolve(event)

        model = SessionModel(self.config)
        model.events = {r(e) for e in self.events}
        model.transitions = {(r(a), r(b)) for a, b in self.transitions}
        model.required = sorted({r(e) for e in self.required})
        model.invariants = [(r(a), r(b), ratio) for a, b, ratio in self.invariants
                            if r(a) != r(b)]
        model.trained_on = self.trained_on
        return model

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": _MODEL_KIND, "version": _VERSION, "config": self.config.model_dump(),
            "events": sorted(self.events), "transitions": sorted(self.transitions),
            "required": self.required, "invariants": self.invariants,
            "trained_on": self.trained_on,
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> SessionModel:
        check_version(state, _MODEL_KIND, _VERSION)
        model = cls(SessionModelConfig(**state["config"]))
        model.events = {str(e) for e in state["events"]}
        model.transitions = {(str(a), str(b)) for a, b in state["transitions"]}
        model.required = [str(e) for e in state["required"]]
        model.invariants = [(str(a), str(b), float(r)) for a, b, r in state["invariants"]]
        model.trained_on = int(state["trained_on"])
        return model


# Session keys found in messages when no attribute names one: HDFS block ids, UUID-shaped
# request and trace ids, and ``req-``/``request_id=``/``trace_id=`` style fields.
#
# Each comes with words one of which any match contains: a regex that starts with ``\b``
# is tried at every position of a line, while ``in`` rules most lines out many times faster.
_DEFAULT_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"\b(blk_-?\d+)\b", ("blk_",)),
    (r"\b((?:req|request|trace|txn)[-_][0-9a-fA-F-]{8,})\b", ("req", "trace", "txn")),
    (r"\b(?:request_id|requestId|trace_id|traceId|session_id)[=:]\s*\"?([\w-]+)",
     ("request", "trace", "session_id")),
)
DEFAULT_KEY_PATTERNS = tuple(pattern for pattern, _ in _DEFAULT_KEYS)
_REQUIRED_WORDS = dict(_DEFAULT_KEYS)


def _pattern_state(values: Sequence[Any]) -> list[float]:
    """A saved pattern's state; one saved with its last report and count only is read as
    a pattern reported once."""
    state = [float(v) for v in values]
    return state if len(state) == 5 else [state[0], state[1], 1.0, state[0], 0.0]


def abnormality_of(reasons: Sequence[str]) -> str:
    """What was wrong, as a stable short id: sessions that broke the same way share it.

    It is the anomaly's ``subject``, so that downstream (correlation, dedup) a burst of
    sessions failing alike is one signal that repeats, not thousands of signals; the
    session key stays in the evidence.
    """
    digest = hashlib.blake2b("; ".join(reasons).encode(), digest_size=8).hexdigest()
    return f"session-pattern-{digest}"


class SessionDetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key_attributes: list[str] = Field(
        default=["session_id", "request_id", "trace_id", "block_id"],
        description="Record attributes that name the session, tried in order.",
    )
    key_patterns: list[str] = Field(
        default=list(DEFAULT_KEY_PATTERNS),
        description="Regexes (first group = key) tried on the message when no attribute is set.",
    )
    idle_seconds: float = Field(
        default=300.0, gt=0.0, description="Event time without a line that ends a session.",
    )
    max_events: int = Field(default=1000, ge=2, description="Events that end a session.")
    max_open: int = Field(
        default=50_000, ge=1, description="Open sessions kept; the oldest is closed beyond.",
    )
    train_sessions: int = Field(
        default=1000, ge=1, description="Closed sessions learnt from before scoring starts.",
    )
    model: SessionModelConfig = Field(default_factory=SessionModelConfig)
    examples: int = Field(default=5, ge=0, description="Example lines kept per session.")
    repeat_seconds: float = Field(
        default=60.0, ge=0.0,
        description="Event time after reporting an abnormal session during which sessions "
                    "of the same entity that break the same way are only counted; 0 reports "
                    "every one.",
    )
    recurring_reports: int = Field(
        default=3, ge=1, description="Windows a pattern was reported in before it may count "
        "as part of normal operation.")
    recurring_seconds: float = Field(
        default=1800.0, ge=0.0, description="Event time those windows must span at least.")
    surge_factor: float = Field(
        default=3.0, gt=1.0, description="A recurring pattern is reported again when its rate "
        "exceeds this many times its usual rate.")


@dataclass
class _Open:
    entity: str
    first: float
    last: float
    events: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


class TemplateIds(Protocol):
    """Where template ids come from: what an id handed out earlier is now, and how many
    merges have moved ids so far (see :class:`~opscope.analyze.logs.miner.TemplateMiner`)."""

    def resolve(self, template_id: str) -> str: ...
    @property
    def merge_count(self) -> int: ...


class SessionDetector:
    """Streams records into sessions; trains on the first ones, then flags abnormal ones.

    Template ids change when the miner merges one template into another, so with
    ``templates`` given, sessions are scored by current ids and the model's ids are brought
    up to date after every merge: otherwise a line the model knew under its old id would
    read as never seen.
    """

    def __init__(self, config: SessionDetectorConfig | None = None,
                 template_text: TemplateText | None = None,
                 model: SessionModel | None = None,
                 templates: TemplateIds | None = None) -> None:
        self.config = config or SessionDetectorConfig()
        self.template_text = template_text
        self.templates = templates
        self._merges_seen = -1
        self._patterns = [(re.compile(p), _REQUIRED_WORDS.get(p))
                          for p in self.config.key_patterns]
        self._open: dict[str, _Open] = {}
        self._training: list[list[str]] = []
        self.model = model
        self._now = 0.0
        self.evicted = 0
        # (entity, abnormality) -> [event time of the last report, sessions held back since]
        self._reported: dict[tuple[str, str], list[float]] = {}
        self.held_back = 0
        self.known_patterns = 0

    def key_of(self, record: LogRecord) -> str | None:
        attributes = record.attributes
        if attributes:
            for name in self.config.key_attributes:
                value = attributes.get(name)
                if value:
                    return value
        message = record.message
        for pattern, words in self._patterns:
            if words is not None:
                for word in words:
                    if word in message:
                        break
                else:
                    continue
            found = pattern.search(message)
            if found is not None:
                return found.group(1)
        return None

    def observe(self, records: Sequence[LogRecord]) -> list[Anomaly]:
        found: list[Anomaly] = []
        key_of = self.key_of
        for record in records:
            if not record.template_id:
                continue
            key = key_of(record)
            if key is None:
                continue
            now = record.ts.timestamp()
            self._now = max(self._now, now)
            session = self._open.get(key)
            if session is None:
                if len(self._open) >= self.config.max_open:
                    oldest = min(self._open, key=lambda k: self._open[k].last)
                    self.evicted += 1
                    found.extend(self._close(oldest))
                session = _Open(entity_of(record), now, now)
                self._open[key] = session
            session.last = max(session.last, now)
            session.events.append(record.template_id)
            bounded_examples(session.examples, record.message, self.config.examples)
            if len(session.events) >= self.config.max_events:
                found.extend(self._close(key))
        found.extend(self.flush(before=self._now - self.config.idle_seconds))
        return found

    def flush(self, before: float | None = None) -> list[Anomaly]:
        """Close sessions idle since ``before`` (event seconds), or all when None."""
        keys = [k for k, s in self._open.items() if before is None or s.last < before]
        found: list[Anomaly] = []
        for key in keys:
            found.extend(self._close(key))
        return found

    def _current(self, events: list[str]) -> list[str]:
        return events if self.templates is None else [self.templates.resolve(e) for e in events]

    def _close(self, key: str) -> list[Anomaly]:
        session = self._open.pop(key)
        if self.model is None:
            self._training.append(session.events)
            if len(self._training) >= self.config.train_sessions:
                self.model = SessionModel(self.config.model).fit(
                    self._current(s) for s in self._training)
                self._training = []
                self._merges_seen = -1
            return []
        if self.templates is not None and self._merges_seen != self.templates.merge_count:
            self.model = self.model.remapped(self.templates.resolve)
            self._merges_seen = self.templates.merge_count
        verdict = self.model.score(self._current(session.events))
        if not verdict.abnormal:
            return []
        subject = abnormality_of(verdict.reasons)
        similar = self._gate((session.entity, subject), session.first)
        if similar is None:
            return []
        texts: dict[str, str | None] = {}
        if self.template_text is not None:
            texts = {e: self.template_text(e) for e in dict.fromkeys(session.events)}
        said = "; ".join(verdict.describe(self.template_text))
        return [Anomaly(
            id=anomaly_id(_DETECTOR_KIND, key, session.first), kind="log_session",
            detector=_DETECTOR_KIND, entity=session.entity,
            subject=subject,
            ts=ts_of(session.first), score=verdict.score, value=float(len(session.events)),
            summary=f"abnormal session on {session.entity or 'an unnamed entity'}: {said}"[:2048],
            evidence={
                "session": key, "reasons": verdict.reasons,
                "events": session.events[:200], "templates": texts,
                "started": ts_of(session.first).isoformat(),
                "ended": ts_of(session.last).isoformat(), "examples": session.examples,
                "similar_sessions": similar,
            },
        )]

    def _gate(self, pattern: tuple[str, str], at: float) -> int | None:
        """Whether an abnormal session of ``pattern`` at ``at`` is reported: None when it is
        only counted, else how many like it were held back since the last report."""
        seen = self._reported.get(pattern)
        if seen is None:
            if len(self._reported) >= self.config.max_open:  # bounded, like open sessions
                self._reported.pop(min(self._reported, key=lambda k: self._reported[k][0]))
            # last window start, held back since, windows reported, first report, usual rate
            self._reported[pattern] = [at, 0.0, 1.0, at, 0.0]
            return 0
        last, held, reports, first, usual = seen
        if at - last < self.config.repeat_seconds:
            seen[1] += 1
            self.held_back += 1
            return None
        rate = (held + 1.0) / max(at - last, 1.0)
        recurring = (reports >= self.config.recurring_reports
                     and at - first >= self.config.recurring_seconds)
        seen[0], seen[1] = at, 0.0
        seen[4] = rate if usual == 0.0 else 0.9 * usual + 0.1 * rate
        if recurring and rate <= self.config.surge_factor * usual:
            self.known_patterns += 1
            return None
        seen[2] = reports + 1.0
        return int(held)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": _DETECTOR_KIND, "version": _VERSION, "config": self.config.model_dump(),
            "model": self.model.to_json() if self.model is not None else None,
            "training": self._training, "now": self._now, "evicted": self.evicted,
            "reported": [[e, k, *v] for (e, k), v in self._reported.items()],
            "held_back": self.held_back, "known_patterns": self.known_patterns,
            "open": {k: {"entity": s.entity, "first": s.first, "last": s.last,
                         "events": s.events, "examples": s.examples}
                     for k, s in self._open.items()},
        }

    @classmethod
    def from_json(cls, state: dict[str, Any], template_text: TemplateText | None = None,
                  templates: TemplateIds | None = None) -> SessionDetector:
        check_version(state, _DETECTOR_KIND, _VERSION)
        model = SessionModel.from_json(state["model"]) if state["model"] else None
        detector = cls(SessionDetectorConfig(**state["config"]), template_text, model,
                       templates)
        detector._training = [list(s) for s in state["training"]]
        detector._now = float(state["now"])
        detector.evicted = int(state["evicted"])
        detector._reported = {(str(row[0]), str(row[1])): _pattern_state(row[2:])
                              for row in state.get("reported", [])}
        detector.held_back = int(state.get("held_back", 0))
        detector.known_patterns = int(state.get("known_patterns", 0))
        detector._open = {
            k: _Open(str(s["entity"]), float(s["first"]), float(s["last"]),
                     list(s["events"]), list(s["examples"]))
            for k, s in state["open"].items()
        }
        return detector
