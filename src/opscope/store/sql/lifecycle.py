"""How one notification changes a stored event: the dedup, update and reopen rules.

An event is one alert identity ``(source, fingerprint)``; every notification for it is
folded into the stored state in arrival order:

* The first notification creates the event (``repeat_count`` 0, ``reopen_count`` 0).
* Every later one increments ``repeat_count`` and moves ``last_seen`` (received time).
* A notification about an *older occurrence* (``starts_at`` before the stored one), or a
  late ``firing`` for the occurrence already resolved (same ``starts_at``), is stale: it
  is counted but changes nothing else, so retries delivered out of order cannot undo a
  resolution or resolve a newer occurrence.
* A notification with a *later* ``starts_at`` than a resolved event starts a new
  occurrence: the event reopens (``reopen_count`` + 1, new ``starts_at``); if it is
  ``firing``, ``ends_at`` is cleared.
* Otherwise the status, ``ends_at``, name, severity, entity, summary, labels and
  annotations take the notification's values; ``starts_at`` stays that of the current
  occurrence (senders that stamp every re-post with a fresh start do not move it).

Start times are compared to the whole second: senders do not keep sub-second digits
consistently (Alertmanager can send ``20:00:22.134Z`` when firing and ``20:00:22Z`` when
resolved), while two occurrences of one alert are never within a second of each other.

A ``resolved`` notification without ``ends_at`` is taken to end when it was received.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from opscope.model import Event, Status


@dataclass(slots=True)
class EventState:
    """One row of the ``events`` table while a batch is folded into it."""

    seq: int
    source: str
    fingerprint: str
    name: str
    status: str
    severity: str
    entity: str
    summary: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    repeat_count: int
    reopen_count: int


def _ends_at(event: Event, received: datetime) -> datetime | None:
    if event.status is Status.RESOLVED and event.ends_at is None:
        return received
    return event.ends_at


def new_state(event: Event, received: datetime) -> EventState:
    return EventState(
        seq=0, source=event.source, fingerprint=event.fingerprint, name=event.name,
        status=event.status.value, severity=event.severity.value, entity=event.entity,
        summary=event.summary, labels=dict(event.labels), annotations=dict(event.annotations),
        starts_at=event.starts_at, ends_at=_ends_at(event, received), first_seen=received,
        last_seen=received, repeat_count=0, reopen_count=0,
    )


def _occurrence(starts_at: datetime) -> datetime:
    return starts_at.replace(microsecond=0)


def apply(state: EventState, event: Event, received: datetime) -> None:
    """Fold ``event`` (received at ``received``) into ``state`` in place."""
    state.repeat_count += 1
    state.first_seen = min(state.first_seen, received)
    state.last_seen = max(state.last_seen, received)
    resolved = state.status == Status.RESOLVED.value
    firing = event.status is Status.FIRING
    new, current = _occurrence(event.starts_at), _occurrence(state.starts_at)
    if new < current or (resolved and firing and new == current):
        return
    if resolved and new > current:
        state.reopen_count += 1
        state.starts_at = event.starts_at
    state.status = event.status.value
    state.ends_at = None if resolved and firing else _ends_at(event, received)
    state.name = event.name
    state.severity = event.severity.value
    state.entity = event.entity
    state.summary = event.summary
    state.labels = dict(event.labels)
    state.annotations = dict(event.annotations)
