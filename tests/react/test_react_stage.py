"""The reaction stage: bus topics in, triggers to the engine, executions out; its timer."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opscope.model.anomaly import Anomaly
from opscope.model.events import Event, Severity
from opscope.model.execution import ExecutionStatus
from opscope.model.incident import (
    ChangeKind,
    Incident,
    IncidentChange,
    IncidentMember,
    IncidentStatus,
    Signal,
    TimelineEntry,
    TimelineKind,
)
from opscope.pipeline import InProcessBus
from opscope.react import AuditQuery, ReactionEngine, ReactPorts, ReactSettings, rules_from_data
from opscope.react.memory import ManualClock, MemoryAnnotator
from opscope.react.stage import (
    ReactionStage,
    approval_secret,
    incident_fields,
    load_rule_files,
)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

RULES: dict[str, Any] = {
    "version": 1,
    "rules": [
        {"name": "note-incidents",
         "trigger": {"on": ["incident.opened", "incident.updated", "incident.resolved"]},
         "when": 'matches(incident.root_cause.reason, "(?i)memory")',
         "actions": [{"kind": "annotate", "with": {"text": "{{ incident.service }}"}}]},
        {"name": "anomalies",
         "trigger": {"on": ["anomaly"]}, "when": "anomaly.score > 5",
         "actions": [{"kind": "annotate", "name": "n", "with": {"text": "x"}}]},
        {"name": "events",
         "trigger": {"on": ["event"], "match": ['severity="critical"']},
         "actions": [{"kind": "annotate", "name": "n", "with": {"text": "x"}}]},
    ],
}


def change(kind: ChangeKind = ChangeKind.OPENED, seq: int = 1,
           status: IncidentStatus = IncidentStatus.OPEN) -> IncidentChange:
    incident = Incident(id="inc-1", status=status, title="cart is slow",
                        severity=Severity.ERROR, opened_at=T0, updated_at=T0,
                        entities=["cart", "db"], root_candidates=["db"], signal_count=2,
                        firing_count=2, group={"team": "shop"})
    signal = Signal(id="am/f1#1", name="HighLatency", entity="cart", summary="cart p95 2s",
                    starts_at=T0, last_seen=T0)
    return IncidentChange(
        seq=seq, kind=kind, ts=T0 + timedelta(seconds=seq), incident=incident,
        members=[IncidentMember(incident_id="inc-1", signal=signal, joined_at=T0)],
        timeline=[TimelineEntry(incident_id="inc-1", ts=T0, kind=TimelineKind.OPENED,
                                summary="opened with 2 signals")])


class Hypotheses:
    """An incident reader holding one ranking, as the store returns it."""

    def __init__(self, reason: str = "its memory_usage_bytes moved 9.1 robust sigmas") -> None:
        self.reason = reason
        self.reads = 0

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        self.reads += 1
        return {"id": incident_id, "hypotheses": [
            {"entity": "db", "signal": "memory_usage_bytes", "score": 3.2, "rank": 1,
             "reason": self.reason, "evidence": [{"kind": "metric_shift",
                                                  "summary": "db memory up 40%"}]}]}


def make_stage(reader: Hypotheses | None = None,
               rules: dict[str, Any] | None = None) -> tuple[ReactionStage, ReactPorts]:
    ports = ReactPorts.in_memory(MemoryAnnotator())
    engine = ReactionEngine(rules_from_data(rules or RULES), ports, ReactSettings(),
                            clock=ManualClock(T0), approval_secret=b"s" * 32)
    return ReactionStage(engine, reader, tick_seconds=0.05), ports


def test_incident_changes_on_the_bus_reach_the_engine_with_their_root_cause() -> None:
    reader = Hypotheses()
    stage, ports = make_stage(reader)
    bus = InProcessBus()
    stage.subscribe(bus)
    bus.publish("incidents", [change()])
    bus.publish("incidents", [change(ChangeKind.UPDATED, seq=2)])
    assert bus.drain()
    done = ports.audit.query(AuditQuery(rule="note-incidents"))
    assert [e.trigger_kind for e in done] == ["incident.updated", "incident.opened"]
    assert all(e.status is ExecutionStatus.SUCCEEDED for e in done)
    opened = done[-1]
    assert opened.subject == "inc-1"
    assert opened.trigger["incident"]["root_cause"]["entity"] == "db"
    assert opened.inputs["text"] == "db"  # service is the top-ranked entity
    assert reader.reads == 2
    assert stage.counters.triggers == 2 and stage.counters.failures == 0
    bus.close()


def test_a_replayed_change_is_not_delivered_twice() -> None:
    stage, ports = make_stage(Hypotheses())
    stage.handle_incidents([change()])
    again = stage.handle_incidents([change()])
    assert [e.status for e in again] == [ExecutionStatus.SUPPRESSED]
    annotator = ports.annotator
    assert isinstance(annotator, MemoryAnnotator)
    assert len(annotator.notes["inc-1"]) == 1


def test_without_a_memory_root_cause_the_rule_does_not_match() -> None:
    stage, _ = make_stage(Hypotheses(reason="its latency moved 4 sigmas"))
    assert stage.handle_incidents([change()]) == []
    stage2, _ = make_stage(None)  # no reader: no root cause at all
    assert stage2.handle_incidents([change()]) == []


def test_incident_fields_carry_version_summary_and_evidence() -> None:
    fields = incident_fields(change(seq=7), None)
    assert fields["version"] == 7
    assert fields["service"] == "db"  # the root candidate, when nothing is ranked
    assert fields["labels"] == {"team": "shop"}
    assert fields["summary"] == "2 signal(s), 2 firing on cart, db"
    assert fields["evidence"] == ["opened with 2 signals", "cart p95 2s"]
    assert fields["root_cause"] == {}


def test_anomalies_and_events_topics() -> None:
    stage, ports = make_stage()
    bus = InProcessBus()
    stage.subscribe(bus)
    bus.publish("anomalies", [
        Anomaly(id="a1", kind="metric", entity="db", ts=T0, score=9.0),
        Anomaly(id="a2", kind="metric", entity="db", ts=T0, score=1.0),
    ])
    bus.publish("events", [
        Event(source="am", fingerprint="f1", name="Down", severity=Severity.CRITICAL,
              starts_at=T0),
        Event(source="am", fingerprint="f2", name="Slow", severity=Severity.WARNING,
              starts_at=T0),
    ])
    assert bus.drain()
    assert [e.subject for e in ports.audit.query(AuditQuery(rule="anomalies"))] == ["a1"]
    assert [e.subject for e in ports.audit.query(AuditQuery(rule="events"))] == ["am:f1"]
    assert stage.counters.triggers == 4
    bus.close()


def test_a_failing_trigger_is_counted_and_the_batch_goes_on() -> None:
    class Broken(Hypotheses):
        def get_incident(self, incident_id: str) -> dict[str, Any] | None:
            raise RuntimeError("boom")

    stage, _ = make_stage(Broken())
    done = stage.handle_events([
        Event(source="am", fingerprint="f1", name="Down", severity=Severity.CRITICAL,
              starts_at=T0)])
    assert len(done) == 1
    assert stage.handle_incidents([change()]) == []
    assert stage.counters.failures == 1 and stage.counters.triggers == 1


def test_the_timer_ticks_the_engine_and_close_stops_it() -> None:
    rules = {"version": 1, "rules": [
        {"name": "every-second", "trigger": {"on": ["schedule"], "every": "1s"},
         "actions": [{"kind": "annotate", "with": {"text": "x"}}]}]}
    ports = ReactPorts.in_memory(MemoryAnnotator())
    engine = ReactionEngine(rules_from_data(rules), ports, approval_secret=b"s" * 32)
    stage = ReactionStage(engine, tick_seconds=0.02)
    stage.start()
    deadline = time.monotonic() + 5
    while stage.counters.ticks < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stage.close()
    stage.close()  # idempotent
    assert stage.counters.ticks >= 3
    # A schedule trigger fires once per slot; annotate fails on non-incident triggers,
    # which is recorded, so the schedule reached the engine.
    assert ports.audit.query(AuditQuery(rule="every-second"))
    ticks = stage.counters.ticks
    time.sleep(0.1)
    assert stage.counters.ticks == ticks


def test_approval_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = approval_secret("", tmp_path)
    assert len(first) == 64
    assert approval_secret("", tmp_path) == first
    assert os.stat(tmp_path / "approval-secret").st_mode & 0o777 == 0o600
    assert approval_secret("configured-secret-value", tmp_path) == b"configured-secret-value"


def test_a_broken_rule_file_is_a_problem_and_the_others_load(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nrules:\n  - name: a\n    trigger: {on: [event]}\n"
                    "    actions: [{kind: annotate, with: {text: x}}]\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules:\n  - name: b\n    trigger: {on: [nope]}\n")
    rules, problems = load_rule_files([good, bad], {})
    assert [r.name for r in rules.rules] == ["a"]
    assert len(problems) == 1 and "bad.yaml" in problems[0]


def test_resolved_incidents_keep_their_root_cause() -> None:
    reader = Hypotheses()
    stage, _ = make_stage(reader)
    resolved = change(ChangeKind.RESOLVED, status=IncidentStatus.RESOLVED)
    [done] = stage.handle_incidents([resolved])
    assert done.trigger_kind == "incident.resolved"
    assert done.trigger["incident"]["root_cause"]["signal"] == "memory_usage_bytes"
