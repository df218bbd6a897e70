"""Durable reaction ports in both stores: audit, approvals, notification log, action state."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from store_backends import AnyStore, Stores

from opscope.errors import ValidationFailed
from opscope.model.execution import (
    ApprovalRequest,
    ApprovalState,
    DeliveryState,
    Execution,
    ExecutionStatus,
)
from opscope.model.incident import ChangeKind, Incident, IncidentChange, IncidentStatus
from opscope.react import AuditQuery, ReactionEngine, ReactPorts, ReactSettings, rules_from_data
from opscope.react.memory import ManualClock
from opscope.sim.slack_receiver import SlackReceiver
from opscope.store.ports import ExecutionQuery

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def execution(n: int, rule: str = "r", status: ExecutionStatus = ExecutionStatus.SUCCEEDED,
              at: datetime = T0) -> Execution:
    return Execution(id=f"e{n}", rule=rule, action="a", action_kind="webhook",
                     trigger_kind="event", subject=f"s{n}", status=status, started_at=at,
                     finished_at=at, result={"n": n})


def test_audit_filters_and_pages_newest_first(store: AnyStore) -> None:
    audit = store.reactions.audit
    for n in range(5):
        audit.record(execution(n, rule="r" if n % 2 else "q",
                               at=T0 + timedelta(seconds=n)))
    audit.record(execution(9, status=ExecutionStatus.FAILED, at=T0))
    first = store.query_executions(ExecutionQuery(limit=2))
    assert [i["id"] for i in first.items] == ["e4", "e3"]
    second = store.query_executions(ExecutionQuery(limit=10, cursor=first.next_cursor))
    assert [i["id"] for i in second.items] == ["e2", "e1", "e9", "e0"]
    assert second.next_cursor is None
    assert [e.id for e in audit.query(AuditQuery(rule="q"))] == ["e4", "e2", "e0"]
    assert [e.id for e in audit.query(AuditQuery(status=ExecutionStatus.FAILED))] == ["e9"]
    assert [e.id for e in audit.query(AuditQuery(since=T0 + timedelta(seconds=3)))] == [
        "e4", "e3"]
    assert audit.get("e9") == execution(9, status=ExecutionStatus.FAILED)
    assert audit.get("nope") is None
    with pytest.raises(ValidationFailed):
        store.query_executions(ExecutionQuery(status="bogus"))


def test_notification_claim_is_insert_if_absent(store: AnyStore) -> None:
    log = store.reactions.notifications
    assert log.claim("k", T0) is None
    found = log.claim("k", T0 + timedelta(seconds=1))
    assert found is not None and found.state is DeliveryState.SENDING
    log.release("k")
    assert log.get("k") is None
    assert log.claim("k", T0) is None
    log.complete("k", T0 + timedelta(seconds=2), {"ts": "1.2"})
    log.release("k")  # a sent key is never released
    sent = log.get("k")
    assert sent is not None and sent.state is DeliveryState.SENT
    assert sent.claimed_at == T0 and sent.detail == {"ts": "1.2"}


def test_concurrent_claims_let_exactly_one_win(store: AnyStore) -> None:
    log = store.reactions.notifications
    wins: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        won = log.claim("same", T0) is None
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_approvals_and_action_state(store: AnyStore) -> None:
    tables = store.reactions
    request = ApprovalRequest(id="ap1", rule="r", action="a", requested_at=T0,
                              expires_at=T0 + timedelta(minutes=5))
    tables.approvals.put(request)
    tables.approvals.put(request.model_copy(update={"id": "ap2"}))
    tables.approvals.put(request.model_copy(update={"state": ApprovalState.APPROVED,
                                                    "decided_by": "alice"}))
    assert [r.id for r in tables.approvals.list(ApprovalState.PENDING)] == ["ap2"]
    got = tables.approvals.get("ap1")
    assert got is not None and got.decided_by == "alice"
    assert len(tables.approvals.list()) == 2
    assert tables.state.load("k") is None
    tables.state.save("k", {"ts": "1.1", "channel": "C1"})
    tables.state.save("k", {"ts": "1.2", "channel": "C1"})
    assert tables.state.load("k") == {"ts": "1.2", "channel": "C1"}


RULES: dict[str, Any] = {"version": 1, "rules": [{
    "name": "to-slack", "trigger": {"on": ["incident.opened", "incident.updated"]},
    "actions": [{"kind": "slack", "name": "chan",
                 "with": {"mode": "api", "api_url": "URL", "token": "xoxb-t",
                          "channel": "C1"}}]}]}


def _engine(store: AnyStore, url: str, policies: dict[str, Any] | None = None
            ) -> ReactionEngine:
    tables = store.reactions
    rules = rules_from_data({"version": 1, "rules": [
        {**RULES["rules"][0], "policies": policies or {},
         "actions": [{**RULES["rules"][0]["actions"][0], "with": {
             **RULES["rules"][0]["actions"][0]["with"], "api_url": url}}]}]})
    ports = ReactPorts(tables.audit, tables.approvals, tables.notifications, tables.state,
                       tables.annotator)
    return ReactionEngine(rules, ports, ReactSettings(), clock=ManualClock(T0),
                          sleep=lambda _s: None, approval_secret=b"s" * 32)


def _trigger(kind: str, version: int) -> dict[str, Any]:
    return {"kind": kind, "incident": {"id": "inc-7", "title": "db down", "version": version,
                                       "severity": "error", "updated_at": T0.isoformat()}}


def test_a_restart_sends_nothing_twice_and_keeps_the_audit(stores: Stores) -> None:
    with SlackReceiver() as slack:
        store = first_store = stores.open(durable=True)
        engine = _engine(store, slack.url)
        [first] = engine.handle(_trigger("incident.opened", 1))
        assert first.status is ExecutionStatus.SUCCEEDED
        engine.close()
        store.close()

        store = stores.reopen(first_store)  # the restarted server sees the same change again
        engine = _engine(store, slack.url)
        [again] = engine.handle(_trigger("incident.opened", 1))
        assert again.status is ExecutionStatus.SUPPRESSED
        [update] = engine.handle(_trigger("incident.updated", 2))
        assert update.status is ExecutionStatus.SUCCEEDED
        assert [m.method for m in slack.history] == ["chat.postMessage", "chat.update"]
        assert slack.history[1].ts == slack.history[0].ts  # the same message, edited
        kept = store.reactions.audit.query(AuditQuery(rule="to-slack"))
        assert [e.status for e in kept] == [ExecutionStatus.SUCCEEDED,
                                            ExecutionStatus.SUPPRESSED,
                                            ExecutionStatus.SUCCEEDED]
        assert store.reactions.audit.get(first.id) == first
        engine.close()
        store.close()


def test_a_restart_keeps_the_rate_limit_from_the_stored_audit(stores: Stores) -> None:
    limit = {"rate_limit": {"count": 1, "per": "1h"}}
    with SlackReceiver() as slack:
        store = first_store = stores.open(durable=True)
        engine = _engine(store, slack.url, limit)
        [first] = engine.handle(_trigger("incident.opened", 1))
        assert first.status is ExecutionStatus.SUCCEEDED
        engine.close()
        store.close()

        store = stores.reopen(first_store)
        engine = _engine(store, slack.url, limit)
        [update] = engine.handle(_trigger("incident.updated", 2))
        assert update.status is ExecutionStatus.SUPPRESSED
        assert update.reason.startswith("rate limit: 1 per")
        assert len(slack.history) == 1
        engine.close()
        store.close()


def test_annotations_appear_in_the_incident_view(store: AnyStore) -> None:
    incident = Incident(id="inc-1", status=IncidentStatus.OPEN, opened_at=T0, updated_at=T0)
    store.write_changes([IncidentChange(seq=1, kind=ChangeKind.OPENED, ts=T0,
                                        incident=incident)])
    note = store.reactions.annotator.annotate("inc-1", "posted to Slack", "opscope:r", T0)
    assert note.startswith("note-")
    row = store.get_incident("inc-1")
    assert row is not None
    assert row["actions"] == [{"ts": "2026-03-02T10:00:00Z", "action": "note",
                               "actor": "opscope:r",
                               "detail": {"id": note, "text": "posted to Slack"}}]
