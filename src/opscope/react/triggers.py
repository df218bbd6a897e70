"""Triggers: what the reaction engine reacts to, as a JSON-like dict of fields.

A trigger is generic on purpose: the engine never imports the incident type; it gets
``{"kind": "incident.opened", "incident": {...}}``, ``{"kind": "anomaly", "anomaly": {...}}``,
``{"kind": "event", "event": {...}}`` or ``{"kind": "schedule", "schedule": {...}}`` and
conditions look into those fields by path. Three things are derived from the fields:

* the **subject** (incident id, event ``source:fingerprint``, anomaly id, schedule rule),
  the entity policies and the notification log key on;
* the **version** (incident ``version`` or ``updated_at``, event status and start, anomaly
  time), so that the same incident at the same version is delivered once, and a new
  version is a new notification;
* the **entity** (service, host) for per-entity rate limits and cooldowns.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from opscope.model.base import UtcDatetime
from opscope.model.events import Event
from opscope.react.cron import CronExpr


class TriggerKind(StrEnum):
    INCIDENT_OPENED = "incident.opened"
    INCIDENT_UPDATED = "incident.updated"
    INCIDENT_RESOLVED = "incident.resolved"
    ANOMALY = "anomaly"
    EVENT = "event"
    SCHEDULE = "schedule"
    NOTIFICATION = "notification"
    """A group notification from the routing tree (not a trigger rules listen to)."""

    @property
    def section(self) -> str:
        """The key of the fields' main object: ``incident``, ``anomaly``, ``event``, ..."""
        return self.value.split(".")[0]


class Trigger(BaseModel):
    """One occurrence the rules are evaluated against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: TriggerKind
    at: UtcDatetime = Field(description="When it happened, in event time.")
    fields: dict[str, Any] = Field(description="What conditions and templates see.")

    @property
    def body(self) -> Mapping[str, Any]:
        found = self.fields.get(self.kind.section)
        return found if isinstance(found, Mapping) else {}

    @property
    def subject(self) -> str:
        body = self.body
        if self.kind is TriggerKind.EVENT:
            return f"{body.get('source', '')}:{body.get('fingerprint', '')}"
        if self.kind is TriggerKind.SCHEDULE:
            return f"schedule:{body.get('rule', '')}"
        if self.kind is TriggerKind.NOTIFICATION:
            return f"group:{body.get('receiver', '')}:{body.get('group_key', '')}"
        ident = body.get("id")
        if ident:
            return str(ident)
        return "h:" + _digest(body)

    @property
    def version(self) -> str:
        body = self.body
        if self.kind is TriggerKind.EVENT:
            return f"{body.get('status', '')}@{body.get('starts_at', '')}"
        if self.kind is TriggerKind.SCHEDULE:
            return str(body.get("at", self.at.isoformat()))
        if self.kind is TriggerKind.NOTIFICATION:
            return str(body.get("version", ""))
        for key in ("version", "updated_at", "ts"):
            if body.get(key) not in (None, ""):
                return str(body[key])
        return _digest(body)

    @property
    def entity(self) -> str:
        body = self.body
        for key in ("service", "entity", "root_cause"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
        return self.subject


def _digest(data: Any) -> str:
    raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def _time_of(kind: TriggerKind, body: Mapping[str, Any]) -> Any:
    keys = {
        TriggerKind.INCIDENT_OPENED: ("opened_at", "started_at", "updated_at"),
        TriggerKind.INCIDENT_UPDATED: ("updated_at", "opened_at"),
        TriggerKind.INCIDENT_RESOLVED: ("resolved_at", "updated_at"),
        TriggerKind.ANOMALY: ("ts",),
        TriggerKind.EVENT: ("ends_at", "starts_at")
        if body.get("status") == "resolved"
        else ("starts_at",),
        TriggerKind.SCHEDULE: ("at",),
        TriggerKind.NOTIFICATION: ("at",),
    }[kind]
    return next((body[k] for k in keys if body.get(k)), None)


def trigger_from_fields(
    fields: Mapping[str, Any], at: datetime | None = None, default_at: datetime | None = None
) -> Trigger:
    """Build a trigger from its JSON-like fields.

    Its time is ``at``, else the fields' ``"at"``, else the body's own time (an
    incident's ``updated_at``, an event's ``starts_at``, ...), else ``default_at``.
    Raises ``ValueError`` (pydantic's ``ValidationError`` is one) when the kind is
    unknown or no time can be found.
    """
    kind = TriggerKind(str(fields.get("kind", "")))
    body = fields.get(kind.section)
    when: Any = (
        at
        or fields.get("at")
        or (_time_of(kind, body) if isinstance(body, Mapping) else None)
        or default_at
    )
    data = dict(fields)
    data.pop("at", None)
    return Trigger(kind=kind, at=when, fields=data)


def event_trigger(event: Event) -> Trigger:
    """A trigger for an alert/event as it arrives."""
    data = event.model_dump(mode="json")
    return trigger_from_fields({"kind": "event", "event": data})


def schedule_trigger(rule: str, at: datetime, every: timedelta | None = None,
                     cron: str | None = None) -> Trigger:
    schedule: dict[str, Any] = {"rule": rule, "at": at.isoformat()}
    if every is not None:
        schedule["every"] = every.total_seconds()
    if cron is not None:
        schedule["cron"] = cron
    return Trigger(kind=TriggerKind.SCHEDULE, at=at, fields={"kind": "schedule",
                                                            "schedule": schedule})


class Scheduler:
    """Due times of schedule rules: intervals aligned to multiples of the interval since
    the epoch, cron expressions at their wall-clock times.

    Fixed instants (instead of counting from start-up) mean a restarted engine fires at
    the same instants, so the notification log recognises a run it already made.
    """

    def __init__(self) -> None:
        self._last: dict[str, datetime] = {}
        self._cron_last: dict[str, datetime] = {}

    def due(self, rule: str, every: timedelta, now: datetime) -> list[datetime]:
        step = every.total_seconds()
        slot = int(now.timestamp() // step)
        current = datetime.fromtimestamp(slot * step, tz=now.tzinfo)
        last = self._last.get(rule)
        self._last[rule] = current
        if last is None or current <= last:
            # At start-up the current slot fires once; the notification log drops a repeat.
            return [current] if last is None else []
        slots = min(round((current - last).total_seconds() / step), 10)
        # A long pause fires the missed slots once each, at most ten, not a burst.
        return [current - timedelta(seconds=step * k) for k in reversed(range(slots))]

    def due_cron(self, rule: str, expr: CronExpr, catch_up: timedelta,
                 now: datetime) -> list[datetime]:
        """Run times of ``expr`` since the last call (since ``now - catch_up`` on the
        first), oldest first, at most ten: a long pause does not fire a burst."""
        last = self._cron_last.get(rule)
        start = now - catch_up if last is None else last
        self._cron_last[rule] = now if last is None else max(now, last)
        if now <= start:
            return []
        return expr.between(start, now, limit=10)
