"""A restart during delivery: the engine is thrown away and rebuilt on the same state."""

from __future__ import annotations

from typing import Any

import pytest
from react_kit import Receiver, incident_trigger, make_engine

from opscope.model.execution import DeliveryState, ExecutionStatus
from opscope.react.actions.base import ActionContext, Outcome
from opscope.react.actions.webhook import WebhookAction
from opscope.react.engine import ReactPorts
from opscope.react.memory import MemoryAnnotator


class Crash(BaseException):
    """Stands for the process dying: not an error any layer may catch."""


def _rules(url: str) -> str:
    return f"""
rules:
  - name: notify
    trigger: {{on: [incident.opened, incident.updated, incident.resolved]}}
    actions:
      - kind: webhook
        with:
          url: "{url}/hook"
          body: {{id: "{{{{ incident.id }}}}", v: "{{{{ incident.version }}}}"}}
"""


def _stream() -> list[dict[str, Any]]:
    out = []
    for n in range(1, 6):
        out.append(incident_trigger(id=f"inc-{n}"))
        out.append(incident_trigger("incident.updated", id=f"inc-{n}", version=2))
    return out


def _sent(receiver: Receiver) -> list[tuple[str, int]]:
    return [(b["id"], b["v"]) for b in receiver.bodies()]


def test_restart_between_deliveries_sends_each_notification_once(receiver: Receiver) -> None:
    ports = ReactPorts.in_memory(MemoryAnnotator())
    stream = _stream()
    log = ports.notifications
    real_claim = log.claim
    calls = {"n": 0}

    def dying_claim(key: str, at: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 6:
            raise Crash  # the process dies as the 6th delivery begins
        return real_claim(key, at)

    log.claim = dying_claim
    first, _, _ = make_engine(_rules(receiver.url), ports=ports)
    with pytest.raises(Crash):
        for trig in stream:
            first.handle(trig)
    del first
    log.claim = real_claim
    # The bus redelivers everything that was not acknowledged: here, the whole stream.
    second, _, _ = make_engine(_rules(receiver.url), ports=ports)
    results = [e for trig in stream for e in second.handle(trig)]
    expected = [(f"inc-{n}", v) for n in range(1, 6) for v in (1, 2)]
    assert sorted(_sent(receiver)) == sorted(expected)  # each exactly once
    assert [e.status for e in results[:5]] == [ExecutionStatus.SUPPRESSED] * 5
    assert [e.status for e in results[5:]] == [ExecutionStatus.SUCCEEDED] * 5
    # And a third life, fed everything again, sends nothing at all.
    third, _, _ = make_engine(_rules(receiver.url), ports=ports)
    assert {e.status for trig in stream for e in third.handle(trig)} == {ExecutionStatus.SUPPRESSED}
    assert len(receiver.requests) == 10


def _crash_after_send(monkeypatch: pytest.MonkeyPatch, victim: str) -> Any:
    real = WebhookAction.deliver

    def dying(self: WebhookAction, inputs: dict[str, Any], ctx: ActionContext) -> Outcome:
        outcome = real(self, inputs, ctx)
        if inputs["body"]["id"] == victim:
            raise Crash  # dies after the target got it, before the log says SENT
        return outcome

    monkeypatch.setattr(WebhookAction, "deliver", dying)
    return real


@pytest.mark.parametrize("policy", ["skip", "resend"])
def test_restart_in_the_middle_of_a_delivery(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    ports = ReactPorts.in_memory(MemoryAnnotator())
    stream = _stream()[:4]
    real = _crash_after_send(monkeypatch, "inc-2")
    first, _, _ = make_engine(_rules(receiver.url), ports=ports, in_doubt=policy)
    with pytest.raises(Crash):
        for trig in stream:
            first.handle(trig)
    monkeypatch.setattr(WebhookAction, "deliver", real)
    in_flight = [e for e in ports.notifications.entries() if e.state is DeliveryState.SENDING]
    assert len(in_flight) == 1
    second, _, _ = make_engine(_rules(receiver.url), ports=ports, in_doubt=policy)
    results = [e for trig in stream for e in second.handle(trig)]
    sent = _sent(receiver)
    if policy == "skip":
        # Never twice: the interrupted one is recorded as in doubt for a person to check.
        assert sorted(sent) == [("inc-1", 1), ("inc-1", 2), ("inc-2", 1), ("inc-2", 2)]
        assert results[2].status is ExecutionStatus.IN_DOUBT
    else:
        # Never lost: sent again with the same idempotency key, so the receiver can drop it.
        assert sent.count(("inc-2", 1)) == 2
        keys = [
            r.headers["idempotency-key"]
            for r in receiver.requests
            if r.json()["id"] == "inc-2" and r.json()["v"] == 1
        ]
        assert len(set(keys)) == 1
        assert results[2].status is ExecutionStatus.SUCCEEDED
    assert [e.status for e in results[:2]] == [ExecutionStatus.SUPPRESSED] * 2
