from __future__ import annotations

from react_kit import Received, Receiver, Reply, incident_trigger, make_engine
from react_payloads import pagerduty_problems

from opscope.model.execution import ExecutionStatus

KEY = "0123456789abcdef0123456789abcdef"


def pagerduty(receiver: Receiver) -> None:
    def answer(req: Received) -> Reply:
        body = req.json()
        problems = pagerduty_problems(body)
        if problems:  # PagerDuty answers 400 with the errors it found
            return (
                400,
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": problems,
                },
                {},
            )
        return (
            202,
            {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]},
            {},
        )

    receiver.default = answer


def _rules(url: str) -> str:
    return f"""
rules:
  - name: page
    trigger: {{on: [incident.opened, incident.updated, incident.resolved]}}
    actions:
      - kind: pagerduty
        with:
          events_url: "{url}/v2/enqueue"
          routing_key: {KEY}
          component: "{{{{ incident.root_cause.entity }}}}"
          group: "{{{{ incident.labels.team }}}}"
"""


def test_trigger_then_resolve_share_the_dedup_key(receiver: Receiver) -> None:
    pagerduty(receiver)
    engine, _, _ = make_engine(_rules(receiver.url))
    [opened] = engine.handle(incident_trigger())
    [acked] = engine.handle(incident_trigger("incident.updated", version=2, status="acknowledged"))
    assert acked.result["event_action"] == "acknowledge"
    [resolved] = engine.handle(incident_trigger("incident.resolved", version=4, status="resolved"))
    assert opened.status is resolved.status is ExecutionStatus.SUCCEEDED
    trigger_body, ack_body, resolve_body = receiver.bodies("/v2/enqueue")
    assert pagerduty_problems(ack_body) == [] and ack_body["event_action"] == "acknowledge"
    assert pagerduty_problems(trigger_body) == [] and pagerduty_problems(resolve_body) == []
    assert trigger_body["event_action"] == "trigger"
    assert resolve_body["event_action"] == "resolve" and "payload" not in resolve_body
    assert trigger_body["dedup_key"] == resolve_body["dedup_key"] == "opscope-inc-0042"
    payload = trigger_body["payload"]
    assert payload["summary"] == "checkout latency above SLO"
    assert payload["severity"] == "critical" and payload["source"] == "checkout"
    assert payload["component"] == "cart-service" and payload["group"] == "payments"
    assert payload["custom_details"]["root_cause"]["entity"] == "cart-service"
    assert trigger_body["links"] == [
        {"href": "http://opscope.test/incidents/inc-0042", "text": "Open in opscope"}
    ]
    assert opened.result["dedup_key"] == "opscope-inc-0042"
    # The routing key is sent, but the audit record only shows it redacted.
    assert trigger_body["routing_key"] == KEY
    assert KEY not in str(opened.model_dump())


def test_summary_is_cut_and_odd_severity_folded(receiver: Receiver) -> None:
    pagerduty(receiver)
    engine, _, _ = make_engine(_rules(receiver.url))
    [execution] = engine.handle(incident_trigger(title="x" * 5000, severity="P2"))
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.output
    body = receiver.bodies()[0]
    assert len(body["payload"]["summary"]) == 1024
    assert body["payload"]["severity"] == "error"


def test_missing_routing_key_is_a_permanent_failure(receiver: Receiver) -> None:
    engine, _, _ = make_engine(
        _rules(receiver.url).replace(f"routing_key: {KEY}", "routing_key_env: OPSCOPE_NO_SUCH")
    )
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED and "routing key" in execution.reason
    assert receiver.requests == []
