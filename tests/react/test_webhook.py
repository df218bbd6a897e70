from __future__ import annotations

import json

from react_kit import Receiver, incident_trigger, make_engine

from opscope.model.execution import ExecutionStatus


def _rules(url: str, extra: str = "") -> str:
    return f"""
rules:
  - name: hook
    trigger: {{on: [incident.opened, incident.updated]}}
    policies: {{retry: {{attempts: 3, backoff: 1s, factor: 2}}}}
    actions:
      - kind: webhook
        with:
          url: "{url}/hook"
          headers: {{X-Team: "{{{{ incident.labels.team }}}}"}}
          body:
            title: "[{{{{ incident.severity }}}}] {{{{ incident.title }}}}"
            team: "{{{{ incident.labels.team }}}}"
            labels: "{{{{ incident.labels }}}}"
            static: 7
{extra}
"""


def test_body_headers_and_idempotency_key(receiver: Receiver) -> None:
    engine, _, _ = make_engine(_rules(receiver.url))
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.reason
    [req] = receiver.requests
    assert req.path == "/hook"
    assert req.json() == {
        "title": "[critical] checkout latency above SLO",
        "team": "payments",
        "labels": {"team": "payments", "env": "prod", "cause": "memory-leak"},
        "static": 7,
    }
    assert req.headers["x-team"] == "payments"
    assert req.headers["idempotency-key"] == execution.idempotency_key
    assert req.headers["content-type"] == "application/json"
    assert execution.result == {"status_code": 200}


HOSTILE_LABELS = {
    "team": "$(rm -rf /)",
    "cmd": "`reboot`; | cat /etc/passwd",
    "tpl": "{{ 7*7 }}",
    "block": "{% for i in range(99) %}{{ i }}{% endfor %}",
    "quote": '"}, "x": {"',
    "huge": "A" * 4096,
}


def test_hostile_labels_never_break_the_payload_nor_evaluate(receiver: Receiver) -> None:
    engine, _, _ = make_engine(_rules(receiver.url))
    trig = incident_trigger(labels=HOSTILE_LABELS, title="{{ 7*7 }} " + "B" * 60_000)
    [execution] = engine.handle(trig)
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.reason
    body = receiver.requests[0].json()
    assert body["labels"] == HOSTILE_LABELS
    assert body["team"] == "$(rm -rf /)"
    assert body["title"].startswith("[critical] {{ 7*7 }} BBB")
    assert "49" not in body["title"]


def test_header_injection_is_refused(receiver: Receiver) -> None:
    engine, _, _ = make_engine(_rules(receiver.url))
    [execution] = engine.handle(incident_trigger(labels={"team": "x\r\nX-Evil: 1"}))
    assert execution.status is ExecutionStatus.FAILED
    assert "line break" in execution.reason
    assert receiver.requests == []


def test_retries_with_exponential_backoff_then_succeeds(receiver: Receiver) -> None:
    sleeps: list[float] = []
    receiver.replies = [(503, {}, {}), (502, {}, {})]
    engine, _, _ = make_engine(_rules(receiver.url), sleeps=sleeps)
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.attempts == 3
    assert sleeps == [1.0, 2.0]
    assert len(receiver.requests) == 3
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1


def test_retry_after_is_honoured_and_4xx_is_permanent(receiver: Receiver) -> None:
    sleeps: list[float] = []
    receiver.replies = [(429, {}, {"Retry-After": "5"}), (400, {"error": "bad"}, {})]
    engine, ports, _ = make_engine(_rules(receiver.url), sleeps=sleeps)
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED
    assert execution.attempts == 2 and sleeps == [5.0]
    assert "HTTP 400" in execution.reason and execution.result == {"status_code": 400}
    assert json.loads(execution.output) == {"error": "bad"}
    # A failed delivery leaves no claim: the next version of the incident may go out.
    assert ports.notifications.get(execution.idempotency_key) is None


def test_unreachable_target_gives_up_after_attempts() -> None:
    sleeps: list[float] = []
    engine, _, _ = make_engine(_rules("http://127.0.0.1:9"), sleeps=sleeps)
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED
    assert execution.attempts == 3 and "gave up after retries" in execution.reason
