from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from react_kit import Receiver, incident_trigger, make_engine

from opscope.errors import AuthError, NotFound, ValidationFailed
from opscope.model.execution import ApprovalState, ExecutionStatus
from opscope.react.ports import AuditQuery


def _hook_rules(url: str, policies: str = "{}", action_policies: str = "{}") -> str:
    return f"""
rules:
  - name: hook
    trigger: {{on: [incident.opened, incident.updated]}}
    policies: {policies}
    actions:
      - kind: webhook
        with: {{url: "{url}/hook", body: {{id: "{{{{ incident.id }}}}"}}}}
        policies: {action_policies}
"""


def _versions(engine: object, n: int, **changes: object) -> list[ExecutionStatus]:
    out = []
    for v in range(1, n + 1):
        [execution] = engine.handle(  # type: ignore[attr-defined]
            incident_trigger("incident.updated", version=v, **changes)
        )
        out.append(execution.status)
    return out


def test_dry_run_per_rule_renders_and_sends_nothing(receiver: Receiver) -> None:
    engine, ports, _ = make_engine(_hook_rules(receiver.url, "{dry_run: true}"))
    [execution] = engine.handle(incident_trigger())
    assert execution.status is ExecutionStatus.DRY_RUN and execution.dry_run
    assert execution.inputs["body"] == {"id": "inc-0042"}
    assert receiver.requests == []
    # A dry run claims nothing: switching it off later still delivers.
    assert ports.notifications.get(execution.idempotency_key) is None


def test_global_dry_run_wins_over_rules(receiver: Receiver) -> None:
    engine, _, _ = make_engine(_hook_rules(receiver.url, "{dry_run: false}"), dry_run=True)
    assert _versions(engine, 2) == [ExecutionStatus.DRY_RUN] * 2
    assert receiver.requests == []


def test_rate_limit_per_rule_in_event_time(receiver: Receiver) -> None:
    engine, _, clock = make_engine(_hook_rules(receiver.url, "{rate_limit: {count: 2, per: 1h}}"))
    S, R = ExecutionStatus.SUCCEEDED, ExecutionStatus.SUPPRESSED
    assert _versions(engine, 3) == [S, S, R]
    clock.advance(timedelta(minutes=61))
    [execution] = engine.handle(incident_trigger("incident.updated", version=9))
    assert execution.status is S
    assert len(receiver.requests) == 3


def test_entity_rate_limit_and_cooldown_are_per_entity(receiver: Receiver) -> None:
    engine, ports, clock = make_engine(_hook_rules(receiver.url, "{cooldown: 10m}"))
    S, R = ExecutionStatus.SUCCEEDED, ExecutionStatus.SUPPRESSED
    assert _versions(engine, 2) == [S, R]
    # Another service is not cooling down.
    [other] = engine.handle(incident_trigger(id="inc-7", service="search"))
    assert other.status is S
    clock.advance(timedelta(minutes=10))
    [later] = engine.handle(incident_trigger("incident.updated", version=5))
    assert later.status is S
    [suppressed] = ports.audit.query(AuditQuery(status=R))
    assert suppressed.reason.startswith("cooldown: 600s left for checkout")


def test_concurrency_limit(receiver: Receiver) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow(_req: object) -> tuple[int, object, dict[str, str]]:
        entered.set()
        release.wait(5)
        return (200, {}, {})

    receiver.default = slow
    engine, _, _ = make_engine(_hook_rules(receiver.url, "{concurrency: 1}"))
    results: list[ExecutionStatus] = []
    worker = threading.Thread(
        target=lambda: results.extend(e.status for e in engine.handle(incident_trigger()))
    )
    worker.start()
    assert entered.wait(5)
    [blocked] = engine.handle(incident_trigger("incident.updated", version=2))
    release.set()
    worker.join(5)
    assert blocked.status is ExecutionStatus.SUPPRESSED and "concurrency" in blocked.reason
    assert results == [ExecutionStatus.SUCCEEDED]
    [after] = engine.handle(incident_trigger("incident.updated", version=3))
    assert after.status is ExecutionStatus.SUCCEEDED


def test_circuit_breaker_opens_then_half_opens(receiver: Receiver) -> None:
    receiver.default = lambda _r: (500, {}, {})
    engine, _, clock = make_engine(
        _hook_rules(receiver.url, "{retry: {attempts: 1}}"),
        circuit={"failures": 2, "open_for": "1m"},
    )
    F, R = ExecutionStatus.FAILED, ExecutionStatus.SUPPRESSED
    assert _versions(engine, 4) == [F, F, R, R]
    assert len(receiver.requests) == 2
    clock.advance(timedelta(seconds=61))
    receiver.default = lambda _r: (200, {}, {})
    [trial] = engine.handle(incident_trigger("incident.updated", version=10))
    [closed] = engine.handle(incident_trigger("incident.updated", version=11))
    assert trial.status is closed.status is ExecutionStatus.SUCCEEDED


