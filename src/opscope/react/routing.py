"""Routing of notifications by labels, grouped and timed as Alertmanager does it.

A tree of routes: each has matchers on labels (``team="payments"``,
``severity=~"critical|error"``), a receiver, ``group_by`` labels and three timers, all
inherited from the parent when unset. An alert goes down the tree depth first: to the
first matching child (and further siblings when that child has ``continue: true``); a
route none of whose children match takes the alert itself. Within a route, alerts with
the same values of the ``group_by`` labels form a group (``group_by: ["..."]`` groups by
all labels), notified together:

* ``group_wait`` — the first notification of a new group waits this long to collect
  the alerts that arrive together;
* ``group_interval`` — then the group is looked at every interval; a notification is
  sent when a firing alert is new, when alerts resolved (with ``send_resolved``), or
* ``repeat_interval`` — when nothing changed but the last notification is this old.

Time is event time from the injected clock (``flush(now)``), so a replay gives the same
notifications as live traffic. What each group was last sent (the firing and resolved
fingerprints and when) is kept in the notification log under ``route:<group key>``: a
restarted router that is fed the same alerts again sends nothing new until something
changes or the repeat interval has passed.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from opscope.model.execution import DeliveryState, NotificationEntry
from opscope.react.duration import Duration
from opscope.react.matchers import Matcher, match_all, parse_matchers
from opscope.react.ports import NotificationLog

ALL_LABELS = "..."


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    receiver: str | None = Field(default=None, description="Receiver name; inherited when unset.")
    matchers: list[str] = Field(default_factory=list, description='e.g. team="payments".')
    group_by: list[str] | None = Field(
        default=None, description="Labels that form a group; '...' all."
    )
    group_wait: Duration | None = Field(
        default=None, description="Wait before a new group's first send."
    )
    group_interval: Duration | None = Field(
        default=None, description="Wait between a group's sends."
    )
    repeat_interval: Duration | None = Field(
        default=None, description="Resend an unchanged group after."
    )
    send_resolved: bool | None = Field(default=None, description="Notify when alerts resolve.")
    continue_: bool = Field(default=False, alias="continue", description="Keep matching siblings.")
    routes: list[Route] = Field(default_factory=list, description="Child routes.")


@dataclass(frozen=True)
class ResolvedRoute:
    id: str
    receiver: str
    matchers: tuple[Matcher, ...]
    group_by: tuple[str, ...]
    group_wait: timedelta
    group_interval: timedelta
    repeat_interval: timedelta
    send_resolved: bool
    continue_: bool
    children: tuple[ResolvedRoute, ...]


ROOT_DEFAULTS = {
    "group_wait": timedelta(seconds=30),
    "group_interval": timedelta(minutes=5),
    "repeat_interval": timedelta(hours=4),
}


def resolve_route(
    route: Route, parent: ResolvedRoute | None = None, route_id: str = "0"
) -> ResolvedRoute:
    """Fill inherited settings; raise ValueError on a bad matcher or a root without receiver."""

    def pick(name: str) -> Any:
        own = getattr(route, name)
        if own is not None:
            return own
        return getattr(parent, name) if parent is not None else ROOT_DEFAULTS.get(name)

    receiver = route.receiver or (parent.receiver if parent else "")
    if not receiver:
        raise ValueError("the root route needs a receiver")
    node = ResolvedRoute(
        id=route_id,
        receiver=receiver,
        matchers=tuple(parse_matchers(route.matchers)),
        group_by=tuple(
            route.group_by if route.group_by is not None else (parent.group_by if parent else ())
        ),
        group_wait=pick("group_wait"),
        group_interval=pick("group_interval"),
        repeat_interval=pick("repeat_interval"),
        send_resolved=route.send_resolved
        if route.send_resolved is not None
        else (parent.send_resolved if parent else True),
        continue_=route.continue_,
        children=(),
    )
    children = tuple(
        resolve_route(child, node, f"{route_id}.{i}") for i, child in enumerate(route.routes)
    )
    return ResolvedRoute(**{**node.__dict__, "children": children})


def match_routes(node: ResolvedRoute, labels: dict[str, str]) -> list[ResolvedRoute]:
    """The routes an alert with these labels goes to (the node's matchers already held)."""
    found: list[ResolvedRoute] = []
    for child in node.children:
        if match_all(list(child.matchers), labels):
            found.extend(match_routes(child, labels))
            if not child.continue_:
                break
    return found or [node]


@dataclass
class RoutedAlert:
    fingerprint: str
    labels: dict[str, str]
    resolved: bool
    at: datetime
    fields: dict[str, Any] = field(default_factory=dict)
    """The trigger fields of the alert's latest state, for the receiver's templates."""


@dataclass
class Dispatch:
    """One group notification for one receiver."""

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    firing: list[RoutedAlert]
    resolved: list[RoutedAlert]
    at: datetime

    @property
    def version(self) -> str:
        digest = hashlib.blake2b(digest_size=8)
        for fp in sorted(a.fingerprint for a in self.firing):
            digest.update(b"f" + fp.encode())
        for fp in sorted(a.fingerprint for a in self.resolved):
            digest.update(b"r" + fp.encode())
        digest.update(self.at.isoformat().encode())
        return digest.hexdigest()

    def fields(self) -> dict[str, Any]:
        """Template fields: the latest alert's trigger fields plus ``notification``."""
        latest = max([*self.firing, *self.resolved], key=lambda a: a.at)
        return {
            **latest.fields,
            "kind": "notification",
            "notification": {
                "receiver": self.receiver,
                "group_key": self.group_key,
                "group_labels": self.group_labels,
                "status": "firing" if self.firing else "resolved",
                "firing": [a.fields for a in self.firing],
                "resolved": [a.fields for a in self.resolved],
                "version": self.version,
                "at": self.at.isoformat(),
            },
        }


@dataclass
class _Group:
    key: str
    route: ResolvedRoute
    labels: dict[str, str]
    alerts: dict[str, RoutedAlert]
    next_flush: datetime


class Router:
    """Groups routed alerts and says, at each ``flush(now)``, which groups to notify."""

    def __init__(self, root: ResolvedRoute, log: NotificationLog) -> None:
        self.root = root
        self.log = log
        self._groups: dict[str, _Group] = {}
        self._lock = threading.Lock()

    def add(self, alert: RoutedAlert, now: datetime) -> list[str]:
        """Put the alert in its groups; return their keys."""
        keys: list[str] = []
        with self._lock:
            for route in match_routes(self.root, alert.labels):
                if ALL_LABELS in route.group_by:
                    labels = dict(sorted(alert.labels.items()))
                else:
                    labels = {k: alert.labels.get(k, "") for k in route.group_by}
                key = f"{route.id}:{route.receiver}:" + ",".join(
                    f"{k}={v}" for k, v in labels.items()
                )
                group = self._groups.get(key)
                if group is None:
                    group = _Group(key, route, labels, {}, now + route.group_wait)
                    self._groups[key] = group
                group.alerts[alert.fingerprint] = alert
                keys.append(key)
        return keys

    def pending(self) -> int:
        return len(self._groups)

    def flush(self, now: datetime) -> list[Dispatch]:
        """Groups whose time has come and that have something to say."""
        out: list[Dispatch] = []
        with self._lock:
            for key in list(self._groups):
                group = self._groups[key]
                if group.next_flush > now:
                    continue
                group.next_flush = now + group.route.group_interval
                dispatch = self._evaluate(group, now)
                if dispatch is not None:
                    out.append(dispatch)
                for fp in [fp for fp, a in group.alerts.items() if a.resolved]:
                    del group.alerts[fp]
                if not group.alerts:
                    del self._groups[key]
        return out

    def _evaluate(self, group: _Group, now: datetime) -> Dispatch | None:
        route = group.route
        log_key = f"route:{group.key}"
        entry = self.log.get(log_key)
        told_firing = set(entry.detail.get("firing", [])) if entry else set()
        firing = [a for a in group.alerts.values() if not a.resolved]
        # Only alerts that were notified as firing get a resolved notice (as Alertmanager).
        resolved = [a for a in group.alerts.values() if a.resolved and a.fingerprint in told_firing]
        firing_fps = {a.fingerprint for a in firing}
        if firing_fps - told_firing:
            needed = True
        elif resolved:
            needed = route.send_resolved
        else:
            needed = (
                bool(firing)
                and entry is not None
                and entry.sent_at is not None
                and (now - entry.sent_at >= route.repeat_interval)
            )
        if not needed:
            if resolved:  # forget them quietly, so that firing again counts as new
                self._remember(log_key, entry, firing_fps, [], route, sent=False, now=now)
            return None
        self._remember(log_key, entry, firing_fps, resolved, route, sent=True, now=now)
        return Dispatch(
            route.receiver,
            group.key,
            dict(group.labels),
            firing,
            resolved if route.send_resolved else [],
            now,
        )

    def _remember(
        self,
        key: str,
        entry: NotificationEntry | None,
        firing: set[str],
        resolved: list[RoutedAlert],
        route: ResolvedRoute,
        *,
        sent: bool,
        now: datetime,
    ) -> None:
        sent_at = now if sent else (entry.sent_at if entry else None)
        self.log.put(
            NotificationEntry(
                key=key,
                state=DeliveryState.SENT,
                claimed_at=now,
                sent_at=sent_at,
                detail={
                    "firing": sorted(firing),
                    "resolved": sorted(a.fingerprint for a in resolved),
                    "receiver": route.receiver,
                },
            )
        )
