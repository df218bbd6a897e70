from __future__ import annotations

from typing import Any

from react_kit import Received, Receiver, Reply, incident_trigger, make_engine
from react_payloads import block_kit_problems, slack_message_problems

from opscope.model.execution import ExecutionStatus


def slack_api(receiver: Receiver) -> None:
    """Answer like Slack's Web API: postMessage gives a new ts, update echoes it."""
    counter = {"n": 0}

    def answer(req: Received) -> Reply:
        body = req.json()
        if req.headers.get("authorization") != "Bearer xoxb-test":
            return (200, {"ok": False, "error": "invalid_auth"}, {})
        if req.path.endswith("chat.postMessage"):
            counter["n"] += 1
            return (
                200,
                {
                    "ok": True,
                    "channel": "C0TEST",
                    "ts": f"1714564800.{counter['n']:06d}",
                    "message": {"text": body.get("text")},
                },
                {},
            )
        if req.path.endswith("chat.update"):
            return (200, {"ok": True, "channel": body["channel"], "ts": body["ts"]}, {})
        return (404, {"ok": False, "error": "unknown_method"}, {})

    receiver.default = answer


def _rules(url: str, updates: str = "update", mode: str = "api") -> str:
    transport = (
        f'mode: api\n          api_url: "{url}/api"\n          token: xoxb-test\n'
        f"          channel: C0TEST\n          updates: {updates}"
    )
    if mode == "webhook":
        transport = f'mode: webhook\n          webhook_url: "{url}/services/T0/B0/XYZ"'
    return f"""
rules:
  - name: to-slack
    trigger: {{on: [incident.opened, incident.updated, incident.resolved]}}
    actions:
      - kind: slack
        with:
          {transport}
"""


def _methods(receiver: Receiver) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in receiver.requests]


def test_one_message_per_incident_updated_in_place(receiver: Receiver) -> None:
    slack_api(receiver)
    engine, _, _ = make_engine(_rules(receiver.url))
    first = engine.handle(incident_trigger())
    second = engine.handle(incident_trigger("incident.updated", version=2, status="mitigating"))
    third = engine.handle(incident_trigger("incident.resolved", version=3, status="resolved"))
    assert [e[0].status for e in (first, second, third)] == [ExecutionStatus.SUCCEEDED] * 3
    assert _methods(receiver) == ["chat.postMessage", "chat.update", "chat.update"]
    posted, updated, resolved = receiver.bodies()
    assert updated["ts"] == resolved["ts"] == first[0].result["ts"] == "1714564800.000001"
    assert updated["channel"] == "C0TEST"
    for method, body in zip(_methods(receiver), receiver.bodies(), strict=True):
        assert slack_message_problems(method, body) == []
    texts = " ".join(
        b["text"]["text"] for b in posted["blocks"] if "text" in b and b["type"] == "section"
    )
    assert "*Root cause:* cart-service — memory grew 4x" in texts
    assert "• cart-service memory 512 MiB -&gt; 2 GiB" in texts
    button = posted["blocks"][-1]["elements"][0]
    assert button["url"] == "http://opscope.test/incidents/inc-0042"
    fields = {f["text"] for f in posted["blocks"][1]["fields"]}
    assert "*Status*\nresolved" in {f["text"] for f in resolved["blocks"][1]["fields"]}
    assert "*Service*\ncheckout" in fields
    assert "*Since*\n2024-05-01 11:58:00 UTC" in fields
    # The token is used but never written to the audit log.
    assert "xoxb-test" not in str([e.model_dump() for e in (first + second + third)])


def test_threaded_updates_reply_under_the_first_message(receiver: Receiver) -> None:
    slack_api(receiver)
    engine, _, _ = make_engine(_rules(receiver.url, updates="thread"))
    engine.handle(incident_trigger())
    engine.handle(incident_trigger("incident.updated", version=2))
    engine.handle(incident_trigger("incident.updated", version=3))
    first, reply1, reply2 = receiver.bodies()
    assert "thread_ts" not in first
    assert reply1["thread_ts"] == reply2["thread_ts"] == "1714564800.000001"


def test_incoming_webhook_posts_blocks(receiver: Receiver) -> None:
    receiver.default = lambda _r: (200, b"ok", {})
    engine, _, _ = make_engine(_rules(receiver.url, mode="webhook"))
    engine.handle(incident_trigger())
    engine.handle(incident_trigger("incident.updated", version=2))
    assert [r.path for r in receiver.requests] == ["/services/T0/B0/XYZ"] * 2
    for body in receiver.bodies():
        assert slack_message_problems("webhook", body) == []
        assert "channel" not in body


def test_slack_errors_are_classified(receiver: Receiver) -> None:
    slack_api(receiver)
    receiver.replies = [
        (200, {"ok": False, "error": "ratelimited"}, {}),
        (200, {"ok": False, "error": "channel_not_found"}, {}),
    ]
    sleeps: list[float] = []
    engine, _, _ = make_engine(_rules(receiver.url), sleeps=sleeps)
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.FAILED
    assert execution.attempts == 2 and execution.result == {"error": "channel_not_found"}


def test_hostile_incident_text_stays_inside_block_kit_limits(receiver: Receiver) -> None:
    slack_api(receiver)
    engine, _, _ = make_engine(_rules(receiver.url))
    evidence: list[Any] = [{"summary": "<!channel> & <http://evil|click> " + "E" * 5000}] * 30
    trig = incident_trigger(
        title="{{ 7*7 }} " + "T" * 500,
        summary="S" * 10_000,
        evidence=evidence,
        labels={"team": "$(rm -rf /)"},
    )
    [execution] = engine.handle(trig)
    assert execution.status is ExecutionStatus.SUCCEEDED
    body = receiver.bodies()[0]
    assert block_kit_problems(body["blocks"]) == []
    header = body["blocks"][0]["text"]["text"]
    assert header.startswith("[CRITICAL] {{ 7*7 }} TTT") and len(header) == 150
    dump = str(body["blocks"])
    assert "<!channel>" not in dump and "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in dump
