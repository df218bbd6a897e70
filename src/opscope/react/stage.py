"""The reaction stage: what the bus carries, turned into triggers for the reaction engine.

It subscribes to three topics and hands every item to :meth:`ReactionEngine.handle`:

* ``incidents`` — lists of :class:`~opscope.model.incident.IncidentChange`; each becomes
  an ``incident.opened|updated|resolved`` trigger whose ``incident`` holds the snapshot
  plus what rules and messages want and the snapshot lacks: ``version`` (the change's
  ``seq``, so each change is one notification and a replayed change is recognised),
  ``service``, ``labels``, ``summary``, ``evidence``, ``root_cause`` (the top-ranked
  hypothesis, read from the incident store when one is given) and ``alert_names`` (the
  names of every signal the incident holds);
* ``anomalies`` — lists of :class:`~opscope.model.anomaly.Anomaly` -> ``anomaly`` triggers;
* ``events`` — lists of :class:`~opscope.model.events.Event` -> ``event`` triggers.

A timer thread calls :meth:`ReactionEngine.tick` (schedules, routing flushes, approval
expiry). The bus calls each handler from the subscription's own worker thread; the
engine is thread-safe. A trigger that fails is counted and logged, never fatal, and the
rest of its batch still runs. :meth:`close` stops the timer and is idempotent.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from opscope.errors import OpscopeError
from opscope.model.anomaly import Anomaly
from opscope.model.events import Event
from opscope.model.execution import Execution
from opscope.model.incident import IncidentChange, IncidentStatus
from opscope.react.engine import ReactionEngine
from opscope.react.rules import (
    RuleError,
    RuleSet,
    load_rules,
    merge_rulesets,
    rules_from_data,
)
from opscope.react.triggers import Trigger, event_trigger, trigger_from_fields

log = logging.getLogger(__name__)

TOPICS = ("incidents", "anomalies", "events")
MAX_EVIDENCE = 10
SECRET_BYTES = 32


class Subscriber(Protocol):
    """The part of the bus the stage needs (``opscope.pipeline.bus.Bus`` has it)."""

    def subscribe(self, topic: str, name: str, handler: Any) -> Any: ...


class IncidentReader(Protocol):
    """Where the latest root-cause ranking of an incident is read from."""

    def get_incident(self, incident_id: str) -> dict[str, Any] | None: ...


@dataclass
class StageCounters:
    triggers: int = 0
    executions: int = 0
    failures: int = 0
    ticks: int = 0


def top_hypothesis(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The rank-1 hypothesis of a stored incident, or None."""
    ranked = row.get("hypotheses") if row else None
    if not isinstance(ranked, list) or not ranked or not isinstance(ranked[0], Mapping):
        return None
    return dict(ranked[0])


def alert_names(row: Mapping[str, Any] | None, change: IncidentChange) -> list[str]:
    """Names of every signal the incident holds (stored members and this change's)."""
    names = [m.signal.name for m in change.members]
    for member in (row or {}).get("members") or ():
        signal = member.get("signal") if isinstance(member, Mapping) else None
        if isinstance(signal, Mapping) and isinstance(signal.get("name"), str):
            names.append(signal["name"])
    return sorted(set(names))


def incident_fields(change: IncidentChange, root: Mapping[str, Any] | None,
                    alerts: Sequence[str] = ()) -> dict[str, Any]:
    """The ``incident`` object rules and actions see for one change."""
    incident = change.incident
    body = incident.model_dump(mode="json")
    evidence = [t.summary for t in change.timeline if t.summary]
    evidence.extend(m.signal.summary or f"{m.signal.name} on {m.signal.entity}"
                    for m in change.members)
    cause: dict[str, Any] = {}
    if root:
        cause = {k: root.get(k) for k in ("entity", "signal", "score", "rank", "reason")}
        evidence.extend(str(e.get("summary", "")) for e in root.get("evidence", ())
                        if isinstance(e, Mapping) and e.get("summary"))
    service = (cause.get("entity") or next(iter(incident.root_candidates), "")
               or next(iter(incident.entities), ""))
    counts = f"{incident.signal_count} signal(s)" + (
        f", {incident.firing_count} firing" if incident.status is not IncidentStatus.RESOLVED
        else "")
    where = ", ".join(incident.entities[:5]) + (" ..." if len(incident.entities) > 5 else "")
    body.update(
        version=change.seq,
        change=change.kind.value,
        service=service,
        labels=dict(incident.group),
        summary=f"{counts} on {where}" if where else counts,
        evidence=list(dict.fromkeys(evidence))[:MAX_EVIDENCE],
        root_cause=cause,
        alert_names=list(alerts),
    )
    return body


def incident_trigger(change: IncidentChange, root: Mapping[str, Any] | None = None,
                     alerts: Sequence[str] = ()) -> Trigger:
    return trigger_from_fields(
        {"kind": f"incident.{change.kind.value}",
         "incident": incident_fields(change, root, alerts)},
        at=change.ts,
    )


def anomaly_trigger(anomaly: Anomaly) -> Trigger:
    return trigger_from_fields({"kind": "anomaly", "anomaly": anomaly.model_dump(mode="json")},
                               at=anomaly.ts)


