"""Silences, maintenance windows and inhibition behind one small interface.

Like Alertmanager's ``Muter``: each suppression answers "does this mute that signal now,
and why". Muted signals are kept and marked with every reason; nothing is dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from opscope.analyze.correlate.matcher import check_matchers, label_value, matches_all
from opscope.analyze.correlate.schedule import CronWindows
from opscope.model.incident import InhibitRule, MaintenanceWindow, Mute, Signal, Silence


class Suppression(Protocol):
    """One way of muting signals."""

    def mutes(self, signal: Signal, at: datetime) -> list[Mute]:
        """Reasons this suppression mutes ``signal`` at event time ``at`` (empty: none)."""
        ...


class Silences:
    """Operator silences: label matchers and a time range."""

    def __init__(self, silences: Iterable[Silence] = ()) -> None:
        self._items: dict[str, Silence] = {}
        for silence in silences:
            self.put(silence)

    def put(self, silence: Silence) -> None:
        check_matchers(silence.matchers)
        self._items[silence.id] = silence

    def remove(self, silence_id: str) -> bool:
        return self._items.pop(silence_id, None) is not None

    def expire(self, silence_id: str, at: datetime) -> Silence | None:
        """End a silence at ``at`` (kept for the record, as Alertmanager does)."""
        old = self._items.get(silence_id)
        if old is None:
            return None
        end = max(at, old.starts_at + timedelta(microseconds=1))
        new = old.model_copy(update={"ends_at": min(old.ends_at, end)})
        self._items[silence_id] = new
        return new

    def all(self) -> list[Silence]:
        return sorted(self._items.values(), key=lambda s: (s.starts_at, s.id))

    def mutes(self, signal: Signal, at: datetime) -> list[Mute]:
        out = []
        for s in self._items.values():
            if s.starts_at <= at < s.ends_at and matches_all(s.matchers, signal):
                who = f" by {s.created_by}" if s.created_by else ""
                text = f"silenced{who} until {s.ends_at.isoformat()}"
                if s.comment:
                    text += f": {s.comment}"
                out.append(Mute(kind="silence", id=s.id, reason=text[:1024]))
        return out


class MaintenanceWindows:
    """Recurring windows (cron schedule, duration, time zone)."""

    def __init__(self, windows: Iterable[MaintenanceWindow] = ()) -> None:
        self._items: dict[str, tuple[MaintenanceWindow, CronWindows]] = {}
        for window in windows:
            self.put(window)

    def put(self, window: MaintenanceWindow) -> None:
        check_matchers(window.matchers)
        cron = CronWindows(window.schedule, timedelta(minutes=window.duration_minutes),
                           window.timezone)
        self._items[window.id] = (window, cron)

    def remove(self, window_id: str) -> bool:
        return self._items.pop(window_id, None) is not None

    def all(self) -> list[MaintenanceWindow]:
        return [w for w, _ in sorted(self._items.values(), key=lambda item: item[0].id)]

    def mutes(self, signal: Signal, at: datetime) -> list[Mute]:
        out = []
        for window, cron in self._items.values():
            if window.active_from is not None and at < window.active_from:
                continue
            if window.active_until is not None and at >= window.active_until:
                continue
            if not matches_all(window.matchers, signal):
                continue
            span = cron.window_at(at)
            if span is not None:
                text = f"maintenance window {window.id} ({window.schedule} {window.timezone}) " \
                       f"until {span[1].isoformat()}"
                if window.comment:
                    text += f": {window.comment}"
                out.append(Mute(kind="maintenance", id=window.id, reason=text[:1024]))
        return out


class Inhibitor:
    """A firing source signal mutes matching target signals with equal labels.

    It keeps, per rule, the firing source signals indexed by their ``equal`` values, so a
    check costs one dictionary lookup per rule whatever the number of firing alerts.
    """

    def __init__(self, rules: Iterable[InhibitRule] = ()) -> None:
        self._rules: dict[str, InhibitRule] = {}
        self._sources: dict[str, dict[tuple[str, ...], set[str]]] = {}
        self._keys_of: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        for rule in rules:
            self.put(rule)

    def put(self, rule: InhibitRule) -> None:
        check_matchers([*rule.source_matchers, *rule.target_matchers])
        self._rules[rule.id] = rule
        self._sources[rule.id] = defaultdict(set)

    def remove(self, rule_id: str) -> bool:
        self._sources.pop(rule_id, None)
        return self._rules.pop(rule_id, None) is not None

    def all(self) -> list[InhibitRule]:
        return sorted(self._rules.values(), key=lambda r: r.id)

    @staticmethod
    def _key(rule: InhibitRule, signal: Signal) -> tuple[str, ...]:
        return tuple(label_value(signal, name) for name in rule.equal)

    def observe(self, signal: Signal) -> None:
        """Track ``signal`` as a possible source: firing ones inhibit, resolved ones stop."""
        for rule_id, key in self._keys_of.pop(signal.id, []):
            holders = self._sources.get(rule_id, {}).get(key)
            if holders is not None:
                holders.discard(signal.id)
                if not holders:
                    del self._sources[rule_id][key]
        if not signal.firing:
            return
        for rule in self._rules.values():
            if matches_all(rule.source_matchers, signal):
                key = self._key(rule, signal)
                self._sources[rule.id][key].add(signal.id)
                self._keys_of[signal.id].append((rule.id, key))

    def mutes(self, signal: Signal, at: datetime) -> list[Mute]:
        out = []
        for rule in self._rules.values():
            holders = self._sources[rule.id].get(self._key(rule, signal))
            if not holders or holders == {signal.id}:
                continue
            if matches_all(rule.target_matchers, signal):
                by = sorted(holders - {signal.id})[0]
                text = f"inhibited by firing {by} (rule {rule.id})"
                out.append(Mute(kind="inhibition", id=rule.id, reason=text[:1024]))
        return out


class Suppressor:
    """All suppressions in one place: silences, maintenance windows, inhibition, and any
    extra ``Suppression`` a plugin adds."""

    def __init__(self, silences: Silences | None = None,
                 windows: MaintenanceWindows | None = None,
                 inhibitor: Inhibitor | None = None,
                 extra: Sequence[Suppression] = ()) -> None:
        self.silences = silences or Silences()
        self.windows = windows or MaintenanceWindows()
        self.inhibitor = inhibitor or Inhibitor()
        self.extra = list(extra)

    def mutes(self, signal: Signal, at: datetime) -> list[Mute]:
        out: list[Mute] = []
        parts: list[Suppression] = [self.silences, self.windows, self.inhibitor, *self.extra]
        for part in parts:
            out.extend(part.mutes(signal, at))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "silences": [s.model_dump(mode="json") for s in self.silences.all()],
            "maintenance_windows": [w.model_dump(mode="json") for w in self.windows.all()],
            "inhibit_rules": [r.model_dump(mode="json") for r in self.inhibitor.all()],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Suppressor:
        return cls(
            Silences(Silence.model_validate(s) for s in doc.get("silences", [])),
            MaintenanceWindows(MaintenanceWindow.model_validate(w)
                               for w in doc.get("maintenance_windows", [])),
            Inhibitor(InhibitRule.model_validate(r) for r in doc.get("inhibit_rules", [])),
        )
