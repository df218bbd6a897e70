"""Plain-English questions read into structured queries, with what was not understood.

``parse_question("critical alerts on checkout in the last 2 hours", now, entities)``
returns an :class:`Interpretation`: what is asked for (alerts, incidents, logs,
anomalies, changes, tickets), how (a list, a count, or the entities with the most),
filters (entities, severity, log level, status, change kind, entity kind) and a time
range. Entities are matched against the names the caller knows (topology and store);
a near miss is taken only when exactly one name is close, and said so in ``notes``.
Words that fit nowhere are listed in ``not_understood``: they are reported, never
guessed. Times of day are read in UTC.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from opscope.model.events import SEVERITY_ALIASES

MAX_QUESTION_CHARS = 500


class Subject(StrEnum):
    ALERTS = "alerts"
    INCIDENTS = "incidents"
    LOGS = "logs"
    ANOMALIES = "anomalies"
    CHANGES = "changes"
    TICKETS = "tickets"


class Aggregate(StrEnum):
    LIST = "list"
    COUNT = "count"
    TOP_ENTITIES = "top_entities"


@dataclass(frozen=True, slots=True)
class Interpretation:
    subject: Subject | None = None
    aggregate: Aggregate = Aggregate.LIST
    entities: tuple[str, ...] = ()
    entity_kind: str | None = None
    severity: tuple[str, ...] = ()
    level: tuple[str, ...] = ()
    status: str | None = None
    change_kind: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    not_understood: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def understood(self) -> bool:
        return self.subject is not None and not self.not_understood

    def structure(self) -> dict[str, Any]:
        """The structured query alone (what tests compare), JSON-ready."""
        return {
            "subject": self.subject.value if self.subject else None,
            "aggregate": self.aggregate.value, "entities": list(self.entities),
            "entity_kind": self.entity_kind, "severity": list(self.severity),
            "level": list(self.level), "status": self.status,
            "change_kind": self.change_kind,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "not_understood": list(self.not_understood),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.structure(), "notes": list(self.notes), "text": self.describe()}

    def describe(self) -> str:
        """The reading shown to the user: "I read this as: alerts, severity critical, ..."."""
        if self.subject is None:
            return "I could not tell what to look for (alerts, incidents, logs, anomalies, " \
                   "changes or tickets)."
        what = {Aggregate.LIST: "", Aggregate.COUNT: "count of ",
                Aggregate.TOP_ENTITIES: "entities with the most "}[self.aggregate]
        bits = [what + self.subject.value]
        if self.change_kind:
            bits.append(f"kind {self.change_kind}")
        if self.status:
            bits.append(f"status {self.status}")
        if self.severity:
            bits.append("severity " + " or ".join(self.severity))
        if self.level:
            bits.append("level " + " or ".join(self.level))
        if self.entities:
            bits.append(("entity " if len(self.entities) == 1 else "entities ")
                        + " or ".join(self.entities))
        if self.entity_kind:
            bits.append(f"{self.entity_kind}s only")
        if self.start or self.end:
            start = self.start.strftime("%Y-%m-%d %H:%M UTC") if self.start else "the start"
            end = self.end.strftime("%Y-%m-%d %H:%M UTC") if self.end else "now"
            bits.append(f"from {start} to {end}")
        else:
            bits.append("any time")
        text = "I read this as: " + ", ".join(bits) + "."
        if self.not_understood:
            text += " Not understood: " + ", ".join(repr(w) for w in self.not_understood) + "."
        return text


# --- vocabulary -----------------------------------------------------------------------

SUBJECT_WORDS: dict[str, Subject] = {
    "alert": Subject.ALERTS, "alerts": Subject.ALERTS, "alarm": Subject.ALERTS,
    "alarms": Subject.ALERTS, "event": Subject.ALERTS, "events": Subject.ALERTS,
    "incident": Subject.INCIDENTS, "incidents": Subject.INCIDENTS,
    "outage": Subject.INCIDENTS, "outages": Subject.INCIDENTS,
    "log": Subject.LOGS, "logs": Subject.LOGS, "lines": Subject.LOGS,
    "messages": Subject.LOGS, "errors": Subject.LOGS,
    "anomaly": Subject.ANOMALIES, "anomalies": Subject.ANOMALIES,
    "change": Subject.CHANGES, "changes": Subject.CHANGES,
    "deploy": Subject.CHANGES, "deploys": Subject.CHANGES, "deployment": Subject.CHANGES,
    "deployments": Subject.CHANGES, "release": Subject.CHANGES, "releases": Subject.CHANGES,
    "rollout": Subject.CHANGES, "rollouts": Subject.CHANGES,
    "ticket": Subject.TICKETS, "tickets": Subject.TICKETS,
}
DEPLOY_WORDS = frozenset({"deploy", "deploys", "deployment", "deployments", "release",
                          "releases", "rollout", "rollouts"})
LEVELS: dict[str, str] = {"fatal": "fatal", "error": "error", "errors": "error",
                          "warn": "warning", "warning": "warning", "warnings": "warning",
                          "info": "info", "debug": "debug"}
# Monitors' severity spellings, less those that mean something else in a question
# ("high latency", "none", "page").
SEVERITY_WORDS: dict[str, str] = {
    word: sev.value for word, sev in SEVERITY_ALIASES.items()
    if word not in {"high", "low", "none", "ok", "page", "average", "medium", "notice"}}
STATUS_WORDS: dict[str, str] = {"open": "open", "active": "open", "ongoing": "open",
                                "unresolved": "open", "firing": "open",
                                "resolved": "resolved", "closed": "resolved",
                                "merged": "merged"}
ENTITY_KIND_WORDS: dict[str, str] = {
    "service": "service", "services": "service", "host": "host", "hosts": "host",
    "server": "host", "servers": "host", "database": "database", "databases": "database",
    "db": "database", "dbs": "database", "cache": "cache", "caches": "cache",
    "queue": "queue", "queues": "queue", "entity": "", "entities": "",
    "component": "", "components": "",
}
FILLER = frozenset({
    "a", "an", "the", "any", "all", "some", "of", "on", "in", "at", "for", "from", "to", "by",
    "with", "about", "affecting", "affected", "involving", "touching", "show", "me", "list",
    "give", "get", "find", "display", "what", "which", "who", "were", "was", "are", "is", "be",
    "been", "there", "have", "has", "had", "did", "do", "does", "how", "many", "much", "number",
    "count", "most", "top", "and", "or", "please", "that", "those", "these", "us", "i", "we",
    "my", "our", "recent", "recently", "happened", "happen", "occurred", "seen", "raised",
    "fired",
})
NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12,
                "fifteen": 15, "twenty": 20, "thirty": 30}
UNITS = {"m": "minutes", "min": "minutes", "mins": "minutes", "minute": "minutes",
         "minutes": "minutes", "h": "hours", "hr": "hours", "hrs": "hours", "hour": "hours",
         "hours": "hours", "d": "days", "day": "days", "days": "days", "w": "weeks",
         "week": "weeks", "weeks": "weeks"}

_NUM = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
_UNIT = r"(" + "|".join(sorted(UNITS, key=len, reverse=True)) + r")"
_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?"
_DATE = r"(\d{4}-\d{2}-\d{2})(?:[ t](\d{1,2}:\d{2}))?"
_TOKEN = re.compile(r"[a-z0-9][a-z0-9_.:/\-]*[a-z0-9]|[a-z0-9]")


def _midnight(ts: datetime) -> datetime:
    return ts.replace(hour=0, minute=0, second=0, microsecond=0)


def _clock(now: datetime, hour: str, minute: str | None, ampm: str | None) -> datetime | None:
    h, m = int(hour), int(minute or 0)
    if ampm == "pm" and h < 12:
        h += 12
    elif ampm == "am" and h == 12:
        h = 0
    if h > 23 or m > 59:
        return None
    at = _midnight(now).replace(hour=h, minute=m)
    return at - timedelta(days=1) if at > now else at


def _date(now: datetime, day: str, clock: str | None) -> datetime | None:
    try:
        at = datetime.fromisoformat(day).replace(tzinfo=now.tzinfo)
    except ValueError:
        return None
    if clock:
        h, m = (int(x) for x in clock.split(":"))
        if h > 23 or m > 59:
            return None
        at = at.replace(hour=h, minute=m)
    return at


_TimeRule = tuple[re.Pattern[str], Any]


def _rules() -> list[_TimeRule]:
    def last(match: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        n = match.group(1)
        count = int(n) if n.isdigit() else NUMBER_WORDS[n]
        return now - timedelta(**{UNITS[match.group(2)]: count}), now

    def last_one(match: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        return now - timedelta(**{UNITS[match.group(1)]: 1}), now

    def ago(match: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        n = match.group(1)
        count = int(n) if n.isdigit() else NUMBER_WORDS[n]
        return now - timedelta(**{UNITS[match.group(2)]: count}), now

    def on_date(match: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        day = _date(now, match.group(1), None)
        return day, (day + timedelta(days=1) if day else None)

    def since_clock(match: re.Match[str], now: datetime
                    ) -> tuple[datetime | None, datetime | None]:
        return _clock(now, match.group(1), match.group(2), match.group(3)), now

    def between_clocks(match: re.Match[str], now: datetime
                       ) -> tuple[datetime | None, datetime | None]:
        start = _clock(now, *match.group(1, 2, 3))
        end = _clock(now, *match.group(4, 5, 6))
        if start is not None and end is not None and end <= start:
            start -= timedelta(days=1)
        return start, end

    def since_date(match: re.Match[str], now: datetime
                   ) -> tuple[datetime | None, datetime | None]:
        return _date(now, match.group(1), match.group(2)), now

    def today(_: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        return _midnight(now), now

    def yesterday(_: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        return _midnight(now) - timedelta(days=1), _midnight(now)

    def since_yesterday(_: re.Match[str], now: datetime
                        ) -> tuple[datetime | None, datetime | None]:
        return _midnight(now) - timedelta(days=1), now

    def this_week(_: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        return _midnight(now) - timedelta(days=now.weekday()), now

    def this_month(_: re.Match[str], now: datetime) -> tuple[datetime | None, datetime | None]:
        return _midnight(now).replace(day=1), now

    lead = r"(?:(?:in|during|over|within|for)\s+)?(?:the\s+)?"
    return [
        (re.compile(lead + r"(?:last|past|previous)\s+" + _NUM + r"\s*" + _UNIT + r"\b"), last),
        (re.compile(lead + r"(?:last|past|previous)\s+" + _UNIT + r"\b"), last_one),
        (re.compile(r"(?:between|from)\s+" + _CLOCK + r"\s+(?:and|to|until)\s+" + _CLOCK
                    + r"\b"), between_clocks),
        (re.compile(r"(?:since\s+)?" + _NUM + r"\s*" + _UNIT + r"\s+ago\b"), ago),
        (re.compile(r"(?:since|after)\s+yesterday\b"), since_yesterday),
        (re.compile(r"(?:since|after|from)\s+" + _DATE + r"\b"), since_date),
        (re.compile(r"(?:since|after|from)\s+" + _CLOCK + r"\b"), since_clock),
        (re.compile(r"(?:on\s+)?(\d{4}-\d{2}-\d{2})\b"), on_date),
        (re.compile(r"\byesterday\b"), yesterday),
        (re.compile(r"\btoday\b"), today),
        (re.compile(r"\bthis\s+week\b"), this_week),
        (re.compile(r"\bthis\s+month\b"), this_month),
    ]


TIME_RULES = _rules()


def _time(text: str, now: datetime) -> tuple[str, datetime | None, datetime | None, bool]:
    """Strip the first time expression; returns the rest, the range, and whether one was
    found but could not be read (an impossible clock time or date)."""
    for pattern, read in TIME_RULES:
        match = pattern.search(text)
        if match:
            start, end = read(match, now)
            rest = text[:match.start()] + " " + text[match.end():]
            return rest, start, end, start is None
    return text, None, None, False


# --- entities -------------------------------------------------------------------------


def _entity(word: str, known: Mapping[str, str]) -> tuple[str | None, str | None]:
    """``(entity, note)`` for a word: exact, singular/plural, or one unambiguous near
    miss; ``(None, note)`` when several names are close."""
    if word in known:
        return known[word], None
    for variant in (word[:-1] if word.endswith("s") else word + "s",
                    word[:-2] if word.endswith("es") else ""):
        if variant and variant in known:
            return known[variant], f"read {word!r} as {known[variant]}"
    if len(word) < 4:
        return None, None
    close = difflib.get_close_matches(word, list(known), n=2, cutoff=0.85)
    if len(close) == 1:
        return known[close[0]], f"read {word!r} as {known[close[0]]}"
    if len(close) > 1:
        names = " or ".join(sorted(known[c] for c in close))
        return None, f"{word!r} could be {names}: give the exact name"
    return None, None


def parse_question(question: str, now: datetime, entities: Iterable[str] = (),
                   entity_kinds: Iterable[str] = ()) -> Interpretation:
    """Read ``question`` into an :class:`Interpretation` (see the module docstring).

    ``now`` anchors relative times ("last 2 hours", "yesterday"); ``entities`` are the
    names to match; ``entity_kinds`` the kinds they come in (service, host, ...)."""
    text = " ".join(question.lower().replace("?", " ").replace(",", " ").split())
    known = {e.lower(): e for e in entities if e}
    kinds = set(entity_kinds)
    text, start, end, bad_time = _time(text, now)
    out = Interpretation(start=start, end=end)
    unknown: list[str] = []
    notes: list[str] = []
    if bad_time:
        notes.append("a time was given that is not a valid date or time of day")
    if re.search(r"\bhow\s+(many|much)\b|\bnumber\s+of\b|\bcount\b", text):
        out = replace(out, aggregate=Aggregate.COUNT)
    if re.search(r"\bmost\b|\btop\b|\bbusiest\b|\bnoisiest\b", text):
        out = replace(out, aggregate=Aggregate.TOP_ENTITIES)
    words = _TOKEN.findall(text)
    severity: list[str] = []
    level: list[str] = []
    found: list[str] = []
    status_word: str | None = None
    tentative = False
    for word in words:
        if word in known:
            found.append(known[word])
            continue
        if word in SUBJECT_WORDS:
            subject = SUBJECT_WORDS[word]
            if word == "errors":
                # "errors" alone means error logs; beside a subject it is its error level.
                level.append("error")
                if out.subject is None:
                    out, tentative = replace(out, subject=subject), True
                continue
            if out.subject is None or tentative:
                out, tentative = replace(out, subject=subject), False
            elif out.subject is not subject:
                unknown.append(word)
                notes.append(f"asked for both {out.subject.value} and {subject.value}")
            if word in DEPLOY_WORDS:
                out = replace(out, change_kind="deploy")
            continue
        if word in STATUS_WORDS:
            status_word = STATUS_WORDS[word]
            continue
        if word in LEVELS or word in SEVERITY_WORDS:
            (level if word in LEVELS else severity).append(word)
            continue
        if word in ENTITY_KIND_WORDS:
            kind = ENTITY_KIND_WORDS[word]
            if kind and kind in kinds:
                out = replace(out, entity_kind=kind)
            elif kind and kinds:
                unknown.append(word)
                notes.append(f"no entity of kind {kind} is known")
            continue
        if word in FILLER or word in NUMBER_WORDS:
            continue
        entity, note = _entity(word, known)
        if note:
            notes.append(note)
        if entity is not None:
            found.append(entity)
        else:
            unknown.append(word)
    return _settle(out, severity, level, found, status_word, unknown, notes)


def _settle(out: Interpretation, severity: list[str], level: list[str], found: list[str],
            status_word: str | None, unknown: list[str], notes: list[str]) -> Interpretation:
    """Put severity-like words where the subject wants them (a log's level, an alert's
    severity) and the status in the subject's own terms."""
    subject = out.subject
    if subject is Subject.LOGS:
        level = [LEVELS.get(w, w) for w in level + severity if w in LEVELS]
        unknown += [w for w in severity if w not in LEVELS]
        severity = []
    else:
        severity = [SEVERITY_WORDS[w] for w in severity + level if w in SEVERITY_WORDS]
        unknown += [w for w in level if w not in SEVERITY_WORDS]
        level = []
        if severity and subject not in (Subject.ALERTS, Subject.INCIDENTS, None):
            notes.append(f"severity does not apply to {subject.value}")
            unknown += severity
            severity = []
    status = None
    if status_word is not None:
        if subject is Subject.INCIDENTS:
            status = status_word
        elif subject is Subject.ALERTS and status_word in ("open", "resolved"):
            status = "firing" if status_word == "open" else "resolved"
        else:
            notes.append(f"status {status_word!r} does not apply to "
                         f"{subject.value if subject else 'this question'}")
            unknown.append(status_word)
    return replace(out, severity=tuple(dict.fromkeys(severity)),
                   level=tuple(dict.fromkeys(level)), entities=tuple(dict.fromkeys(found)),
                   status=status, not_understood=tuple(dict.fromkeys(unknown)),
                   notes=tuple(notes))
