"""Alert history reduced to occurrences: one per alert firing, however often it was sent."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from opscope.model.events import Event

KeyOf = Callable[[Event], str]


def type_key(event: Event) -> str:
    """The default unit of pattern discovery: what fired where."""
    return f"{event.name}@{event.entity}"


def name_key(event: Event) -> str:
    return event.name


@dataclass(frozen=True, slots=True)
class Occurrence:
    key: str
    source: str
    fingerprint: str
    name: str
    entity: str
    start: datetime
    end: datetime | None


def occurrences(events: Iterable[Event], key: KeyOf = type_key) -> list[Occurrence]:
    """One record per ``(source, fingerprint, starts_at)``, with the latest end seen,
    sorted by start time."""
    found: dict[tuple[str, str, datetime], Occurrence] = {}
    for ev in events:
        ident = (ev.source, ev.fingerprint, ev.starts_at)
        old = found.get(ident)
        end = ev.ends_at if old is None or old.end is None else \
            max(filter(None, (old.end, ev.ends_at)))
        found[ident] = Occurrence(key(ev), ev.source, ev.fingerprint, ev.name, ev.entity,
                                  ev.starts_at, end)
    return sorted(found.values(), key=lambda o: (o.start, o.key, o.fingerprint))