class ReactionStage:
    """Feeds a :class:`ReactionEngine` from the bus and ticks it; see the module docstring."""

    name = "reactions"

    def __init__(self, engine: ReactionEngine, incidents: IncidentReader | None = None,
                 tick_seconds: float = 1.0, problems: Sequence[str] = ()) -> None:
        self.engine = engine
        self.load_problems = list(problems)
        """Rule files that did not load (the engine's own ``problems`` are the rest)."""
        self.incidents = incidents
        self.tick_seconds = tick_seconds
        self.counters = StageCounters()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def problems(self) -> list[str]:
        """Everything wrong with the rules: files that did not load, actions that cannot
        run with these settings (e.g. a runbook missing from the runbook directory)."""
        return [*self.load_problems, *self.engine.problems]

    # -- wiring ------------------------------------------------------------------------

    def subscribe(self, bus: Subscriber, topics: Sequence[str] = TOPICS) -> None:
        handlers = {"incidents": self.handle_incidents, "anomalies": self.handle_anomalies,
                    "events": self.handle_events}
        for topic in topics:
            bus.subscribe(topic, self.name, handlers[topic])

    def start(self) -> None:
        """Start the timer thread that ticks the engine. Safe to call twice."""
        if self._timer is not None or self._stop.is_set():
            return
        self._timer = threading.Thread(target=self._tick_loop, name="reaction-tick",
                                       daemon=True)
        self._timer.start()

    def close(self, timeout: float = 5.0) -> None:
        """Stop ticking and release the engine's HTTP client. Idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout)
        self.engine.close()

    # -- bus handlers (each called from its subscription's thread) --------------------

    def handle_incidents(self, batch: Sequence[Any]) -> list[Execution]:
        out: list[Execution] = []
        for change in batch:
            if isinstance(change, IncidentChange):
                out.extend(self._handle(partial(self._incident_trigger, change)))
        return out

    def handle_anomalies(self, batch: Sequence[Any]) -> list[Execution]:
        out: list[Execution] = []
        for anomaly in batch:
            if isinstance(anomaly, Anomaly):
                out.extend(self._handle(partial(anomaly_trigger, anomaly)))
        return out

    def handle_events(self, batch: Sequence[Any]) -> list[Execution]:
        out: list[Execution] = []
        for event in batch:
            if isinstance(event, Event):
                out.extend(self._handle(partial(event_trigger, event)))
        return out

    def tick(self) -> list[Execution]:
        """One tick of the engine (the timer calls this every ``tick_seconds``)."""
        try:
            done = self.engine.tick()
        except Exception:  # the next tick tries again; the log and the counter say why
            self._count(failures=1)
            log.exception("reaction tick failed")
            return []
        self._count(ticks=1, executions=len(done))
        return done

    # -- internals ---------------------------------------------------------------------

    def _incident_trigger(self, change: IncidentChange) -> Trigger:
        row = self._stored(change)
        return incident_trigger(change, top_hypothesis(row), alert_names(row, change))

    def _stored(self, change: IncidentChange) -> Mapping[str, Any] | None:
        # Resolved incidents are looked up too: their last message still names the cause.
        if self.incidents is None:
            return None
        try:
            return self.incidents.get_incident(change.incident.id)
        except OpscopeError:
            log.warning("no root cause for %s: the store could not be read",
                        change.incident.id, exc_info=True)
            return None

    def _handle(self, make: Callable[[], Trigger]) -> list[Execution]:
        try:
            done = self.engine.handle(make())
        except Exception:  # one bad trigger never stops the rest of the batch
            self._count(failures=1)
            log.exception("reaction to a trigger failed")
            return []
        self._count(triggers=1, executions=len(done))
        return done

    def _count(self, **add: int) -> None:
        with self._lock:
            for name, value in add.items():
                setattr(self.counters, name, getattr(self.counters, name) + value)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            self.tick()


def approval_secret(configured: str, data_dir: Path) -> bytes:
    """The key approval links are signed with: the configured one, else one generated
    once and kept in ``data_dir/approval-secret`` (readable by the owner only), so that
    links sent before a restart still work after it."""
    if configured:
        return configured.encode()
    path = data_dir / "approval-secret"
    if path.exists():
        return path.read_text(encoding="utf-8").strip().encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(SECRET_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    return secret.encode()


API_RULES_SUFFIX = ".rules.json"


def load_rule_files(paths: Sequence[Path], variables: Mapping[str, str],
                    api_dir: Path | None = None) -> tuple[RuleSet, list[str]]:
    """The rules of every file that loads, and one problem line per file that does not.

    ``api_dir`` holds the rule sets created through the API (``<name>.rules.json``, the
    same document shape as a YAML rules file); they are merged after the files. A server
    keeps running on the sets that load, so that one broken file does not stop every
    other reaction; the problems are logged and listed by the API.
    """
    sets: list[RuleSet] = []
    problems: list[str] = []
    api_files = sorted(api_dir.glob("*" + API_RULES_SUFFIX)) if api_dir is not None else []
    for path in [*paths, *api_files]:
        try:
            if path.name.endswith(API_RULES_SUFFIX):
                sets.append(rules_from_data(json.loads(path.read_text(encoding="utf-8")),
                                            variables))
            else:
                sets.append(load_rules(path, variables))
        except (RuleError, OSError, ValueError) as exc:
            problems.append(f"{path}: {exc}")
            log.error("reaction rules not loaded from %s: %s", path, exc)
    try:
        return merge_rulesets(sets), problems
    except RuleError as exc:
        log.error("reaction rules not loaded: %s", exc)
        return RuleSet(), [*problems, str(exc)]
