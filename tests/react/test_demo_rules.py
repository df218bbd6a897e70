"""The bundled demo rules, end to end: Slack-shaped messages and an approved runbook."""

from __future__ import annotations

from pathlib import Path

from react_kit import T0, Receiver, incident_trigger
from test_slack import slack_api

from opscope.model.execution import ApprovalState, ExecutionStatus
from opscope.react.engine import ReactionEngine, ReactPorts
from opscope.react.memory import ManualClock, MemoryAnnotator
from opscope.react.rules import load_rules
from opscope.react.settings import ReactSettings

ROOT = Path(__file__).parents[2]


def test_demo_rules_end_to_end(receiver: Receiver) -> None:
    slack_api(receiver)
    receiver_token = {
        "OPSCOPE_DEMO_SLACK_URL": f"{receiver.url}/api",
        "OPSCOPE_DEMO_SLACK_TOKEN": "xoxb-test",
    }
    rules = load_rules(ROOT / "examples" / "rules" / "demo.yaml", receiver_token)
    ports = ReactPorts.in_memory(MemoryAnnotator())
    engine = ReactionEngine(
        rules,
        ports,
        ReactSettings(runbook_dir=ROOT / "examples" / "runbooks"),
        clock=ManualClock(T0),
        sleep=lambda _s: None,
        approval_secret=b"x" * 32,
    )
    assert engine.problems == []

    opened = engine.handle(incident_trigger())
    by_action = {e.action: e for e in opened}
    assert by_action["oncall-channel"].status is ExecutionStatus.SUCCEEDED
    assert by_action["note-slack"].status is ExecutionStatus.SUCCEEDED
    held = by_action["restart-service"]
    assert held.status is ExecutionStatus.PENDING_APPROVAL
    assert held.inputs["args"] == ["--service", "cart-service", "--incident", "inc-0042"]

    engine.handle(incident_trigger("incident.updated", version=2, summary="now 3.1 s"))
    engine.handle(incident_trigger("incident.resolved", version=3, status="resolved"))
    methods = [r.path.rsplit("/", 1)[-1] for r in receiver.requests]
    assert methods == ["chat.postMessage", "chat.update", "chat.update"]
    assert "now 3.1 s" in str(receiver.bodies()[1]["blocks"])

    [request] = ports.approvals.list(ApprovalState.PENDING)
    ran = engine.approve(request.id, by="alice")
    assert ran.status is ExecutionStatus.SUCCEEDED, ran.reason
    assert ran.output.endswith("service cart-service restarted\n")
    notes = ports.annotator.notes["inc-0042"]
    assert len(notes) == 3 and "C0DEMO" in notes[0]["text"]