def test_approval_by_api_call(receiver: Receiver) -> None:
    engine, ports, clock = make_engine(
        _hook_rules(receiver.url, action_policies="{approval: {ttl: 30m, approvers: [alice]}}")
    )
    [held] = engine.handle(incident_trigger())
    assert held.status is ExecutionStatus.PENDING_APPROVAL and receiver.requests == []
    [request] = ports.approvals.list(ApprovalState.PENDING)
    assert request.id == held.approval_id and request.inputs["body"] == {"id": "inc-0042"}
    # The same trigger again does not ask twice.
    [again] = engine.handle(incident_trigger())
    assert again.status is ExecutionStatus.SUPPRESSED and "already requested" in again.reason
    with pytest.raises(AuthError):
        engine.approve(request.id, by="mallory")
    clock.advance(timedelta(minutes=5))
    done = engine.approve(request.id, by="alice")
    assert done.status is ExecutionStatus.SUCCEEDED and done.approved_by == "alice"
    assert len(receiver.requests) == 1
    assert ports.approvals.get(request.id).state is ApprovalState.APPROVED
    with pytest.raises(ValidationFailed, match="already approved"):
        engine.approve(request.id, by="alice")
    with pytest.raises(NotFound):
        engine.approve("apr-nope", by="alice")


def test_approval_by_signed_link_reject_and_expiry(receiver: Receiver) -> None:
    engine, ports, clock = make_engine(_hook_rules(receiver.url, "{approval: {ttl: 30m}}"))
    [first] = engine.handle(incident_trigger())
    token = engine.approval_token(first.approval_id, "approve")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthError, match="signature"):
        engine.decide_by_token(forged)
    assert engine.decide_by_token(token).status is ExecutionStatus.SUCCEEDED

    [second] = engine.handle(incident_trigger("incident.updated", version=2))
    rejected = engine.decide_by_token(engine.approval_token(second.approval_id, "reject", "bob"))
    assert rejected.status is ExecutionStatus.REJECTED and rejected.approved_by == "bob"

    [third] = engine.handle(incident_trigger("incident.updated", version=3))
    late_token = engine.approval_token(third.approval_id)
    clock.advance(timedelta(minutes=31))
    with pytest.raises(AuthError, match="expired"):
        engine.decide_by_token(late_token)
    [expired] = engine.tick()
    assert expired.status is ExecutionStatus.EXPIRED and expired.approval_id == third.approval_id
    assert len(receiver.requests) == 1
    statuses = [e.status for e in ports.audit.query(AuditQuery(rule="hook"))]
    assert statuses == [
        ExecutionStatus.EXPIRED,
        ExecutionStatus.PENDING_APPROVAL,
        ExecutionStatus.REJECTED,
        ExecutionStatus.PENDING_APPROVAL,
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.PENDING_APPROVAL,
    ]


def test_audit_is_queryable_by_rule_action_status_and_time(receiver: Receiver) -> None:
    engine, ports, clock = make_engine(_hook_rules(receiver.url, "{cooldown: 1h}"))
    start = clock.now()
    engine.handle(incident_trigger())
    clock.advance(timedelta(minutes=1))
    engine.handle(incident_trigger("incident.updated", version=2))
    audit = ports.audit
    assert len(audit.query(AuditQuery(rule="hook", action="webhook"))) == 2
    assert audit.query(AuditQuery(rule="other")) == []
    [ok] = audit.query(AuditQuery(status=ExecutionStatus.SUCCEEDED))
    assert ok.trigger_kind == "incident.opened" and ok.subject == "inc-0042"
    assert ok.inputs["url"].endswith("/hook") and ok.duration_ms > 0
    assert audit.get(ok.id) == ok
    [late] = audit.query(AuditQuery(since=start + timedelta(seconds=30)))
    assert late.status is ExecutionStatus.SUPPRESSED
    assert len(audit.query(AuditQuery(limit=1))) == 1


def test_annotate_writes_to_the_incident_timeline() -> None:
    engine, ports, _ = make_engine("""
rules:
  - name: note
    trigger: {on: [incident.opened, event]}
    actions: [{kind: annotate, with: {text: "seen by {{ rule }}: {{ incident.title }}"}}]
""")
    [execution] = engine.handle(incident_trigger())
    assert execution.result == {"note_id": "inc-0042-note-1"}
    notes = ports.annotator.notes
    assert notes["inc-0042"][0]["text"] == "seen by note: checkout latency above SLO"
    assert notes["inc-0042"][0]["author"] == "opscope:note"
    [not_incident] = engine.handle(
        {
            "kind": "event",
            "event": {"source": "am", "fingerprint": "f", "starts_at": "2024-05-01T12:00:00Z"},
        }
    )
    assert not_incident.status is ExecutionStatus.FAILED


def test_schedule_rules_fire_on_aligned_slots(receiver: Receiver) -> None:
    engine, _, clock = make_engine(f"""
rules:
  - name: hourly
    trigger: {{on: schedule, every: 1h}}
    actions:
      - kind: webhook
        with: {{url: "{receiver.url}/s", body: {{at: "{{{{ schedule.at }}}}"}}}}
""")
    assert [e.status for e in engine.tick()] == [ExecutionStatus.SUCCEEDED]
    clock.advance(timedelta(minutes=30))
    assert engine.tick() == []
    clock.advance(timedelta(minutes=31))
    assert len(engine.tick()) == 1
    assert [b["at"] for b in receiver.bodies()] == [
        "2024-05-01T12:00:00+00:00",
        "2024-05-01T13:00:00+00:00",
    ]


def test_signed_link_names_its_approver(receiver: Receiver) -> None:
    engine, _, _ = make_engine(
        _hook_rules(receiver.url, "{approval: {ttl: 30m, approvers: [alice]}}")
    )
    [held] = engine.handle(incident_trigger())
    with pytest.raises(AuthError):
        engine.decide_by_token(engine.approval_token(held.approval_id))  # names nobody
    with pytest.raises(AuthError):
        engine.decide_by_token(engine.approval_token(held.approval_id, approver="mallory"))
    done = engine.decide_by_token(engine.approval_token(held.approval_id, approver="alice"))
    assert done.status is ExecutionStatus.SUCCEEDED and done.approved_by == "alice"


def test_permanent_failures_do_not_open_the_circuit(receiver: Receiver) -> None:
    receiver.default = lambda _r: (400, {}, {})
    engine, _, _ = make_engine(_hook_rules(receiver.url), circuit={"failures": 1, "open_for": "1h"})
    assert _versions(engine, 3) == [ExecutionStatus.FAILED] * 3
    assert len(receiver.requests) == 3


def test_audit_records_stay_bounded(receiver: Receiver) -> None:
    engine, _, _ = make_engine(_hook_rules(receiver.url), max_trigger_bytes=2048)
    [execution] = engine.handle(incident_trigger(title="T" * 10_000))
    assert execution.status is ExecutionStatus.SUCCEEDED
    assert execution.trigger["truncated"] is True and execution.trigger["bytes"] > 10_000
    assert execution.inputs == {
        "url": f"{receiver.url}/hook",
        "headers": execution.inputs["headers"],
        "body": {"id": "inc-0042"},
    }


def test_rate_limit_and_cooldown_outlive_a_restart(receiver: Receiver) -> None:
    rules = _hook_rules(
        receiver.url,
        "{rate_limit: {count: 2, per: 1h}, entity_rate_limit: {count: 5, per: 1h}, cooldown: 5m}",
    )
    S, R = ExecutionStatus.SUCCEEDED, ExecutionStatus.SUPPRESSED
    first, ports, clock = make_engine(rules)
    [one] = first.handle(incident_trigger(id="inc-1", service="search"))
    clock.advance(timedelta(minutes=6))
    [two] = first.handle(incident_trigger(id="inc-2", service="cart"))
    assert (one.status, two.status) == (S, S)
    # A new engine on the same stored audit: the hour's two deliveries are remembered,
    # and cart (delivered a minute ago) is still cooling down.
    clock.advance(timedelta(minutes=1))
    second, _, _ = make_engine(rules, ports=ports, clock=clock)
    [limited] = second.handle(incident_trigger(id="inc-3", service="user"))
    assert limited.status is R and limited.reason.startswith("rate limit: 2 per 1:00:00")
    clock.advance(timedelta(minutes=54))  # the first delivery leaves the window
    third, _, _ = make_engine(rules, ports=ports, clock=clock)
    assert third.restore_limits() == 1  # rebuilt, not added to: only inc-2's delivery is left
    [after] = third.handle(incident_trigger(id="inc-4", service="user"))
    assert after.status is S


def test_cooldown_is_restored_from_the_audit(receiver: Receiver) -> None:
    rules = _hook_rules(receiver.url, "{cooldown: 10m}")
    first, ports, clock = make_engine(rules)
    assert _versions(first, 1) == [ExecutionStatus.SUCCEEDED]
    clock.advance(timedelta(minutes=3))
    second, _, _ = make_engine(rules, ports=ports, clock=clock)
    [held] = second.handle(incident_trigger("incident.updated", version=2))
    assert held.status is ExecutionStatus.SUPPRESSED
    assert held.reason == "cooldown: 420s left for checkout"
